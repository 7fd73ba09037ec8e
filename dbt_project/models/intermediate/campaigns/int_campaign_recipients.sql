-- One row per campaign and address the messaging tools report on (email activity, SMS delivery
-- receipts) up to the cutoff, with what happened to it and, when the address belongs to exactly one
-- customer, that customer. An address on the records of several customers (a family mailbox, a
-- store phone) reaches someone identity keeps apart: it counts for the campaign's rates but is given
-- to no customer (customer_id null). Email: delivered = a delivered, open or click event, or sent and
-- not bounced (Mailchimp reports no deliveries: its delivery rate is sends minus bounces). SMS:
-- sent = any receipt but failed, delivered = a delivered receipt, bounced = undelivered or failed
-- without a later delivery. Addresses a campaign held out (campaign_holdouts: tool-side control
-- groups) are rows of their own with is_held_out and nothing sent.
with

email_activity as (

    select * from {{ ref('stg_messaging__email_events') }}

),

sms_receipts as (

    select * from {{ ref('stg_messaging__sms_receipts') }}

),

holdouts as (

    select * from {{ ref('stg_messaging__campaign_holdouts') }}

),

records as (

    select * from {{ ref('int_identity_records_unioned') }}

),

resolved as (

    select * from {{ ref('int_identity_records_resolved') }}

),

email_events as (

    select
        campaign_id,
        email_normalized,
        max(case when event_type = 'sent' then 1 else 0 end) as has_sent,
        max(case when event_type in ('delivered', 'open', 'click') then 1 else 0 end) as has_delivered,
        max(case when event_type = 'bounce' then 1 else 0 end) as has_bounce,
        max(case when event_type = 'open' then 1 else 0 end) as has_open,
        max(case when event_type = 'click' then 1 else 0 end) as has_click,
        max(case when event_type = 'unsubscribe' then 1 else 0 end) as has_unsubscribe,
        max(case when event_type = 'abuse' then 1 else 0 end) as has_abuse,
        min(event_at) as first_event_at
    from email_activity
    where event_at < {{ run_cutoff_at() }} and email_normalized is not null
    group by campaign_id, email_normalized

),

sms_events as (

    select
        campaign_id,
        phone_e164,
        max(case when message_status <> 'failed' then 1 else 0 end) as has_sent,
        max(case when message_status = 'delivered' then 1 else 0 end) as has_delivered,
        max(case when message_status in ('undelivered', 'failed') then 1 else 0 end) as has_bounce,
        min(event_at) as first_event_at
    from sms_receipts
    where event_at < {{ run_cutoff_at() }} and phone_e164 is not null
    group by campaign_id, phone_e164

),

held_out as (

    select
        campaign_id,
        channel,
        email_normalized,
        phone_e164,
        min(held_out_at) as first_event_at
    from holdouts
    where held_out_at < {{ run_cutoff_at() }} and coalesce(email_normalized, phone_e164) is not null
    group by campaign_id, channel, email_normalized, phone_e164

),

address_customers as (

    select
        'email' as channel,
        records.email_normalized as address,
        min(resolved.customer_id) as customer_id,
        count(distinct resolved.customer_id) as customers
    from records
    inner join resolved
        on records.record_key = resolved.record_key
    where records.email_normalized is not null
    group by records.email_normalized

    union all

    select
        'sms' as channel,
        records.phone_e164 as address,
        min(resolved.customer_id) as customer_id,
        count(distinct resolved.customer_id) as customers
    from records
    inner join resolved
        on records.record_key = resolved.record_key
    where records.phone_e164 is not null
    group by records.phone_e164

),

recipients as (

    select
        campaign_id,
        'email' as channel,
        email_normalized,
        cast(null as {{ dbt.type_string() }}) as phone_e164,
        email_normalized as address,
        has_sent = 1 or has_delivered = 1 or has_bounce = 1 as is_sent,
        has_delivered = 1 or (has_sent = 1 and has_bounce = 0) as is_delivered,
        has_bounce = 1 and has_delivered = 0 as is_bounced,
        has_open = 1 as is_opened,
        has_click = 1 as is_clicked,
        has_unsubscribe = 1 as is_unsubscribed,
        has_abuse = 1 as is_complained,
        false as is_held_out,
        first_event_at
    from email_events

    union all

    select
        campaign_id,
        'sms' as channel,
        cast(null as {{ dbt.type_string() }}) as email_normalized,
        phone_e164,
        phone_e164 as address,
        has_sent = 1 or has_delivered = 1 as is_sent,
        has_delivered = 1 as is_delivered,
        has_bounce = 1 and has_delivered = 0 as is_bounced,
        false as is_opened,
        false as is_clicked,
        false as is_unsubscribed,
        false as is_complained,
        false as is_held_out,
        first_event_at
    from sms_events

    union all

    select
        campaign_id,
        channel,
        email_normalized,
        phone_e164,
        coalesce(email_normalized, phone_e164) as address,
        false as is_sent,
        false as is_delivered,
        false as is_bounced,
        false as is_opened,
        false as is_clicked,
        false as is_unsubscribed,
        false as is_complained,
        true as is_held_out,
        first_event_at
    from held_out

),

final as (

    select
        recipients.campaign_id,
        recipients.channel,
        recipients.email_normalized,
        recipients.phone_e164,
        case when address_customers.customers = 1 then address_customers.customer_id end as customer_id,
        coalesce(address_customers.customers, 0) as matching_customers,
        recipients.is_sent,
        recipients.is_delivered,
        recipients.is_bounced,
        recipients.is_opened,
        recipients.is_clicked,
        recipients.is_unsubscribed,
        recipients.is_complained,
        recipients.is_held_out,
        recipients.first_event_at
    from recipients
    left join address_customers
        on
            recipients.channel = address_customers.channel
            and recipients.address = address_customers.address

)

select * from final
