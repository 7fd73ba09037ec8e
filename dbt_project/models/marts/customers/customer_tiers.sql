-- Loyalty tier of every customer as of run_date from the last tier_window_days (default 365) days:
-- spend_12m = sum of net_amount of all the customer's orders with order_date in (run_date - N, run_date]
-- (returns netted, cancelled/refunded count 0) and orders_12m = number of those orders with
-- net_amount > 0. A customer reaches a tier when spend_12m >= min_spend_12m AND
-- orders_12m >= min_orders_12m of that tier in the seed member_tier_thresholds; the highest tier reached
-- wins. Customers below every threshold (negative net spend from returns only) get the lowest tier, so
-- every customer has a tier.
{%- set window_days = var('tier_window_days') | int %}
with

customers as (

    select * from {{ ref('dim_customers') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

thresholds as (

    select * from {{ ref('member_tier_thresholds') }}

),

window_orders as (

    select
        customer_id,
        sum(net_amount) as spend_12m,
        sum(case when net_amount > 0 then 1 else 0 end) as orders_12m
    from orders
    where
        customer_id is not null
        and order_date > cast({{ dbt.dateadd('day', -window_days, run_date_literal()) }} as date)
        and order_date <= {{ run_date_literal() }}
    group by customer_id

),

customer_totals as (

    select
        customers.customer_id,
        cast(coalesce(window_orders.spend_12m, 0) as decimal(18, 2)) as spend_12m,
        cast(coalesce(window_orders.orders_12m, 0) as {{ dbt.type_int() }}) as orders_12m
    from customers
    left join window_orders
        on customers.customer_id = window_orders.customer_id

),

reached as (

    select
        customer_totals.customer_id,
        max(thresholds.tier_rank) as tier_rank
    from customer_totals
    inner join thresholds
        on
            customer_totals.spend_12m >= thresholds.min_spend_12m
            and customer_totals.orders_12m >= thresholds.min_orders_12m
    group by customer_totals.customer_id

),

lowest_tier as (

    select min(tier_rank) as tier_rank
    from thresholds

),

customer_tier_ranks as (

    select
        customer_totals.customer_id,
        coalesce(reached.tier_rank, lowest_tier.tier_rank) as tier_rank
    from customer_totals
    left join reached
        on customer_totals.customer_id = reached.customer_id
    cross join lowest_tier

),

next_tiers as (

    select
        current_tier.tier_rank,
        min(higher_tier.tier_rank) as next_tier_rank
    from thresholds as current_tier
    inner join thresholds as higher_tier
        on current_tier.tier_rank < higher_tier.tier_rank
    group by current_tier.tier_rank

),

final as (

    select
        customer_totals.customer_id,
        {{ run_date_literal() }} as as_of_date,
        tier.tier,
        cast(tier.tier_rank as {{ dbt.type_int() }}) as tier_rank,
        customer_totals.spend_12m,
        customer_totals.orders_12m,
        next_tier.tier as next_tier,
        cast(
            case
                when next_tier.tier is not null
                    then greatest(next_tier.min_spend_12m - customer_totals.spend_12m, 0)
            end as decimal(18, 2)
        ) as spend_to_next_tier,
        cast(
            case
                when next_tier.tier is not null
                    then greatest(next_tier.min_orders_12m - customer_totals.orders_12m, 0)
            end as {{ dbt.type_int() }}
        ) as orders_to_next_tier
    from customer_totals
    inner join customer_tier_ranks
        on customer_totals.customer_id = customer_tier_ranks.customer_id
    left join thresholds as tier
        on customer_tier_ranks.tier_rank = tier.tier_rank
    left join next_tiers
        on customer_tier_ranks.tier_rank = next_tiers.tier_rank
    left join thresholds as next_tier
        on next_tiers.next_tier_rank = next_tier.tier_rank

)

select * from final
