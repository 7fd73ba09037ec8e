-- One row per customer of dim_customers as of run_date: profile without direct identifiers (no names,
-- email, phone, postcode or birth date, not even masked; has_email / has_phone and birth_year), RFM, lifecycle,
-- behaviour and loyalty tier, CLV; loyalty points, birthday month and service (issue #23: from their
-- intermediate models; the birthday's day is left out, D63). One import CTE per mart and one left join
-- each, so adding a mart (e.g. CLV) is one CTE, one join and its columns.
with

customers as (

    select * from {{ ref('dim_customers') }}

),

rfm as (

    select * from {{ ref('customer_rfm') }}

),

lifecycle as (

    select * from {{ ref('customer_lifecycle') }}

),

behaviour as (

    select * from {{ ref('customer_behaviour') }}

),

tiers as (

    select * from {{ ref('customer_tiers') }}

),

clv as (

    select * from {{ ref('customer_clv') }}

),

points as (

    select * from {{ ref('int_customer_points_summarised') }}

),

birthdays as (

    select * from {{ ref('int_customer_birthdays_computed') }}

),

service as (

    select * from {{ ref('int_customer_service_summarised') }}

),

final as (

    select
        customers.customer_id,
        {{ run_date_literal() }} as as_of_date,
        -- profile (masked)
        customers.gender,
        customers.birth_year,
        customers.city,
        customers.has_email,
        customers.has_phone,
        customers.is_email_contactable,
        customers.is_sms_contactable,
        customers.channels,
        customers.has_pos,
        customers.has_ecommerce,
        customers.has_social,
        customers.source_record_count,
        customers.first_seen_at,
        customers.last_seen_at,
        -- rfm
        rfm.rfm_recency_days,
        rfm.rfm_frequency,
        rfm.rfm_monetary,
        rfm.r_score,
        rfm.f_score,
        rfm.m_score,
        rfm.rfm_score,
        rfm.rfm_segment,
        -- lifecycle
        lifecycle.lifecycle_stage,
        lifecycle.first_purchase_date,
        lifecycle.last_purchase_date,
        lifecycle.purchase_count,
        lifecycle.purchase_day_count,
        lifecycle.days_since_last_purchase,
        lifecycle.is_activated,
        lifecycle.is_retained,
        -- behaviour
        behaviour.order_count,
        behaviour.preferred_channel,
        behaviour.pos_order_share,
        behaviour.ecommerce_order_share,
        behaviour.pos_revenue_share,
        behaviour.ecommerce_revenue_share,
        behaviour.preferred_category,
        behaviour.preferred_category_spend_share,
        behaviour.preferred_weekday,
        behaviour.preferred_time_of_day,
        behaviour.average_basket_amount,
        behaviour.average_basket_items,
        behaviour.discounted_spend_share,
        behaviour.discount_rate,
        behaviour.return_order_count,
        behaviour.return_rate,
        behaviour.mean_days_between_purchases,
        behaviour.median_days_between_purchases,
        behaviour.social_interaction_count,
        behaviour.social_engagement_score,
        behaviour.referral_event_count,
        behaviour.last_interaction_at,
        behaviour.last_campaign_id,
        behaviour.last_campaign_at,
        -- tier
        tiers.tier,
        tiers.tier_rank,
        tiers.spend_12m,
        tiers.orders_12m,
        tiers.next_tier,
        tiers.spend_to_next_tier,
        tiers.orders_to_next_tier,
        -- clv
        clv.p_alive,
        clv.expected_purchases_90d,
        clv.expected_purchases_365d,
        clv.expected_avg_order_value,
        clv.clv_12m,
        clv.historical_value,
        clv.is_clv_model_used,
        clv.clv_fallback_reason,
        -- loyalty points and birthday
        points.points_balance,
        points.next_points_expiry_date,
        points.next_expiring_points,
        birthdays.birth_month,
        coalesce(birthdays.is_birthday_this_month, false) as is_birthday_this_month,
        -- service
        coalesce(service.open_complaint_count, 0) as open_complaint_count,
        coalesce(service.open_complaint_count, 0) > 0 as has_open_complaint,
        service.last_csat_score,
        service.last_recommend_score
    from customers
    left join rfm
        on customers.customer_id = rfm.customer_id
    left join lifecycle
        on customers.customer_id = lifecycle.customer_id
    left join behaviour
        on customers.customer_id = behaviour.customer_id
    left join tiers
        on customers.customer_id = tiers.customer_id
    left join clv
        on customers.customer_id = clv.customer_id
    left join points
        on customers.customer_id = points.customer_id
    left join birthdays
        on customers.customer_id = birthdays.customer_id
    left join service
        on customers.customer_id = service.customer_id

)

select * from final
