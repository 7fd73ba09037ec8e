with

source as (

    select * from {{ source('ecommerce', 'customers') }}
    where load_date <= {{ run_date_literal() }}

),

cleaned as (

    select
        trim(customer_id) as customer_id,
        {{ normalize_email('email') }} as email_normalized,
        {{ clean_text('first_name') }} as first_name,
        {{ clean_text('last_name') }} as last_name,
        phone_e164,  -- landed by ingest (libphonenumber, the market's region)
        cast(birthday as date) as birth_date,
        {{ normalize_gender('gender') }} as gender,
        {{ clean_text('address_line1') }} as address_line,
        {{ clean_text('address_city') }} as city,
        upper({{ clean_text('address_postcode') }}) as postcode,
        upper(trim(address_country)) as country_code,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        cast(consent_email as boolean) as email_opt_in,
        cast(consent_sms as boolean) as sms_opt_in,
        cast(load_date as date) as load_date,
        _source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as _source_line,
        _flags
    from source

),

renamed as (

    select
        customer_id,
        email_normalized,
        {{ proper_case_name('first_name') }} as first_name,
        {{ proper_case_name('last_name') }} as last_name,
        phone_e164,
        birth_date,
        gender,
        address_line,
        {{ proper_case_name('city') }} as city,
        postcode,
        country_code,
        created_at,
        updated_at,
        email_opt_in,
        sms_opt_in,
        load_date,
        _source_file,
        _source_line,
        _flags
    from cleaned

)

select * from renamed
