-- Retail KPIs per calendar month (UTC order dates) as of run_date, for the business as a whole
-- (channel 'all', store_id 'all'), per channel (store_id 'all') and per POS store: one row per
-- month_start_date x channel x store_id, for the last kpi_months months up to run_date's month (not
-- before the first order). Aggregates only: no customer appears in this mart.
-- Definitions (the model's YAML says them in full):
--   purchase      an order with net_amount > 0 (cancelled, refunded and return-only orders are not
--                 purchases), as customer_lifecycle; a purchase day is a day with a purchase
--   active        a customer with a purchase in the month (in the row's channel / store)
--   new           an active customer whose first purchase day ever (any channel) is in the month
--   repurchase    an active customer with purchases on two or more days of the month
--   churned       customer_lifecycle's rule (days since the last purchase day > churn_threshold_days):
--                 a customer churns on the day after last purchase + threshold without a purchase;
--                 churn rate = customers not churned at the end of the previous month who churned in
--                 the month (up to run_date) / those customers; a channel's or store's rows count the
--                 customers whose last purchase before the month was there
--   points        the POS ledger's balance at the month's end (all cards) x var points_value_per_point
{%- set months = var('kpi_months') | int %}
{%- set point_value = var('points_value_per_point') %}
with

orders as (

    select * from {{ ref('fct_orders') }}

),

lifecycle as (

    select * from {{ ref('customer_lifecycle') }}

),

points_entries as (

    select * from {{ ref('int_pos_points_entries_deduplicated') }}

),

month_offsets as (

    {% for offset in range(months) -%}
    select {{ offset }} as month_offset
    {% if not loop.last %}union all
    {% endif -%}
    {%- endfor %}

),

first_order as (

    select cast({{ dbt.date_trunc('month', 'min(order_date)') }} as date) as first_month_start_date
    from orders

),

months as (

    select
        cast({{ dbt.dateadd(
            'month',
            '(-1 * month_offsets.month_offset)',
            'cast(' ~ dbt.date_trunc('month', run_date_literal()) ~ ' as date)',
        ) }} as date) as month_start_date
    from month_offsets

),

kpi_months as (

    select
        months.month_start_date,
        cast({{ dbt.last_day('months.month_start_date', 'month') }} as date) as month_end_date
    from months
    inner join first_order
        on months.month_start_date >= first_order.first_month_start_date

),

thresholds as (

    select max(churn_threshold_days) as churn_threshold_days
    from lifecycle

),

-- Every order three times: for the whole business, its channel, and its store (POS).
sliced_orders as (

    select
        order_id,
        customer_id,
        order_date,
        net_amount,
        'all' as channel,
        'all' as store_id
    from orders
    union all
    select
        order_id,
        customer_id,
        order_date,
        net_amount,
        channel,
        'all' as store_id
    from orders
    union all
    select
        order_id,
        customer_id,
        order_date,
        net_amount,
        channel,
        store_id
    from orders
    where store_id is not null

),

month_orders as (

    select
        kpi_months.month_start_date,
        sliced_orders.channel,
        sliced_orders.store_id,
        sliced_orders.order_id,
        sliced_orders.customer_id,
        sliced_orders.order_date,
        sliced_orders.net_amount
    from sliced_orders
    inner join kpi_months
        on
            sliced_orders.order_date >= kpi_months.month_start_date
            and sliced_orders.order_date <= kpi_months.month_end_date

),

order_totals as (

    select
        month_start_date,
        channel,
        store_id,
        sum(case when net_amount > 0 then 1 else 0 end) as order_count,
        sum(case when net_amount > 0 and customer_id is null then 1 else 0 end) as anonymous_order_count,
        sum(net_amount) as net_revenue,
        sum(case when customer_id is not null then net_amount else 0 end) as customer_net_revenue,
        sum(case when net_amount > 0 then net_amount end) as purchase_amount
    from month_orders
    group by month_start_date, channel, store_id

),

first_purchases as (

    select
        customer_id,
        min(order_date) as first_purchase_date
    from orders
    where customer_id is not null and net_amount > 0
    group by customer_id

),

customer_months as (

    select
        month_start_date,
        channel,
        store_id,
        customer_id,
        count(distinct case when net_amount > 0 then order_date end) as purchase_day_count
    from month_orders
    where customer_id is not null
    group by month_start_date, channel, store_id, customer_id

),

customer_totals as (

    select
        customer_months.month_start_date,
        customer_months.channel,
        customer_months.store_id,
        sum(case when customer_months.purchase_day_count >= 1 then 1 else 0 end) as active_customer_count,
        sum(
            case
                when
                    customer_months.purchase_day_count >= 1
                    and first_purchases.first_purchase_date >= customer_months.month_start_date
                    then 1
                else 0
            end
        ) as new_customer_count,
        sum(case when customer_months.purchase_day_count >= 2 then 1 else 0 end) as repeat_customer_count
    from customer_months
    left join first_purchases
        on customer_months.customer_id = first_purchases.customer_id
    group by customer_months.month_start_date, customer_months.channel, customer_months.store_id

),

purchase_days as (

    select
        customer_id,
        order_date as purchase_date
    from orders
    where customer_id is not null and net_amount > 0
    group by customer_id, order_date

),

purchase_day_spans as (

    select
        purchase_days.customer_id,
        purchase_days.purchase_date,
        lead(purchase_days.purchase_date) over (
            partition by purchase_days.customer_id
            order by purchase_days.purchase_date
        ) as next_purchase_date,
        cast({{ dbt.dateadd(
            'day', '(thresholds.churn_threshold_days + 1)', 'purchase_days.purchase_date'
        ) }} as date) as churn_date
    from purchase_days
    cross join thresholds

),

-- The day a customer becomes churned: threshold + 1 days after a purchase day with no purchase
-- up to and including that day; only days up to run_date have happened.
churn_events as (

    select
        purchase_day_spans.customer_id,
        kpi_months.month_start_date
    from purchase_day_spans
    inner join kpi_months
        on
            purchase_day_spans.churn_date >= kpi_months.month_start_date
            and purchase_day_spans.churn_date <= kpi_months.month_end_date
    where
        (
            purchase_day_spans.next_purchase_date is null
            or purchase_day_spans.next_purchase_date > purchase_day_spans.churn_date
        )
        and purchase_day_spans.churn_date <= {{ run_date_literal() }}
    group by purchase_day_spans.customer_id, kpi_months.month_start_date

),

-- Customers not churned at the end of the month before: their last purchase day before the month
-- is at most churn_threshold_days before that day (its churn date falls in the month or later).
held_purchases as (

    select
        kpi_months.month_start_date,
        purchase_day_spans.customer_id,
        purchase_day_spans.purchase_date
    from purchase_day_spans
    inner join kpi_months
        on
            purchase_day_spans.purchase_date < kpi_months.month_start_date
            and purchase_day_spans.churn_date >= kpi_months.month_start_date
            and (
                purchase_day_spans.next_purchase_date is null
                or purchase_day_spans.next_purchase_date >= kpi_months.month_start_date
            )

),

held_slices as (

    select distinct
        held_purchases.month_start_date,
        sliced_orders.channel,
        sliced_orders.store_id,
        held_purchases.customer_id
    from held_purchases
    inner join sliced_orders
        on
            held_purchases.customer_id = sliced_orders.customer_id
            and held_purchases.purchase_date = sliced_orders.order_date
    where sliced_orders.net_amount > 0

),

churn_totals as (

    select
        held_slices.month_start_date,
        held_slices.channel,
        held_slices.store_id,
        count(*) as churn_base_customer_count,
        sum(case when churn_events.customer_id is not null then 1 else 0 end) as churned_customer_count
    from held_slices
    left join churn_events
        on
            held_slices.customer_id = churn_events.customer_id
            and held_slices.month_start_date = churn_events.month_start_date
    group by held_slices.month_start_date, held_slices.channel, held_slices.store_id

),

points_months as (

    select
        cast({{ dbt.date_trunc('month', 'booked_at') }} as date) as month_start_date,
        sum(points_delta) as points_delta,
        sum(case when entry_type = 'earn' then points else 0 end) as points_earned,
        sum(case when entry_type = 'redeem' then points else 0 end) as points_redeemed,
        sum(case when entry_type = 'expire' then points else 0 end) as points_expired
    from points_entries
    group by cast({{ dbt.date_trunc('month', 'booked_at') }} as date)

),

points_totals as (

    select
        kpi_months.month_start_date,
        sum(points_months.points_delta) as outstanding_points,
        sum(
            case
                when points_months.month_start_date = kpi_months.month_start_date then points_months.points_earned
            end
        ) as points_earned,
        sum(
            case
                when points_months.month_start_date = kpi_months.month_start_date then points_months.points_redeemed
            end
        ) as points_redeemed,
        sum(
            case
                when points_months.month_start_date = kpi_months.month_start_date then points_months.points_expired
            end
        ) as points_expired
    from kpi_months
    inner join points_months
        on kpi_months.month_start_date >= points_months.month_start_date
    group by kpi_months.month_start_date

),

slices as (

    select
        month_start_date,
        'all' as channel,
        'all' as store_id
    from kpi_months
    union
    select
        month_start_date,
        channel,
        store_id
    from order_totals
    union
    select
        month_start_date,
        channel,
        store_id
    from churn_totals

),

final as (

    select
        slices.month_start_date,
        slices.channel,
        slices.store_id,
        {{ run_date_literal() }} as as_of_date,
        kpi_months.month_end_date,
        kpi_months.month_end_date <= {{ run_date_literal() }} as is_month_complete,
        cast(coalesce(customer_totals.active_customer_count, 0) as {{ dbt.type_bigint() }})
            as active_customer_count,
        cast(coalesce(customer_totals.new_customer_count, 0) as {{ dbt.type_bigint() }}) as new_customer_count,
        cast(
            coalesce(customer_totals.active_customer_count, 0) - coalesce(customer_totals.new_customer_count, 0)
            as {{ dbt.type_bigint() }}
        ) as returning_customer_count,
        cast(coalesce(customer_totals.repeat_customer_count, 0) as {{ dbt.type_bigint() }})
            as repeat_customer_count,
        {{ divide('customer_totals.repeat_customer_count', 'nullif(customer_totals.active_customer_count, 0)') }}
            as repurchase_rate,
        cast(coalesce(churn_totals.churn_base_customer_count, 0) as {{ dbt.type_bigint() }})
            as churn_base_customer_count,
        cast(coalesce(churn_totals.churned_customer_count, 0) as {{ dbt.type_bigint() }})
            as churned_customer_count,
        {{ divide('churn_totals.churned_customer_count', 'nullif(churn_totals.churn_base_customer_count, 0)') }}
            as churn_rate,
        cast(coalesce(order_totals.order_count, 0) as {{ dbt.type_bigint() }}) as order_count,
        cast(coalesce(order_totals.anonymous_order_count, 0) as {{ dbt.type_bigint() }}) as anonymous_order_count,
        cast(coalesce(order_totals.net_revenue, 0) as decimal(18, 2)) as net_revenue,
        cast(coalesce(order_totals.customer_net_revenue, 0) as decimal(18, 2)) as customer_net_revenue,
        -- Rounded half up as doubles first: engines cast a double at a tie to a decimal differently.
        cast(
            {{ round_half_up(divide('order_totals.purchase_amount', 'nullif(order_totals.order_count, 0)'), 2) }}
            as decimal(18, 2)
        ) as average_order_value,
        cast(
            {{ round_half_up(
                divide('order_totals.customer_net_revenue', 'nullif(customer_totals.active_customer_count, 0)'), 2
            ) }} as decimal(18, 2)
        ) as revenue_per_customer,
        case
            when slices.channel = 'all'
                then cast(coalesce(points_totals.outstanding_points, 0) as {{ dbt.type_bigint() }})
        end as outstanding_points,
        case
            when slices.channel = 'all'
                then cast(coalesce(points_totals.outstanding_points, 0) * {{ point_value }} as decimal(18, 2))
        end as points_liability_amount,
        case
            when slices.channel = 'all'
                then cast(coalesce(points_totals.points_earned, 0) as {{ dbt.type_bigint() }})
        end as points_earned,
        case
            when slices.channel = 'all'
                then cast(coalesce(points_totals.points_redeemed, 0) as {{ dbt.type_bigint() }})
        end as points_redeemed,
        case
            when slices.channel = 'all'
                then cast(coalesce(points_totals.points_expired, 0) as {{ dbt.type_bigint() }})
        end as points_expired
    from slices
    inner join kpi_months
        on slices.month_start_date = kpi_months.month_start_date
    left join order_totals
        on
            slices.month_start_date = order_totals.month_start_date
            and slices.channel = order_totals.channel
            and slices.store_id = order_totals.store_id
    left join customer_totals
        on
            slices.month_start_date = customer_totals.month_start_date
            and slices.channel = customer_totals.channel
            and slices.store_id = customer_totals.store_id
    left join churn_totals
        on
            slices.month_start_date = churn_totals.month_start_date
            and slices.channel = churn_totals.channel
            and slices.store_id = churn_totals.store_id
    left join points_totals
        on slices.month_start_date = points_totals.month_start_date

)

select * from final
