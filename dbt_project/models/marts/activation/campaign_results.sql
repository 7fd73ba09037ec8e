-- The campaign scorecard: one row per campaign audience (D56), i.e. per export of a segment
-- (ops.segment_runs) and per campaign whose messaging tool held out a control group of its own
-- (messaging campaign_holdouts). For each: orders of the treated members in the window after
-- sent_date (up to the segment's measurement window or the campaign's end date, never after
-- run_date) compared
--   * with the control group over the same window (when the audience has one): difference and a
--     95% normal-approximation confidence interval, the causal lift;
--   * with the same treated members over as many days before sent_date (before/after, paired per
--     customer, with its 95% CI): every audience has it, with or without a control group;
-- the messaging activity of the campaigns sent to it (the catalogue's campaigns linked by segment to
-- the latest export on or before their start date, or the holdout campaign itself): messages sent,
-- delivered, opened, clicked, unsubscribed, marked as spam and their rates; reach (treated members a
-- message was delivered to) and conversion (of those, the share who purchased); cost, return on
-- investment and cost per incremental customer from the control-group lift; the POS coupons of those
-- campaigns (int_pos_coupons_deduplicated, by campaign_id): issued, redeemed, value redeemed.
-- Sums stay exact decimals until the final division: floating-point sums in a parallel aggregate
-- depend on the order rows arrive, and a re-run must give identical results. Divisions are doubles
-- (divide()), the same on every engine (a 4-byte float quotient differs from Spark's double).
{%- set z = 1.96 %}
with

memberships as (

    select * from {{ ref('int_campaign_audience_members') }}

),

segment_runs as (

    select * from {{ ref('stg_ops__segment_runs') }}

),

campaigns as (

    select * from {{ ref('int_messaging_campaigns_deduplicated') }}

),

recipients as (

    select * from {{ ref('int_campaign_recipients') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

coupons as (

    select * from {{ ref('int_pos_coupons_deduplicated') }}

),

holdout_campaigns as (

    select distinct campaign_id
    from recipients
    where is_held_out

),

export_audiences as (

    select
        {{ dbt.concat(["'segment_export:'", "segment_name", "':'",
            dbt.safe_cast("sent_date", dbt.type_string())]) }} as audience_id,
        'segment_export' as audience_source,
        cast(null as {{ dbt.type_string() }}) as campaign_id,
        segment_name,
        sent_date,
        measurement_window_days
    from segment_runs
    where sent_date < {{ run_date_literal() }}

),

campaign_audiences as (

    select
        {{ dbt.concat(["'campaign_holdout:'", "campaigns.campaign_id"]) }} as audience_id,
        'campaign_holdout' as audience_source,
        campaigns.campaign_id,
        campaigns.segment_name,
        campaigns.start_date as sent_date,
        cast(
            {{ dbt.datediff('campaigns.start_date', 'campaigns.end_date', 'day') }} as {{ dbt.type_int() }}  -- noqa: LT05
        ) as measurement_window_days
    from campaigns
    inner join holdout_campaigns
        on campaigns.campaign_id = holdout_campaigns.campaign_id
    where campaigns.start_date < {{ run_date_literal() }}

),

audiences_unioned as (

    select * from export_audiences

    union all

    select * from campaign_audiences

),

audiences as (

    select
        audience_id,
        audience_source,
        campaign_id,
        segment_name,
        sent_date,
        measurement_window_days,
        cast({{ dbt.dateadd('day', 'measurement_window_days', 'sent_date') }} as date) as window_end_date,
        cast({{ dbt.dateadd('day', '-1 * measurement_window_days', 'sent_date') }} as date) as before_start_date
    from audiences_unioned

),

export_links as (

    select
        campaigns.campaign_id,
        export_audiences.audience_id,
        row_number() over (
            partition by campaigns.campaign_id order by export_audiences.sent_date desc
        ) as export_rank
    from campaigns
    inner join export_audiences
        on
            campaigns.segment_name = export_audiences.segment_name
            and campaigns.start_date >= export_audiences.sent_date
    left join holdout_campaigns
        on campaigns.campaign_id = holdout_campaigns.campaign_id
    where holdout_campaigns.campaign_id is null

),

campaign_links as (

    select
        campaign_id,
        audience_id
    from export_links
    where export_rank = 1

    union all

    select
        campaign_id,
        audience_id
    from campaign_audiences

),

audience_campaigns as (

    select
        campaign_links.audience_id,
        count(*) as campaign_count,
        sum(campaigns.budget_amount) as campaign_budget,
        sum(campaigns.cost_amount) as campaign_cost
    from campaign_links
    inner join campaigns
        on campaign_links.campaign_id = campaigns.campaign_id
    group by campaign_links.audience_id

),

audience_messages as (

    select
        campaign_links.audience_id,
        sum(case when recipients.is_sent then 1 else 0 end) as messages_sent,
        sum(case when recipients.is_delivered then 1 else 0 end) as messages_delivered,
        sum(case when recipients.is_delivered and recipients.channel = 'email' then 1 else 0 end)
            as emails_delivered,
        sum(case when recipients.is_opened then 1 else 0 end) as messages_opened,
        sum(case when recipients.is_clicked then 1 else 0 end) as messages_clicked,
        sum(case when recipients.is_unsubscribed then 1 else 0 end) as messages_unsubscribed,
        sum(case when recipients.is_complained then 1 else 0 end) as messages_complained
    from campaign_links
    inner join recipients
        on campaign_links.campaign_id = recipients.campaign_id
    where not recipients.is_held_out
    group by campaign_links.audience_id

),

audience_coupons as (

    select
        campaign_links.audience_id,
        count(*) as coupons_issued,
        sum(case when coupons.is_redeemed then 1 else 0 end) as coupons_redeemed,
        sum(case when coupons.is_redeemed then coupons.coupon_value end) as coupon_value_redeemed
    from campaign_links
    inner join coupons
        on campaign_links.campaign_id = coupons.campaign_id
    group by campaign_links.audience_id

),

reached as (

    select distinct
        campaign_links.audience_id,
        recipients.customer_id
    from campaign_links
    inner join recipients
        on campaign_links.campaign_id = recipients.campaign_id
    where recipients.is_delivered and recipients.customer_id is not null

),

member_outcomes as (

    select
        memberships.audience_id,
        memberships.customer_id,
        memberships.is_control,
        sum(
            case when orders.order_date > audiences.sent_date and orders.net_amount > 0 then 1 else 0 end
        ) as purchase_orders,
        coalesce(sum(case when orders.order_date > audiences.sent_date then orders.net_amount end), 0)
            as revenue,
        sum(
            case when orders.order_date <= audiences.sent_date and orders.net_amount > 0 then 1 else 0 end
        ) as purchase_orders_before,
        coalesce(sum(case when orders.order_date <= audiences.sent_date then orders.net_amount end), 0)
            as revenue_before
    from memberships
    inner join audiences
        on memberships.audience_id = audiences.audience_id
    left join orders
        on
            memberships.customer_id = orders.customer_id
            and audiences.before_start_date < orders.order_date
            and audiences.window_end_date >= orders.order_date
            and orders.order_date <= {{ run_date_literal() }}
    group by
        memberships.audience_id,
        memberships.customer_id,
        memberships.is_control

),

member_flags as (

    select
        member_outcomes.audience_id,
        member_outcomes.customer_id,
        member_outcomes.is_control,
        member_outcomes.purchase_orders,
        member_outcomes.revenue,
        member_outcomes.revenue_before,
        member_outcomes.revenue - member_outcomes.revenue_before as revenue_change,
        case when member_outcomes.purchase_orders > 0 then 1 else 0 end as is_purchaser,
        case when member_outcomes.purchase_orders_before > 0 then 1 else 0 end as was_purchaser_before,
        case when reached.customer_id is not null then 1 else 0 end as is_reached
    from member_outcomes
    left join reached
        on
            member_outcomes.audience_id = reached.audience_id
            and member_outcomes.customer_id = reached.customer_id
            and not member_outcomes.is_control

),

group_stats as (

    select
        audience_id,
        is_control,
        count(*) as customers,
        sum(is_purchaser) as purchasers,
        sum(purchase_orders) as purchase_orders,
        sum(revenue) as revenue_sum,
        sum(revenue * revenue) as revenue_sum_of_squares,
        sum(was_purchaser_before) as purchasers_before,
        sum(revenue_before) as revenue_before_sum,
        sum(revenue_change * revenue_change) as revenue_change_sum_of_squares,
        sum((is_purchaser - was_purchaser_before) * (is_purchaser - was_purchaser_before))
            as purchaser_change_sum_of_squares,
        sum(is_reached) as reached_customers,
        sum(is_reached * is_purchaser) as reached_purchasers
    from member_flags
    group by audience_id, is_control

),

group_moments as (

    select
        audience_id,
        is_control,
        customers,
        purchasers,
        purchase_orders,
        purchasers_before,
        reached_customers,
        reached_purchasers,
        {{ divide('revenue_sum', 'customers') }} as revenue_per_customer,
        {{ divide('revenue_before_sum', 'customers') }} as revenue_per_customer_before,
        case
            when customers > 1
                then {{ divide(
                    'cast(revenue_sum_of_squares as double)'
                    ~ ' - cast(revenue_sum as double) * cast(revenue_sum as double) / customers',
                    'customers - 1'
                ) }}
            else 0
        end as revenue_variance,
        case
            when customers > 1
                then {{ divide(
                    'cast(revenue_change_sum_of_squares as double)'
                    ~ ' - cast(revenue_sum - revenue_before_sum as double)'
                    ~ ' * cast(revenue_sum - revenue_before_sum as double) / customers',
                    'customers - 1'
                ) }}
            else 0
        end as revenue_change_variance,
        case
            when customers > 1
                then {{ divide(
                    'cast(purchaser_change_sum_of_squares as double)'
                    ~ ' - cast(purchasers - purchasers_before as double)'
                    ~ ' * cast(purchasers - purchasers_before as double) / customers',
                    'customers - 1'
                ) }}
            else 0
        end as purchaser_change_variance
    from group_stats

),

compared as (

    select
        audiences.audience_id,
        audiences.audience_source,
        audiences.segment_name,
        audiences.sent_date,
        audiences.measurement_window_days,
        audiences.window_end_date,
        audiences.window_end_date <= {{ run_date_literal() }} as is_window_complete,
        treated.customers as treated_customers,
        control.customers as control_customers,
        {{ divide('treated.purchasers', 'treated.customers') }} as treated_purchase_rate,
        {{ divide('control.purchasers', 'control.customers') }} as control_purchase_rate,
        treated.revenue_per_customer as treated_revenue_per_customer,
        control.revenue_per_customer as control_revenue_per_customer,
        treated.revenue_variance as treated_revenue_variance,
        control.revenue_variance as control_revenue_variance,
        {{ divide('treated.purchase_orders', 'treated.customers') }} as treated_orders_per_customer,
        {{ divide('control.purchase_orders', 'control.customers') }} as control_orders_per_customer,
        {{ divide('treated.purchasers_before', 'treated.customers') }} as treated_purchase_rate_before,
        treated.revenue_per_customer_before as treated_revenue_per_customer_before,
        greatest(treated.revenue_change_variance, 0) as revenue_change_variance,
        greatest(treated.purchaser_change_variance, 0) as purchaser_change_variance,
        treated.reached_customers,
        treated.reached_purchasers
    from audiences
    inner join group_moments as treated
        on
            audiences.audience_id = treated.audience_id
            and not treated.is_control
    left join group_moments as control
        on
            audiences.audience_id = control.audience_id
            and control.is_control

),

lifted as (

    select
        *,
        control_customers is not null as has_control_group,
        treated_purchase_rate - control_purchase_rate as purchase_rate_difference,
        {{ z }} * sqrt(
            treated_purchase_rate * (1 - treated_purchase_rate) / treated_customers
            + control_purchase_rate * (1 - control_purchase_rate) / control_customers
        ) as purchase_rate_margin,
        treated_revenue_per_customer - control_revenue_per_customer as revenue_per_customer_difference,
        {{ z }} * sqrt(
            greatest(treated_revenue_variance, 0) / treated_customers
            + greatest(control_revenue_variance, 0) / control_customers
        ) as revenue_margin,
        treated_purchase_rate - treated_purchase_rate_before as purchase_rate_change,
        {{ z }} * sqrt(purchaser_change_variance / treated_customers) as purchase_rate_change_margin,
        treated_revenue_per_customer - treated_revenue_per_customer_before as revenue_per_customer_change,
        {{ z }} * sqrt(revenue_change_variance / treated_customers) as revenue_change_margin
    from compared

),

scored as (

    select
        lifted.*,
        audience_campaigns.campaign_count,
        audience_campaigns.campaign_budget,
        audience_campaigns.campaign_cost,
        audience_messages.messages_sent,
        audience_messages.messages_delivered,
        audience_messages.emails_delivered,
        audience_messages.messages_opened,
        audience_messages.messages_clicked,
        audience_messages.messages_unsubscribed,
        audience_messages.messages_complained,
        audience_coupons.coupons_issued,
        audience_coupons.coupons_redeemed,
        audience_coupons.coupon_value_redeemed,
        lifted.purchase_rate_difference * lifted.treated_customers as incremental_customers,
        lifted.revenue_per_customer_difference * lifted.treated_customers as incremental_revenue,
        (lifted.revenue_per_customer_difference - lifted.revenue_margin) * lifted.treated_customers
            as incremental_revenue_ci_low,
        (lifted.revenue_per_customer_difference + lifted.revenue_margin) * lifted.treated_customers
            as incremental_revenue_ci_high
    from lifted
    left join audience_campaigns
        on lifted.audience_id = audience_campaigns.audience_id
    left join audience_messages
        on lifted.audience_id = audience_messages.audience_id
    left join audience_coupons
        on lifted.audience_id = audience_coupons.audience_id

),

final as (

    select
        audience_id,
        audience_source,
        segment_name,
        sent_date,
        measurement_window_days,
        window_end_date,
        is_window_complete,
        treated_customers,
        control_customers,
        treated_purchase_rate,
        control_purchase_rate,
        purchase_rate_difference,
        purchase_rate_difference - purchase_rate_margin as purchase_rate_difference_ci_low,
        purchase_rate_difference + purchase_rate_margin as purchase_rate_difference_ci_high,
        treated_revenue_per_customer,
        control_revenue_per_customer,
        revenue_per_customer_difference,
        revenue_per_customer_difference - revenue_margin as revenue_per_customer_difference_ci_low,
        revenue_per_customer_difference + revenue_margin as revenue_per_customer_difference_ci_high,
        treated_orders_per_customer,
        control_orders_per_customer,
        treated_orders_per_customer - control_orders_per_customer as orders_per_customer_difference,
        has_control_group,
        treated_purchase_rate_before,
        purchase_rate_change,
        purchase_rate_change - purchase_rate_change_margin as purchase_rate_change_ci_low,
        purchase_rate_change + purchase_rate_change_margin as purchase_rate_change_ci_high,
        treated_revenue_per_customer_before,
        revenue_per_customer_change,
        revenue_per_customer_change - revenue_change_margin as revenue_per_customer_change_ci_low,
        revenue_per_customer_change + revenue_change_margin as revenue_per_customer_change_ci_high,
        cast(coalesce(campaign_count, 0) as {{ dbt.type_bigint() }}) as campaign_count,
        cast(coalesce(messages_sent, 0) as {{ dbt.type_bigint() }}) as messages_sent,
        cast(coalesce(messages_delivered, 0) as {{ dbt.type_bigint() }}) as messages_delivered,
        cast(coalesce(messages_opened, 0) as {{ dbt.type_bigint() }}) as messages_opened,
        cast(coalesce(messages_clicked, 0) as {{ dbt.type_bigint() }}) as messages_clicked,
        cast(coalesce(messages_unsubscribed, 0) as {{ dbt.type_bigint() }}) as messages_unsubscribed,
        cast(coalesce(messages_complained, 0) as {{ dbt.type_bigint() }}) as messages_complained,
        {{ divide('messages_delivered', 'nullif(messages_sent, 0)') }} as delivery_rate,
        {{ divide('messages_opened', 'nullif(emails_delivered, 0)') }} as open_rate,
        {{ divide('messages_clicked', 'nullif(emails_delivered, 0)') }} as click_rate,
        {{ divide('messages_unsubscribed', 'nullif(emails_delivered, 0)') }} as unsubscribe_rate,
        {{ divide('messages_complained', 'nullif(emails_delivered, 0)') }} as complaint_rate,
        cast(reached_customers as {{ dbt.type_bigint() }}) as reached_customers,
        case
            when campaign_count > 0 then {{ divide('reached_customers', 'treated_customers') }}
        end as reach_rate,
        {{ divide('reached_purchasers', 'nullif(reached_customers, 0)') }} as conversion_rate,
        cast(coalesce(coupons_issued, 0) as {{ dbt.type_bigint() }}) as coupons_issued,
        cast(coalesce(coupons_redeemed, 0) as {{ dbt.type_bigint() }}) as coupons_redeemed,
        {{ divide('coupons_redeemed', 'nullif(coupons_issued, 0)') }} as coupon_redemption_rate,
        coupon_value_redeemed,
        campaign_budget,
        campaign_cost,
        incremental_customers,
        incremental_revenue,
        incremental_revenue_ci_low,
        incremental_revenue_ci_high,
        case
            when campaign_cost > 0
                then {{ divide('incremental_revenue - campaign_cost', 'campaign_cost') }}
        end as roi,
        case
            when campaign_cost > 0
                then {{ divide('incremental_revenue_ci_low - campaign_cost', 'campaign_cost') }}
        end as roi_ci_low,
        case
            when campaign_cost > 0
                then {{ divide('incremental_revenue_ci_high - campaign_cost', 'campaign_cost') }}
        end as roi_ci_high,
        case
            when campaign_cost is not null and incremental_customers > 0
                then {{ divide('campaign_cost', 'incremental_customers') }}
        end as cost_per_incremental_customer
    from scored

)

select * from final
