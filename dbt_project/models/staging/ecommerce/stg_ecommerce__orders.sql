with

source as (

    select * from {{ source('ecommerce', 'orders') }}
    where load_date <= {{ run_date_literal() }}

),

cleaned as (

    select
        trim(order_id) as order_id,
        {{ nullif_blank('customer_id') }} as customer_id,
        {{ normalize_email('guest_email') }} as guest_email_normalized,
        {{ clean_text('billing_first_name') }} as billing_first_name,
        {{ clean_text('billing_last_name') }} as billing_last_name,
        billing_phone_e164,  -- landed by ingest (libphonenumber, the market's region)
        {{ clean_text('billing_address') }} as billing_address_line,
        {{ clean_text('billing_city') }} as billing_city,
        upper({{ clean_text('billing_postcode') }}) as billing_postcode,
        cast(placed_at as {{ dbt.type_timestamp() }}) as placed_at,
        cast(coalesce(updated_at, placed_at) as {{ dbt.type_timestamp() }}) as updated_at,
        lower(trim(status)) as status,
        upper(trim(currency)) as currency,
        {{ nullif_blank('discount_code') }} as discount_code,
        cast(load_date as date) as load_date,
        _source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as _source_line,
        _flags
    from source

),

renamed as (

    select
        order_id,
        customer_id,
        guest_email_normalized,
        {{ proper_case_name('billing_first_name') }} as billing_first_name,
        {{ proper_case_name('billing_last_name') }} as billing_last_name,
        billing_phone_e164,
        billing_address_line,
        {{ proper_case_name('billing_city') }} as billing_city,
        billing_postcode,
        placed_at,
        updated_at,
        status,
        currency,
        discount_code,
        load_date,
        _source_file,
        _source_line,
        _flags
    from cleaned

)

select * from renamed
