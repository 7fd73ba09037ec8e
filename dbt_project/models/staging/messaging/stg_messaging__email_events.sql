with

source as (

    select * from {{ source('messaging', 'email_activity') }}
    where load_date <= {{ run_date_literal() }}

),

renamed as (

    select
        trim(campaign_id) as campaign_id,
        {{ normalize_email('email_address') }} as email_normalized,
        lower(trim(action)) as event_type,
        lower(trim(bounce_type)) as bounce_type,
        cast(event_time as {{ dbt.type_timestamp() }}) as event_at,
        url,
        cast(load_date as date) as load_date,
        _source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as _source_line,
        _flags
    from source

)

select * from renamed
