-- Treated vs control after each segment export: did the campaign change behaviour? For every
-- (segment, export date) with a control group, orders in the days after the export (up to the
-- segment's measurement window, and never after run_date) are compared between the exported members
-- and the held-out ones, with the difference and a 95% normal-approximation confidence interval.
-- Sums stay exact decimals until the final division: floating-point sums in a parallel aggregate
-- depend on the order rows arrive, and a re-run must give identical results. Divisions are doubles
-- (divide()), the same on every engine (a 4-byte float quotient differs from Spark's double).
{%- set z = 1.96 %}
with

memberships as (

    select * from {{ ref('stg_ops__segment_memberships') }}

),

segment_runs as (

    select * from {{ ref('stg_ops__segment_runs') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

windows as (

    select
        segment_name,
        sent_date,
        measurement_window_days,
        cast(
            {{ dbt.dateadd('day', 'measurement_window_days', 'sent_date') }} as date
        ) as window_end_date
    from segment_runs
    where sent_date < {{ run_date_literal() }}

),

member_outcomes as (

    select
        memberships.segment_name,
        memberships.sent_date,
        memberships.customer_id,
        memberships.is_control,
        sum(case when orders.net_amount > 0 then 1 else 0 end) as purchase_orders,
        coalesce(sum(orders.net_amount), 0) as revenue
    from memberships
    inner join windows
        on
            memberships.segment_name = windows.segment_name
            and memberships.sent_date = windows.sent_date
    left join orders
        on
            memberships.customer_id = orders.customer_id
            and windows.sent_date < orders.order_date
            and windows.window_end_date >= orders.order_date
            and orders.order_date <= {{ run_date_literal() }}
    group by
        memberships.segment_name,
        memberships.sent_date,
        memberships.customer_id,
        memberships.is_control

),

group_stats as (

    select
        segment_name,
        sent_date,
        is_control,
        count(*) as customers,
        sum(case when purchase_orders > 0 then 1 else 0 end) as purchasers,
        sum(purchase_orders) as purchase_orders,
        sum(revenue) as revenue_sum,
        sum(revenue * revenue) as revenue_sum_of_squares
    from member_outcomes
    group by segment_name, sent_date, is_control

),

group_moments as (

    select
        segment_name,
        sent_date,
        is_control,
        customers,
        purchasers,
        purchase_orders,
        {{ divide('revenue_sum', 'customers') }} as revenue_per_customer,
        case
            when customers > 1
                then {{ divide(
                    'cast(revenue_sum_of_squares as double)'
                    ~ ' - cast(revenue_sum as double) * cast(revenue_sum as double) / customers',
                    'customers - 1'
                ) }}
            else 0
        end as revenue_variance
    from group_stats

),

compared as (

    select
        windows.segment_name,
        windows.sent_date,
        windows.measurement_window_days,
        windows.window_end_date,
        windows.window_end_date <= {{ run_date_literal() }} as is_window_complete,
        treated.customers as treated_customers,
        control.customers as control_customers,
        {{ divide('treated.purchasers', 'treated.customers') }} as treated_purchase_rate,
        {{ divide('control.purchasers', 'control.customers') }} as control_purchase_rate,
        treated.revenue_per_customer as treated_revenue_per_customer,
        control.revenue_per_customer as control_revenue_per_customer,
        treated.revenue_variance as treated_revenue_variance,
        control.revenue_variance as control_revenue_variance,
        {{ divide('treated.purchase_orders', 'treated.customers') }} as treated_orders_per_customer,
        {{ divide('control.purchase_orders', 'control.customers') }} as control_orders_per_customer
    from windows
    inner join group_moments as treated
        on
            windows.segment_name = treated.segment_name
            and windows.sent_date = treated.sent_date
            and not treated.is_control
    inner join group_moments as control
        on
            windows.segment_name = control.segment_name
            and windows.sent_date = control.sent_date
            and control.is_control

),

final as (

    select
        segment_name,
        sent_date,
        measurement_window_days,
        window_end_date,
        is_window_complete,
        treated_customers,
        control_customers,
        treated_purchase_rate,
        control_purchase_rate,
        treated_purchase_rate - control_purchase_rate as purchase_rate_difference,
        treated_purchase_rate - control_purchase_rate - {{ z }} * sqrt(
            treated_purchase_rate * (1 - treated_purchase_rate) / treated_customers
            + control_purchase_rate * (1 - control_purchase_rate) / control_customers
        ) as purchase_rate_difference_ci_low,
        treated_purchase_rate - control_purchase_rate + {{ z }} * sqrt(
            treated_purchase_rate * (1 - treated_purchase_rate) / treated_customers
            + control_purchase_rate * (1 - control_purchase_rate) / control_customers
        ) as purchase_rate_difference_ci_high,
        treated_revenue_per_customer,
        control_revenue_per_customer,
        treated_revenue_per_customer - control_revenue_per_customer as revenue_per_customer_difference,
        treated_revenue_per_customer - control_revenue_per_customer - {{ z }} * sqrt(
            treated_revenue_variance / treated_customers + control_revenue_variance / control_customers
        ) as revenue_per_customer_difference_ci_low,
        treated_revenue_per_customer - control_revenue_per_customer + {{ z }} * sqrt(
            treated_revenue_variance / treated_customers + control_revenue_variance / control_customers
        ) as revenue_per_customer_difference_ci_high,
        treated_orders_per_customer,
        control_orders_per_customer,
        treated_orders_per_customer - control_orders_per_customer as orders_per_customer_difference
    from compared

)

select * from final
