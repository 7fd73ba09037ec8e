-- Retention cohort matrix as of run_date: one row per cohort (calendar month, UTC, of a customer's
-- first purchase day) x months since that month, for cohorts of the last kpi_months months up to
-- run_date's month. A purchase is an order with net_amount > 0, as in customer_lifecycle and
-- monthly_kpis. retained_customer_count = the cohort's customers with a purchase in that month
-- (month 0: all of them); the current month counts purchases up to run_date only. Aggregates only.
{%- set months = var('kpi_months') | int %}
with

orders as (

    select * from {{ ref('fct_orders') }}

),

month_offsets as (

    {% for offset in range(months) -%}
    select {{ offset }} as month_offset
    {% if not loop.last %}union all
    {% endif -%}
    {%- endfor %}

),

run_month as (

    select
        cast(extract(year from {{ run_date_literal() }}) as {{ dbt.type_int() }}) * 12
        + cast(extract(month from {{ run_date_literal() }}) as {{ dbt.type_int() }}) as month_number

),

purchase_months as (

    select
        customer_id,
        cast(extract(year from order_date) as {{ dbt.type_int() }}) * 12
        + cast(extract(month from order_date) as {{ dbt.type_int() }}) as month_number,
        min(order_date) as first_purchase_date
    from orders
    where customer_id is not null and net_amount > 0
    group by
        customer_id,
        cast(extract(year from order_date) as {{ dbt.type_int() }}) * 12
        + cast(extract(month from order_date) as {{ dbt.type_int() }})

),

first_purchase_months as (

    select
        customer_id,
        min(month_number) as cohort_month_number,
        min(first_purchase_date) as first_purchase_date
    from purchase_months
    group by customer_id

),

cohorts as (

    select
        first_purchase_months.cohort_month_number,
        cast({{ dbt.date_trunc('month', 'min(first_purchase_months.first_purchase_date)') }} as date)
            as cohort_month_start_date,
        count(*) as cohort_customer_count
    from first_purchase_months
    cross join run_month
    where first_purchase_months.cohort_month_number > run_month.month_number - {{ months }}
    group by first_purchase_months.cohort_month_number

),

retained as (

    select
        first_purchase_months.cohort_month_number,
        purchase_months.month_number - first_purchase_months.cohort_month_number as months_since_first_purchase,
        count(*) as retained_customer_count
    from purchase_months
    inner join first_purchase_months
        on purchase_months.customer_id = first_purchase_months.customer_id
    group by
        first_purchase_months.cohort_month_number,
        purchase_months.month_number - first_purchase_months.cohort_month_number

),

periods as (

    select
        cohorts.cohort_month_number,
        cohorts.cohort_month_start_date,
        cohorts.cohort_customer_count,
        month_offsets.month_offset as months_since_first_purchase,
        cast({{ dbt.dateadd(
            'month', '(month_offsets.month_offset)', 'cohorts.cohort_month_start_date'
        ) }} as date) as period_month_start_date
    from cohorts
    cross join run_month
    inner join month_offsets
        on cohorts.cohort_month_number + month_offsets.month_offset <= run_month.month_number

),

final as (

    select
        periods.cohort_month_start_date,
        cast(periods.months_since_first_purchase as {{ dbt.type_int() }}) as months_since_first_purchase,
        {{ run_date_literal() }} as as_of_date,
        periods.period_month_start_date,
        cast({{ dbt.last_day('periods.period_month_start_date', 'month') }} as date)
        <= {{ run_date_literal() }} as is_period_complete,
        cast(periods.cohort_customer_count as {{ dbt.type_bigint() }}) as cohort_customer_count,
        cast(coalesce(retained.retained_customer_count, 0) as {{ dbt.type_bigint() }}) as retained_customer_count,
        {{ divide('coalesce(retained.retained_customer_count, 0)', 'periods.cohort_customer_count') }}
            as retention_rate
    from periods
    left join retained
        on
            periods.cohort_month_number = retained.cohort_month_number
            and periods.months_since_first_purchase = retained.months_since_first_purchase

)

select * from final
