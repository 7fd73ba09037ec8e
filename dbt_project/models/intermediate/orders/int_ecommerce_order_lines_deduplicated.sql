-- The lines of each order's winning version: order lines land with every resend of their order and
-- carry the order's landing position (load_date, _source_file, _source_line), which picks the version.
with

orders as (

    select * from {{ ref('int_ecommerce_orders_deduplicated') }}

),

order_lines as (

    select * from {{ ref('stg_ecommerce__order_lines') }}

),

final as (

    select
        order_lines.order_id,
        order_lines.line_no,
        order_lines.sku,
        order_lines.category,
        order_lines.quantity,
        order_lines.unit_price,
        order_lines.discount_amount,
        order_lines.load_date,
        order_lines._source_file,
        order_lines._source_line
    from order_lines
    inner join orders
        on
            order_lines.order_id = orders.order_id
            and order_lines.load_date = orders.load_date
            and order_lines._source_file = orders._source_file
            and order_lines._source_line = orders._source_line

)

select * from final
