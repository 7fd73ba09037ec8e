with

source as (

    select * from {{ source('pos', 'points_entries') }}
    where load_date <= {{ run_date_literal() }}

),

renamed as (

    select
        trim(entry_id) as entry_id,
        trim(loyalty_card_no) as loyalty_card_no,
        lower(trim(entry_type)) as entry_type,
        cast(points as {{ dbt.type_int() }}) as points,
        -- Signed: what the entry does to the balance (earn adds, the others take away).
        cast(case when lower(trim(entry_type)) = 'earn' then points else -points end as {{ dbt.type_int() }})
            as points_delta,
        cast(entry_time as {{ dbt.type_timestamp() }}) as booked_at,
        {{ nullif_blank('receipt_id') }} as receipt_id,
        {{ nullif_blank('store_id') }} as store_id,
        cast(expires_on as date) as expires_on,
        cast(load_date as date) as load_date,
        _source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as _source_line,
        _flags
    from source

)

select * from renamed
