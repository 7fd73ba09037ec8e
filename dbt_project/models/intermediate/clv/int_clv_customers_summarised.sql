-- One row per customer with an order as of run_date: the BG/NBD / Gamma-Gamma summary (x, t_x, T, m_x)
-- and the historical value. Orders of one UTC day are one purchase (same-day aggregation, as in the
-- CLV literature); a purchase day is a day with at least one completed order (status 'completed'), so
-- days with only cancelled, refunded or return-only orders are not purchases. A purchase day's value
-- is the net amount of all that day's orders (it can be 0, e.g. a free item).
--   frequency      x    purchase days after the first one (repeat purchases)
--   recency_days   t_x  days from the first to the last purchase day
--   tenure_days    T    days from the first purchase day to run_date
--   recency, tenure     the same in the model's time unit (var clv_time_unit_days; 7 = weeks)
--   repeat_monetary_mean  m_x  mean value of the repeat purchase days (first purchase excluded)
{%- set unit_days = var('clv_time_unit_days') | float %}
with

orders as (

    select * from {{ ref('fct_orders') }}

),

customer_days as (

    select
        customer_id,
        order_date,
        sum(net_amount) as day_amount,
        sum(case when status = 'completed' then 1 else 0 end) as completed_order_count
    from orders
    where customer_id is not null
    group by customer_id, order_date

),

purchase_days as (

    select
        customer_id,
        order_date,
        day_amount,
        row_number() over (partition by customer_id order by order_date) as purchase_number
    from customer_days
    where completed_order_count > 0

),

purchases as (

    select
        customer_id,
        min(order_date) as first_purchase_date,
        max(order_date) as last_purchase_date,
        count(*) - 1 as frequency,
        sum(day_amount) as purchase_amount,
        sum(case when purchase_number > 1 then day_amount else 0 end) as repeat_amount
    from purchase_days
    group by customer_id

),

purchase_spans as (

    select
        customer_id,
        {{ dbt.datediff('first_purchase_date', 'last_purchase_date', 'day') }} as recency_days,  -- noqa: LT05
        {{ dbt.datediff('first_purchase_date', run_date_literal(), 'day') }} as tenure_days  -- noqa: LT05
    from purchases

),

order_totals as (

    select
        customer_id,
        count(*) as order_count,
        sum(net_amount) as historical_value,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date
    from orders
    where customer_id is not null
    group by customer_id

),

final as (

    select
        order_totals.customer_id,
        order_totals.order_count,
        cast(order_totals.historical_value as decimal(18, 2)) as historical_value,
        order_totals.first_order_date,
        order_totals.last_order_date,
        purchases.customer_id is not null as has_purchase,
        purchases.first_purchase_date,
        purchases.last_purchase_date,
        cast(purchases.frequency as {{ dbt.type_bigint() }}) as frequency,
        cast(purchase_spans.recency_days as {{ dbt.type_bigint() }}) as recency_days,
        cast(purchase_spans.tenure_days as {{ dbt.type_bigint() }}) as tenure_days,
        cast(purchase_spans.recency_days as double) / {{ unit_days }} as recency,
        cast(purchase_spans.tenure_days as double) / {{ unit_days }} as tenure,
        cast(purchases.purchase_amount as decimal(18, 2)) as purchase_amount,
        -- Doubles, not decimal(18, 4): engines round a double to a decimal differently at a tie, and
        -- repeat_monetary_mean is a grouping key of the Gamma-Gamma fit.
        case
            when purchases.frequency > 0 then {{ divide('purchases.repeat_amount', 'purchases.frequency') }}
        end as repeat_monetary_mean,
        {{ divide('purchases.purchase_amount', 'purchases.frequency + 1') }} as average_purchase_value
    from order_totals
    left join purchases
        on order_totals.customer_id = purchases.customer_id
    left join purchase_spans
        on order_totals.customer_id = purchase_spans.customer_id

)

select * from final
