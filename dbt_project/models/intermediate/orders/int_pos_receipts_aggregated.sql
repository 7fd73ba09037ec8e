-- One row per POS receipt (store_id, receipt_date, receipt_id) with its amounts. Returned lines (negative quantity)
-- are valued at quantity * unit_price minus the line discount, as a positive return amount.
with

lines as (

    select * from {{ ref('int_pos_transactions_deduplicated') }}

),

final as (

    select
        store_id,
        receipt_date,
        receipt_id,
        max(loyalty_card_no) as loyalty_card_no,
        min(transacted_at) as transacted_at,
        max(currency) as currency,
        sum(abs(quantity)) as item_count,
        sum(case when quantity > 0 then 1 else 0 end) as purchase_line_count,
        sum(case when quantity < 0 then 1 else 0 end) as return_line_count,
        sum(case when discount_amount > 0 then 1 else 0 end) as discounted_line_count,
        cast(
            sum(case when quantity > 0 then quantity * unit_price else 0 end) as decimal(18, 2)
        ) as gross_amount,
        cast(
            sum(case when quantity > 0 then discount_amount else 0 end) as decimal(18, 2)
        ) as discount_amount,
        cast(
            sum(case when quantity < 0 then -quantity * unit_price - discount_amount else 0 end)
            as decimal(18, 2)
        ) as return_amount
    from lines
    group by store_id, receipt_date, receipt_id

)

select * from final
