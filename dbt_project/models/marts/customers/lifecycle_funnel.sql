-- AARRR funnel of the customer base as of run_date (cumulative up to run_date), one row per step:
--   1 acquired   known customer: any loyalty/web registration, guest order or social profile (dim_customers)
--   2 activated  at least one purchase (an order with net_amount > 0)
--   3 retained   purchases on at least two different days
--   4 revenue    net spend over the last tier_window_days (default 365) days > 0 (spend_12m)
--   5 referral   at least one social interaction of a type in var funnel_referral_event_types
--                (default [share]: the customer shared the brand's content)
-- step_customer_count counts customers meeting the step's own condition; funnel_customer_count those
-- meeting it and every earlier step (the funnel), converted from the previous step's funnel count.
with

lifecycle as (

    select * from {{ ref('customer_lifecycle') }}

),

tiers as (

    select * from {{ ref('customer_tiers') }}

),

behaviour as (

    select * from {{ ref('customer_behaviour') }}

),

customer_steps as (

    select
        lifecycle.customer_id,
        1 as is_acquired,
        case when lifecycle.is_activated then 1 else 0 end as is_activated,
        case when lifecycle.is_retained then 1 else 0 end as is_retained,
        case when tiers.spend_12m > 0 then 1 else 0 end as is_revenue,
        case when behaviour.referral_event_count > 0 then 1 else 0 end as is_referral
    from lifecycle
    inner join tiers
        on lifecycle.customer_id = tiers.customer_id
    inner join behaviour
        on lifecycle.customer_id = behaviour.customer_id

),

step_counts as (

    select
        coalesce(sum(is_acquired), 0) as step_acquired,
        coalesce(sum(is_activated), 0) as step_activated,
        coalesce(sum(is_retained), 0) as step_retained,
        coalesce(sum(is_revenue), 0) as step_revenue,
        coalesce(sum(is_referral), 0) as step_referral,
        coalesce(sum(is_acquired * is_activated), 0) as funnel_activated,
        coalesce(sum(is_acquired * is_activated * is_retained), 0) as funnel_retained,
        coalesce(sum(is_acquired * is_activated * is_retained * is_revenue), 0) as funnel_revenue,
        coalesce(sum(is_acquired * is_activated * is_retained * is_revenue * is_referral), 0) as funnel_referral
    from customer_steps

),

unpivoted as (

    select
        1 as step_number,
        'acquired' as step,
        step_acquired as step_customer_count,
        step_acquired as funnel_customer_count,
        cast(null as {{ dbt.type_bigint() }}) as previous_funnel_customer_count,
        step_acquired as acquired_customer_count
    from step_counts
    union all
    select
        2 as step_number,
        'activated' as step,
        step_activated as step_customer_count,
        funnel_activated as funnel_customer_count,
        step_acquired as previous_funnel_customer_count,
        step_acquired as acquired_customer_count
    from step_counts
    union all
    select
        3 as step_number,
        'retained' as step,
        step_retained as step_customer_count,
        funnel_retained as funnel_customer_count,
        funnel_activated as previous_funnel_customer_count,
        step_acquired as acquired_customer_count
    from step_counts
    union all
    select
        4 as step_number,
        'revenue' as step,
        step_revenue as step_customer_count,
        funnel_revenue as funnel_customer_count,
        funnel_retained as previous_funnel_customer_count,
        step_acquired as acquired_customer_count
    from step_counts
    union all
    select
        5 as step_number,
        'referral' as step,
        step_referral as step_customer_count,
        funnel_referral as funnel_customer_count,
        funnel_revenue as previous_funnel_customer_count,
        step_acquired as acquired_customer_count
    from step_counts

),

final as (

    select
        {{ run_date_literal() }} as as_of_date,
        cast(step_number as {{ dbt.type_int() }}) as step_number,
        step,
        cast(step_customer_count as {{ dbt.type_bigint() }}) as step_customer_count,
        cast(funnel_customer_count as {{ dbt.type_bigint() }}) as funnel_customer_count,
        cast(
            {{ divide('funnel_customer_count', 'nullif(previous_funnel_customer_count, 0)') }}
            as {{ dbt.type_float() }}
        ) as conversion_from_previous_step,
        cast(
            {{ divide('funnel_customer_count', 'nullif(acquired_customer_count, 0)') }}
            as {{ dbt.type_float() }}
        ) as share_of_acquired
    from unpivoted

)

select * from final
