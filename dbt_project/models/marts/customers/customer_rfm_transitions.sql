-- Customers moving between RFM segments from one run date to another, read from customer_rfm_history:
-- one row per (from_rfm_segment, to_rfm_segment) pair with the number of customers. to_date = var
-- transition_to (default run_date); from_date = var transition_from (default the latest as_of_date in
-- the history before to_date). A customer scored on one date only moves from or to 'none'
-- (entering or leaving the scored base). Without an earlier date every customer enters from 'none'.
-- Column names follow customer_360's rfm_segment (D48); from_segment, to_segment, is_segment_changed
-- and share_of_from_segment are deprecated aliases for one release (deprecated_aliases()).
{%- set to_date = date_literal_or_run_date(var('transition_to', none)) | trim %}
{%- if var('transition_from', none) is none %}
{%- set from_condition = 'as_of_date < ' ~ to_date %}
{%- else %}
{%- set from_condition = 'as_of_date = ' ~ (date_literal_or_run_date(var('transition_from')) | trim) %}
{%- endif %}
with

history as (

    select * from {{ ref('customer_rfm_history') }}

),

dates as (

    select
        max(case when as_of_date = {{ to_date }} then as_of_date end) as to_date,
        max(case when {{ from_condition }} then as_of_date end) as from_date
    from history

),

from_rows as (

    select
        history.customer_id,
        history.rfm_segment
    from history
    inner join dates
        on history.as_of_date = dates.from_date

),

to_rows as (

    select
        history.customer_id,
        history.rfm_segment
    from history
    inner join dates
        on history.as_of_date = dates.to_date

),

moves as (

    select
        coalesce(from_rows.rfm_segment, 'none') as from_rfm_segment,
        coalesce(to_rows.rfm_segment, 'none') as to_rfm_segment
    from from_rows
    full outer join to_rows
        on from_rows.customer_id = to_rows.customer_id

),

counted as (

    select
        from_rfm_segment,
        to_rfm_segment,
        count(*) as customer_count
    from moves
    group by from_rfm_segment, to_rfm_segment

),

transitions as (

    select
        dates.from_date,
        dates.to_date,
        counted.from_rfm_segment,
        counted.to_rfm_segment,
        counted.from_rfm_segment <> counted.to_rfm_segment as is_rfm_segment_changed,
        cast(counted.customer_count as {{ dbt.type_bigint() }}) as customer_count,
        cast(
            {{ divide(
                'counted.customer_count',
                'sum(counted.customer_count) over (partition by counted.from_rfm_segment)'
            ) }}
            as {{ dbt.type_float() }}
        ) as share_of_from_rfm_segment
    from counted
    cross join dates

),

final as (

    select
        *,
        {{ deprecated_aliases({
            'from_segment': 'from_rfm_segment',
            'to_segment': 'to_rfm_segment',
            'is_segment_changed': 'is_rfm_segment_changed',
            'share_of_from_segment': 'share_of_from_rfm_segment',
        }) }}
    from transitions

)

select * from final
