with

source as (

    select * from {{ source('service', 'tickets') }}
    where load_date <= {{ run_date_literal() }}

),

renamed as (

    select
        trim(ticket_id) as ticket_id,
        lower(trim(ticket_type)) as ticket_type,
        lower(trim(channel)) as channel,
        lower({{ clean_text('category') }}) as category,
        lower(trim(status)) as status,
        lower(trim(resolution)) as resolution,
        cast(opened_at as {{ dbt.type_timestamp() }}) as opened_at,
        cast(closed_at as {{ dbt.type_timestamp() }}) as closed_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        {{ nullif_blank('loyalty_card_no') }} as loyalty_card_no,
        {{ nullif_blank('web_customer_id') }} as web_customer_id,
        {{ normalize_email('email') }} as email_normalized,
        {{ clean_text('subject') }} as subject,
        cast(load_date as date) as load_date,
        _source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as _source_line,
        _flags
    from source

)

select * from renamed
