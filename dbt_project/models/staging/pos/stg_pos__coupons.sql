with

source as (

    select * from {{ source('pos', 'coupons') }}
    where load_date <= {{ run_date_literal() }}

),

renamed as (

    select
        trim(coupon_code) as coupon_code,
        {{ nullif_blank('campaign_id') }} as campaign_id,
        {{ nullif_blank('loyalty_card_no') }} as loyalty_card_no,
        cast(coupon_value as decimal(18, 2)) as coupon_value,
        cast(issued_at as {{ dbt.type_timestamp() }}) as issued_at,
        cast(valid_until as date) as valid_until,
        cast(redeemed_at as {{ dbt.type_timestamp() }}) as redeemed_at,
        {{ nullif_blank('redeemed_receipt_id') }} as redeemed_receipt_id,
        {{ nullif_blank('redeemed_store_id') }} as redeemed_store_id,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        cast(load_date as date) as load_date,
        _source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as _source_line,
        _flags
    from source

)

select * from renamed
