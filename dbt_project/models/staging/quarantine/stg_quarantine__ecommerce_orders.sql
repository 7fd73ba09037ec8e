-- Quarantined ecommerce orders rows up to run_date: when and why, never the raw text.
with

source as (

    select * from {{ source('quarantine', 'ecommerce_orders') }}
    where load_date <= {{ run_date_literal() }}

),

renamed as (

    select
        'ecommerce' as source_name,
        'orders' as entity,
        cast(load_date as date) as load_date,
        _reason as reason,
        _source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as _source_line
    from source

)

select * from renamed
