with

source as (

    select * from {{ source('ecommerce', 'order_lines') }}
    where load_date <= {{ run_date_literal() }}

),

renamed as (

    select
        trim(order_id) as order_id,
        cast(line_no as {{ dbt.type_int() }}) as line_no,
        trim(sku) as sku,
        {{ clean_text('category') }} as category,
        cast(qty as {{ dbt.type_int() }}) as quantity,
        cast(unit_price as decimal(18, 2)) as unit_price,
        cast(coalesce(discount, 0) as decimal(18, 2)) as discount_amount,
        cast(load_date as date) as load_date,
        _source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as _source_line,
        _flags
    from source

)

select * from renamed
