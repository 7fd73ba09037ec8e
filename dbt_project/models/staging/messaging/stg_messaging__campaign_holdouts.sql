with

source as (

    select * from {{ source('messaging', 'campaign_holdouts') }}
    where load_date <= {{ run_date_literal() }}

),

renamed as (

    select
        trim(campaign_id) as campaign_id,
        lower(trim(channel)) as channel,
        case when lower(trim(channel)) = 'email' then {{ normalize_email('address') }} end as email_normalized,
        case when lower(trim(channel)) = 'sms' then address_e164 end as phone_e164,  -- landed by ingest
        cast(held_out_at as {{ dbt.type_timestamp() }}) as held_out_at,
        cast(load_date as date) as load_date,
        _source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as _source_line,
        _flags
    from source

)

select * from renamed
