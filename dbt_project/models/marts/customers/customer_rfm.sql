-- RFM scores as of run_date for every customer with at least one order in the window
-- (order_date in (run_date - rfm_window_days, run_date]).
-- Scores 1-5 by quintile of the customer's percent rank (rank - 1) / (customers - 1), computed with
-- exact integer comparisons: score = 1 + number of k in 1..4 with 5 * (rank - 1) >= k * (customers - 1).
-- rank() gives equal values the same rank, so equal values always get equal scores; the lowest value
-- (or all values, when they are all equal) scores 1. Recency is ranked descending (recent = 5).
-- rfm_segment: looked up in the seed rfm_segment_map by r_score and fm_score = (f_score + m_score) / 2
-- rounded half up. Columns are named as in customer_360 (rfm_recency_days, rfm_frequency, rfm_monetary,
-- rfm_segment); the old names stay one release as deprecated aliases (D48, deprecated_aliases()).
{%- set window_days = var('rfm_window_days') | int %}
with

orders as (

    select * from {{ ref('fct_orders') }}

),

segment_map as (

    select * from {{ ref('rfm_segment_map') }}

),

window_orders as (

    select
        customer_id,
        order_date,
        net_amount
    from orders
    where
        customer_id is not null
        and order_date > cast({{ dbt.dateadd('day', -window_days, run_date_literal()) }} as date)
        and order_date <= {{ run_date_literal() }}

),

customer_metrics as (

    select
        customer_id,
        coalesce(
            max(case when net_amount > 0 then order_date end),
            max(order_date)
        ) as last_order_date,
        sum(case when net_amount > 0 then 1 else 0 end) as frequency,
        cast(sum(net_amount) as decimal(18, 2)) as monetary
    from window_orders
    group by customer_id

),

with_recency as (

    select
        customer_id,
        last_order_date,
        {{ dbt.datediff('last_order_date', run_date_literal(), 'day') }} as recency_days,  -- noqa: LT05
        frequency,
        monetary
    from customer_metrics

),

ranked as (

    select
        customer_id,
        last_order_date,
        recency_days,
        frequency,
        monetary,
        count(*) over () as customer_count,
        rank() over (order by recency_days desc) as recency_rank,
        rank() over (order by frequency asc) as frequency_rank,
        rank() over (order by monetary asc) as monetary_rank
    from with_recency

),

scored as (

    select
        customer_id,
        last_order_date,
        recency_days,
        frequency,
        monetary,
        {{ quintile_score('recency_rank', 'customer_count') }} as r_score,
        {{ quintile_score('frequency_rank', 'customer_count') }} as f_score,
        {{ quintile_score('monetary_rank', 'customer_count') }} as m_score
    from ranked

),

segmented as (

    select
        scored.customer_id,
        {{ run_date_literal() }} as as_of_date,
        scored.last_order_date,
        cast(scored.recency_days as {{ dbt.type_int() }}) as rfm_recency_days,
        cast(scored.frequency as {{ dbt.type_int() }}) as rfm_frequency,
        scored.monetary as rfm_monetary,
        scored.r_score,
        scored.f_score,
        scored.m_score,
        {{ dbt.concat([
            dbt.safe_cast("scored.r_score", dbt.type_string()),
            dbt.safe_cast("scored.f_score", dbt.type_string()),
            dbt.safe_cast("scored.m_score", dbt.type_string()),
        ]) }} as rfm_score,
        segment_map.segment as rfm_segment
    from scored
    left join segment_map
        on
            scored.r_score = segment_map.r_score
            and cast(floor((scored.f_score + scored.m_score + 1) / 2) as {{ dbt.type_int() }})
            = segment_map.fm_score

),

final as (

    select
        *,
        {{ deprecated_aliases({
            'recency_days': 'rfm_recency_days',
            'frequency': 'rfm_frequency',
            'monetary': 'rfm_monetary',
            'segment': 'rfm_segment',
        }) }}
    from segmented

)

select * from final
