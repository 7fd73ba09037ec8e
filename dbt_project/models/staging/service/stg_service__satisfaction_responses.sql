with

source as (

    select * from {{ source('service', 'satisfaction_responses') }}
    where load_date <= {{ run_date_literal() }}

),

renamed as (

    select
        trim(response_id) as response_id,
        {{ nullif_blank('ticket_id') }} as ticket_id,
        cast(csat_score as {{ dbt.type_int() }}) as csat_score,
        cast(recommend_score as {{ dbt.type_int() }}) as recommend_score,
        cast(responded_at as {{ dbt.type_timestamp() }}) as responded_at,
        {{ nullif_blank('loyalty_card_no') }} as loyalty_card_no,
        {{ nullif_blank('web_customer_id') }} as web_customer_id,
        {{ normalize_email('email') }} as email_normalized,
        {{ clean_text('comment') }} as comment_text,
        cast(load_date as date) as load_date,
        _source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as _source_line,
        _flags
    from source

)

select * from renamed
