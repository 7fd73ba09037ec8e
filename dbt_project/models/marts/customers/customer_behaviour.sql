-- How each customer buys and engages, as of run_date: one row per customer of dim_customers (metrics
-- null when there is nothing to measure). Purchases are orders with net_amount > 0 (cancelled,
-- refunded and return-only orders are not purchases). Every preference is an argmax with
-- deterministic ties (see the column descriptions). Weekdays and times of day are the stores' local
-- time (var market_timezone, the home's market profile): a 10:00 visit in Shanghai is a morning visit,
-- not the 02:00 UTC it is stored as.
{%- set channels = ['pos', 'ecommerce'] %}
{%- set weekdays = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] %}
{%- set engagement_window_days = var('engagement_window_days') | int %}
{%- set half_life_days = var('engagement_half_life_days') %}
{%- set referral_event_types = var('funnel_referral_event_types') %}
{%- set local_ordered_at = local_timestamp('ordered_at', var('market_timezone')) %}
with

customers as (

    select * from {{ ref('dim_customers') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

order_lines as (

    select * from {{ ref('int_order_lines_unioned') }}

),

interactions as (

    select * from {{ ref('int_social_interactions_deduplicated') }}

),

resolved as (

    select * from {{ ref('int_identity_records_resolved') }}

),

customer_orders as (

    select
        customer_id,
        order_id,
        channel,
        ordered_at,
        order_date,
        status,
        item_count,
        gross_amount,
        discount_amount,
        return_amount,
        net_amount,
        is_return,
        has_discount,
        net_amount > 0 as is_purchase
    from orders
    where customer_id is not null

),

order_summary as (

    select
        customer_id,
        count(*) as order_count,
        sum(case when is_purchase then 1 else 0 end) as purchase_count,
        -- Exact sum / count (avg of decimals rounds differently on each engine).
        {{ divide(
            'sum(case when is_purchase then net_amount end)',
            'count(case when is_purchase then net_amount end)'
        ) }} as average_basket_amount,
        avg(case when is_purchase then item_count end) as average_basket_items,
        sum(case when is_purchase then net_amount else 0 end) as purchase_amount,
        sum(case when is_purchase and has_discount then net_amount else 0 end) as discounted_purchase_amount,
        sum(case when status <> 'cancelled' then gross_amount else 0 end) as gross_amount,
        sum(case when status <> 'cancelled' then discount_amount else 0 end) as discount_amount,
        sum(
            case
                when status = 'refunded' then gross_amount - discount_amount
                else return_amount
            end
        ) as returned_amount,
        sum(case when is_return or status = 'refunded' then 1 else 0 end) as return_order_count
    from customer_orders
    group by customer_id

),

channel_stats as (

    select
        customer_id,
        channel,
        count(*) as purchase_count,
        sum(net_amount) as purchase_amount
    from customer_orders
    where is_purchase
    group by customer_id, channel

),

channel_ranked as (

    select
        customer_id,
        channel,
        purchase_count,
        purchase_amount,
        row_number() over (
            partition by customer_id
            order by purchase_count desc, purchase_amount desc, channel asc
        ) as preference_rank
    from channel_stats

),

channel_shares as (

    select
        customer_id,
        max(case when preference_rank = 1 then channel end) as preferred_channel,
        {%- for channel in channels %}
        sum(case when channel = '{{ channel }}' then purchase_count else 0 end) as {{ channel }}_purchase_count,
        sum(case when channel = '{{ channel }}' then purchase_amount else 0 end) as {{ channel }}_purchase_amount,
        {%- endfor %}
        sum(purchase_count) as purchase_count,
        sum(purchase_amount) as purchase_amount
    from channel_ranked
    group by customer_id

),

category_stats as (

    select
        customer_orders.customer_id,
        order_lines.category,
        sum(order_lines.line_net_amount) as category_amount,
        sum(order_lines.quantity) as category_quantity
    from order_lines
    inner join customer_orders
        on order_lines.order_id = customer_orders.order_id
    where
        customer_orders.status not in ('cancelled', 'refunded')
        and order_lines.category is not null
    group by customer_orders.customer_id, order_lines.category

),

category_ranked as (

    select
        customer_id,
        category,
        category_amount,
        sum(case when category_amount > 0 then category_amount else 0 end)
            over (partition by customer_id)
            as positive_amount,
        row_number() over (
            partition by customer_id
            order by category_amount desc, category_quantity desc, category asc
        ) as preference_rank
    from category_stats

),

preferred_categories as (

    select
        customer_id,
        category as preferred_category,
        cast(
            {{ divide('category_amount', 'positive_amount') }} as {{ dbt.type_float() }}
        ) as preferred_category_spend_share
    from category_ranked
    where
        preference_rank = 1
        and category_amount > 0

),

local_purchases as (

    select
        customer_id,
        {{ local_ordered_at }} as ordered_at_local
    from customer_orders
    where is_purchase

),

purchase_times as (

    select
        customer_id,
        {{ iso_day_of_week('ordered_at_local') }} as iso_weekday,
        case
            when extract(hour from ordered_at_local) < 6 then 'night'
            when extract(hour from ordered_at_local) < 12 then 'morning'
            when extract(hour from ordered_at_local) < 18 then 'afternoon'
            else 'evening'
        end as time_of_day
    from local_purchases

),

weekday_ranked as (

    select
        customer_id,
        iso_weekday,
        row_number() over (
            partition by customer_id
            order by count(*) desc, iso_weekday asc
        ) as preference_rank
    from purchase_times
    group by customer_id, iso_weekday

),

time_of_day_ranked as (

    select
        customer_id,
        time_of_day,
        row_number() over (
            partition by customer_id
            order by
                count(*) desc,
                case time_of_day
                    when 'morning' then 1 when 'afternoon' then 2 when 'evening' then 3 else 4
                end asc
        ) as preference_rank
    from purchase_times
    group by customer_id, time_of_day

),

purchase_days as (

    select distinct
        customer_id,
        order_date
    from customer_orders
    where is_purchase

),

purchase_gaps as (

    select
        customer_id,
        {{ dbt.datediff(
            'lag(order_date) over (partition by customer_id order by order_date)',
            'order_date',
            'day',
        ) }} as gap_days
    from purchase_days

),

purchase_intervals as (

    select
        customer_id,
        avg(gap_days) as mean_days_between_purchases,
        {{ median('gap_days') }} as median_days_between_purchases
    from purchase_gaps
    where gap_days is not null
    group by customer_id

),

customer_interactions as (

    select
        resolved.customer_id,
        interactions.interaction_id,
        interactions.event_type,
        interactions.interacted_at,
        interactions.campaign_id,
        {{ dbt.datediff(
            'cast(interactions.interacted_at as date)', run_date_literal(), 'day'
        ) }} as age_days
    from interactions
    inner join resolved
        on interactions.record_key = resolved.record_key

),

weighted_interactions as (

    select
        customer_id,
        event_type,
        interacted_at,
        age_days,
        cast(
            {{ round_half_up(
                event_weight('event_type', var('engagement_event_weights'))
                ~ ' * power(0.5, age_days / cast(' ~ half_life_days ~ ' as double))',
                6
            ) }} as decimal(18, 6)
        ) as engagement_points
    from customer_interactions

),

engagement as (

    select
        customer_id,
        sum(case when age_days < {{ engagement_window_days }} then 1 else 0 end) as social_interaction_count,
        sum(
            case when age_days < {{ engagement_window_days }} then engagement_points else 0 end
        ) as social_engagement_score,
        sum(
            case when event_type in ('{{ referral_event_types | join("', '") }}') then 1 else 0 end
        ) as referral_event_count,
        max(interacted_at) as last_interaction_at
    from weighted_interactions
    group by customer_id

),

campaign_ranked as (

    select
        customer_id,
        campaign_id,
        interacted_at,
        row_number() over (
            partition by customer_id
            order by interacted_at desc, interaction_id desc
        ) as recency_rank
    from customer_interactions
    where campaign_id is not null

),

final as (

    select
        customers.customer_id,
        {{ run_date_literal() }} as as_of_date,
        cast(coalesce(order_summary.order_count, 0) as {{ dbt.type_int() }}) as order_count,
        cast(coalesce(order_summary.purchase_count, 0) as {{ dbt.type_int() }}) as purchase_count,
        channel_shares.preferred_channel,
        {%- for channel in channels %}
        cast(
            {{ divide('channel_shares.' ~ channel ~ '_purchase_count', 'channel_shares.purchase_count') }}
            as {{ dbt.type_float() }}
        ) as {{ channel }}_order_share,
        cast(
            {{ divide('channel_shares.' ~ channel ~ '_purchase_amount', 'channel_shares.purchase_amount') }}
            as {{ dbt.type_float() }}
        ) as {{ channel }}_revenue_share,
        {%- endfor %}
        preferred_categories.preferred_category,
        preferred_categories.preferred_category_spend_share,
        case weekday_ranked.iso_weekday
            {%- for weekday in weekdays %}
            when {{ loop.index }} then '{{ weekday }}'
            {%- endfor %}
        end as preferred_weekday,
        time_of_day_ranked.time_of_day as preferred_time_of_day,
        -- A double, not rounded to cents: engines round a double to a decimal differently at .5 cents.
        order_summary.average_basket_amount,
        cast(order_summary.average_basket_items as {{ dbt.type_float() }}) as average_basket_items,
        cast(
            {{ divide('order_summary.discounted_purchase_amount', 'nullif(order_summary.purchase_amount, 0)') }}
            as {{ dbt.type_float() }}
        ) as discounted_spend_share,
        cast(
            {{ divide('order_summary.discount_amount', 'nullif(order_summary.gross_amount, 0)') }}
            as {{ dbt.type_float() }}
        ) as discount_rate,
        cast(coalesce(order_summary.return_order_count, 0) as {{ dbt.type_int() }}) as return_order_count,
        cast(
            {{ divide(
                'order_summary.returned_amount',
                'nullif(order_summary.gross_amount - order_summary.discount_amount, 0)'
            ) }}
            as {{ dbt.type_float() }}
        ) as return_rate,
        cast(purchase_intervals.mean_days_between_purchases as {{ dbt.type_float() }})
            as mean_days_between_purchases,
        cast(purchase_intervals.median_days_between_purchases as {{ dbt.type_float() }})
            as median_days_between_purchases,
        cast(coalesce(engagement.social_interaction_count, 0) as {{ dbt.type_int() }}) as social_interaction_count,
        cast(coalesce(engagement.social_engagement_score, 0) as decimal(18, 6)) as social_engagement_score,
        cast(coalesce(engagement.referral_event_count, 0) as {{ dbt.type_int() }}) as referral_event_count,
        engagement.last_interaction_at,
        campaign_ranked.campaign_id as last_campaign_id,
        campaign_ranked.interacted_at as last_campaign_at
    from customers
    left join order_summary
        on customers.customer_id = order_summary.customer_id
    left join channel_shares
        on customers.customer_id = channel_shares.customer_id
    left join preferred_categories
        on customers.customer_id = preferred_categories.customer_id
    left join weekday_ranked
        on
            customers.customer_id = weekday_ranked.customer_id
            and weekday_ranked.preference_rank = 1
    left join time_of_day_ranked
        on
            customers.customer_id = time_of_day_ranked.customer_id
            and time_of_day_ranked.preference_rank = 1
    left join purchase_intervals
        on customers.customer_id = purchase_intervals.customer_id
    left join engagement
        on customers.customer_id = engagement.customer_id
    left join campaign_ranked
        on
            customers.customer_id = campaign_ranked.customer_id
            and campaign_ranked.recency_rank = 1

)

select * from final
