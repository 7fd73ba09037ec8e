with

source as (

    select * from {{ source('pos', 'transactions') }}
    where load_date <= {{ run_date_literal() }}

),

renamed as (

    select
        trim(receipt_id) as receipt_id,
        cast(line_no as {{ dbt.type_int() }}) as line_no,
        trim(store_id) as store_id,
        cast(tx_time as {{ dbt.type_timestamp() }}) as transacted_at,
        -- The store's business day: receipt numbers are unique per store and day (the contract), so a
        -- till that numbers receipts from 0001 every morning needs the day in every receipt key.
        cast({{ local_timestamp(dbt.cast('tx_time', dbt.type_timestamp()), var('market_timezone')) }} as date)
            as receipt_date,
        {{ nullif_blank('loyalty_card_no') }} as loyalty_card_no,
        trim(sku) as sku,
        {{ clean_text('category') }} as category,
        cast(quantity as {{ dbt.type_int() }}) as quantity,
        cast(unit_price as decimal(18, 2)) as unit_price,
        cast(coalesce(discount, 0) as decimal(18, 2)) as discount_amount,
        upper(trim(currency)) as currency,
        lower(trim(payment_method)) as payment_method,
        cast(load_date as date) as load_date,
        _source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as _source_line,
        _flags
    from source

)

select * from renamed
