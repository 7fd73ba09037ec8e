with

source as (

    select * from {{ source('social', 'profiles') }}
    where load_date <= {{ run_date_literal() }}

),

cleaned as (

    select
        lower(trim(platform)) as platform,
        lower({{ regexp_replace_all('trim(user_handle)', '^@+', '') }}) as user_handle,
        {{ clean_text('display_name') }} as display_name,
        {{ normalize_email('email') }} as email_normalized,
        phone_e164,  -- landed by ingest (libphonenumber, the market's region)
        {{ clean_text('city') }} as city,
        cast(followed_at as {{ dbt.type_timestamp() }}) as followed_at,
        cast(load_date as date) as load_date,
        _source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as _source_line,
        _flags
    from source

),

renamed as (

    select
        platform,
        user_handle,
        {{ proper_case_name('display_name') }} as display_name,
        email_normalized,
        phone_e164,
        {{ proper_case_name('city') }} as city,
        followed_at,
        load_date,
        _source_file,
        _source_line,
        _flags
    from cleaned

)

select * from renamed
