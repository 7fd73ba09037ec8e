-- One row per order (POS receipt or web shop order) placed before run_date + 1 day (UTC).
with

receipts as (

    select * from {{ ref('int_pos_receipts_aggregated') }}

),

web_orders as (

    select * from {{ ref('int_ecommerce_orders_deduplicated') }}

),

web_order_lines as (

    select * from {{ ref('int_ecommerce_order_lines_deduplicated') }}

),

resolved as (

    select * from {{ ref('int_identity_records_resolved') }}

),

pos_orders as (

    select
        {{ pos_order_id() }} as order_id,
        'pos' as channel,
        receipt_id as source_order_id,
        case
            when loyalty_card_no is not null
                then {{ dbt.concat(["'pos:loyalty_members:'", "loyalty_card_no"]) }}
        end as customer_record_key,
        transacted_at as ordered_at,
        store_id,
        currency,
        case when purchase_line_count = 0 then 'returned' else 'completed' end as status,
        item_count,
        gross_amount,
        discount_amount,
        return_amount,
        return_line_count > 0 as is_return,
        discounted_line_count > 0 as has_discount
    from receipts

),

web_order_totals as (

    select
        order_id,
        sum(quantity) as item_count,
        sum(case when discount_amount > 0 then 1 else 0 end) as discounted_line_count,
        cast(sum(quantity * unit_price) as decimal(18, 2)) as gross_amount,
        cast(sum(discount_amount) as decimal(18, 2)) as discount_amount
    from web_order_lines
    group by order_id

),

ecommerce_orders as (

    select
        {{ dbt.concat(["'ecommerce:'", "web_orders.order_id"]) }} as order_id,
        'ecommerce' as channel,
        web_orders.order_id as source_order_id,
        case
            when web_orders.customer_id is not null
                then {{ dbt.concat(["'ecommerce:customers:'", "web_orders.customer_id"]) }}
            else {{ dbt.concat(["'ecommerce:orders:'", "web_orders.order_id"]) }}
        end as customer_record_key,
        web_orders.placed_at as ordered_at,
        cast(null as {{ dbt.type_string() }}) as store_id,
        web_orders.currency,
        web_orders.status,
        coalesce(web_order_totals.item_count, 0) as item_count,
        coalesce(web_order_totals.gross_amount, 0) as gross_amount,
        coalesce(web_order_totals.discount_amount, 0) as discount_amount,
        cast(0 as decimal(18, 2)) as return_amount,
        false as is_return,
        (
            web_orders.discount_code is not null
            or coalesce(web_order_totals.discounted_line_count, 0) > 0
        ) as has_discount
    from web_orders
    left join web_order_totals
        on web_orders.order_id = web_order_totals.order_id

),

unioned as (

    select * from pos_orders
    union all
    select * from ecommerce_orders

),

final as (

    select
        unioned.order_id,
        unioned.channel,
        unioned.source_order_id,
        resolved.customer_id,
        unioned.ordered_at,
        cast(unioned.ordered_at as date) as order_date,
        unioned.store_id,
        unioned.currency,
        unioned.status,
        cast(unioned.item_count as {{ dbt.type_bigint() }}) as item_count,
        cast(unioned.gross_amount as decimal(18, 2)) as gross_amount,
        cast(unioned.discount_amount as decimal(18, 2)) as discount_amount,
        cast(unioned.return_amount as decimal(18, 2)) as return_amount,
        cast(
            case
                when unioned.status in ('cancelled', 'refunded') then 0
                else unioned.gross_amount - unioned.discount_amount - unioned.return_amount
            end as decimal(18, 2)
        ) as net_amount,
        unioned.is_return,
        unioned.has_discount
    from unioned
    left join resolved
        on unioned.customer_record_key = resolved.record_key

)

select * from final
