with

source as (

    select * from {{ source('messaging', 'sms_receipts') }}
    where load_date <= {{ run_date_literal() }}

),

renamed as (

    select
        trim(message_sid) as message_sid,
        trim(campaign_id) as campaign_id,
        to_phone_e164 as phone_e164,  -- landed by ingest (E.164 in the market's region)
        lower(trim(message_status)) as message_status,
        {{ nullif_blank('error_code') }} as error_code,
        cast(event_time as {{ dbt.type_timestamp() }}) as event_at,
        cast(load_date as date) as load_date,
        _source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as _source_line,
        _flags
    from source

)

select * from renamed
