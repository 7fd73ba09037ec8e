-- Lifecycle stage of every customer as of run_date, from purchases (orders with net_amount > 0:
-- cancelled, refunded and return-only orders are not purchases). Purchases on the same day count as one
-- purchase day; intervals are days between consecutive purchase days.
-- Thresholds follow the base's own rhythm: base_interval_days = median interval over all customers
-- (var lifecycle_default_interval_days when nobody bought twice);
--   active_threshold_days = ceil(lifecycle_active_multiplier * base_interval_days) (or var lifecycle_active_days),
--   churn_threshold_days  = ceil(lifecycle_churn_multiplier * base_interval_days) (or var lifecycle_churn_days).
-- Stage, first match wins (recency = days since the last purchase day):
--   prospect     never bought (known from a loyalty/web registration, guest order or social profile)
--   churned      recency > churn_threshold_days
--   dormant      recency > active_threshold_days
--   new          first purchase within the last active_threshold_days
--   reactivated  a purchase within the last active_threshold_days came after a gap > churn_threshold_days
--   active       otherwise (bought within the last active_threshold_days, not new, not reactivated)
{%- set default_interval = var('lifecycle_default_interval_days') %}
{%- set active_multiplier = var('lifecycle_active_multiplier') %}
{%- set churn_multiplier = var('lifecycle_churn_multiplier') %}
with

customers as (

    select * from {{ ref('dim_customers') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

purchase_days as (

    select
        customer_id,
        order_date as purchase_date,
        count(*) as order_count
    from orders
    where
        customer_id is not null
        and net_amount > 0
    group by customer_id, order_date

),

purchase_gaps as (

    select
        customer_id,
        purchase_date,
        order_count,
        {{ dbt.datediff(
            'lag(purchase_date) over (partition by customer_id order by purchase_date)',
            'purchase_date',
            'day',
        ) }} as gap_days
    from purchase_days

),

base_rhythm as (

    select {{ median('gap_days') }} as median_interval_days
    from purchase_gaps
    where gap_days is not null

),

thresholds as (

    select
        cast(coalesce(median_interval_days, {{ default_interval }}) as {{ dbt.type_float() }})
            as base_interval_days,
        cast(
            {{ var_or(
                'lifecycle_active_days',
                'ceil(' ~ active_multiplier ~ ' * coalesce(median_interval_days, ' ~ default_interval ~ '))',
            ) }} as {{ dbt.type_int() }}
        ) as active_threshold_days,
        cast(
            {{ var_or(
                'lifecycle_churn_days',
                'ceil(' ~ churn_multiplier ~ ' * coalesce(median_interval_days, ' ~ default_interval ~ '))',
            ) }} as {{ dbt.type_int() }}
        ) as churn_threshold_days
    from base_rhythm

),

gaps_flagged as (

    select
        purchase_gaps.customer_id,
        purchase_gaps.purchase_date,
        purchase_gaps.order_count,
        (
            purchase_gaps.gap_days > thresholds.churn_threshold_days
            and {{ dbt.datediff('purchase_gaps.purchase_date', run_date_literal(), 'day') }}
            <= thresholds.active_threshold_days
        ) as is_recent_return_after_churn
    from purchase_gaps
    cross join thresholds

),

customer_purchases as (

    select
        customer_id,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) as last_purchase_date,
        sum(order_count) as purchase_count,
        count(*) as purchase_day_count,
        max(case when is_recent_return_after_churn then 1 else 0 end) = 1 as has_recent_return_after_churn
    from gaps_flagged
    group by customer_id

),

joined as (

    select
        customers.customer_id,
        customer_purchases.first_purchase_date,
        customer_purchases.last_purchase_date,
        coalesce(customer_purchases.purchase_count, 0) as purchase_count,
        coalesce(customer_purchases.purchase_day_count, 0) as purchase_day_count,
        {{ dbt.datediff('customer_purchases.first_purchase_date', run_date_literal(), 'day') }}
            as days_since_first_purchase,
        {{ dbt.datediff('customer_purchases.last_purchase_date', run_date_literal(), 'day') }}
            as days_since_last_purchase,
        coalesce(customer_purchases.has_recent_return_after_churn, false) as has_recent_return_after_churn,
        thresholds.base_interval_days,
        thresholds.active_threshold_days,
        thresholds.churn_threshold_days
    from customers
    left join customer_purchases
        on customers.customer_id = customer_purchases.customer_id
    cross join thresholds

),

final as (

    select
        customer_id,
        {{ run_date_literal() }} as as_of_date,
        case
            when first_purchase_date is null then 'prospect'
            when days_since_last_purchase > churn_threshold_days then 'churned'
            when days_since_last_purchase > active_threshold_days then 'dormant'
            when days_since_first_purchase <= active_threshold_days then 'new'
            when has_recent_return_after_churn then 'reactivated'
            else 'active'
        end as lifecycle_stage,
        first_purchase_date,
        last_purchase_date,
        cast(purchase_count as {{ dbt.type_int() }}) as purchase_count,
        cast(purchase_day_count as {{ dbt.type_int() }}) as purchase_day_count,
        cast(days_since_first_purchase as {{ dbt.type_int() }}) as days_since_first_purchase,
        cast(days_since_last_purchase as {{ dbt.type_int() }}) as days_since_last_purchase,
        purchase_day_count >= 1 as is_activated,
        purchase_day_count >= 2 as is_retained,
        base_interval_days,
        active_threshold_days,
        churn_threshold_days
    from joined

)

select * from final
