with

source as (

    select * from {{ source('pos', 'loyalty_members') }}
    where load_date <= {{ run_date_literal() }}

),

cleaned as (

    select
        trim(loyalty_card_no) as loyalty_card_no,
        {{ clean_text('first_name') }} as first_name,
        {{ clean_text('last_name') }} as last_name,
        {{ normalize_gender('gender') }} as gender,
        cast(birth_date as date) as birth_date,
        {{ normalize_email('email') }} as email_normalized,
        phone_e164,  -- landed by ingest (libphonenumber, the market's region)
        upper({{ clean_text('postcode') }}) as postcode,
        {{ clean_text('city') }} as city,
        {{ clean_text('address') }} as address_line,
        trim(home_store_id) as home_store_id,
        cast(enrolled_at as {{ dbt.type_timestamp() }}) as enrolled_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        cast(email_opt_in as boolean) as email_opt_in,
        cast(sms_opt_in as boolean) as sms_opt_in,
        cast(load_date as date) as load_date,
        _source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as _source_line,
        _flags
    from source

),

renamed as (

    select
        loyalty_card_no,
        {{ proper_case_name('first_name') }} as first_name,
        {{ proper_case_name('last_name') }} as last_name,
        gender,
        birth_date,
        email_normalized,
        phone_e164,
        postcode,
        {{ proper_case_name('city') }} as city,
        address_line,
        home_store_id,
        enrolled_at,
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
