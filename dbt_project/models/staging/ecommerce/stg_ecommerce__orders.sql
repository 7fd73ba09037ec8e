with

source as (

    select * from {{ source('ecommerce', 'orders') }}
    where load_date <= {{ run_date_literal() }}

),

renamed as (

    select
        trim(order_id) as order_id,
        {{ nullif_blank('customer_id') }} as customer_id,
        {{ normalize_email('guest_email') }} as guest_email_normalized,
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

)

select * from renamed
