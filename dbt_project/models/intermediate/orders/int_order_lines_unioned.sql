-- One row per order line of both channels as of run_date, keyed like fct_orders (order_id, line_no):
-- POS receipt lines (returned lines have negative quantity) and the lines of each web shop order's
-- winning version. line_net_amount = quantity * unit_price - discount for bought lines and
-- quantity * unit_price + discount (negative) for returned lines, so it sums to fct_orders.net_amount
-- for completed orders. A view, like int_pos_transactions_deduplicated: its consumers aggregate it
-- in one pass and writing ~10M lines as a table would cost more than the aggregation.
{{ config(materialized='view') }}
with

pos_lines as (

    select * from {{ ref('int_pos_transactions_deduplicated') }}

),

web_lines as (

    select * from {{ ref('int_ecommerce_order_lines_deduplicated') }}

),

pos_order_lines as (

    select
        {{ pos_order_id() }} as order_id,
        'pos' as channel,
        line_no,
        sku,
        category,
        quantity,
        unit_price,
        discount_amount
    from pos_lines

),

web_order_lines as (

    select
        {{ dbt.concat(["'ecommerce:'", "order_id"]) }} as order_id,
        'ecommerce' as channel,
        line_no,
        sku,
        category,
        quantity,
        unit_price,
        discount_amount
    from web_lines

),

unioned as (

    select * from pos_order_lines
    union all
    select * from web_order_lines

),

final as (

    select
        order_id,
        channel,
        line_no,
        sku,
        category,
        quantity,
        unit_price,
        discount_amount,
        cast(
            case
                when quantity > 0 then quantity * unit_price - discount_amount
                else quantity * unit_price + discount_amount
            end as decimal(18, 2)
        ) as line_net_amount
    from unioned

)

select * from final
