-- Who was treated and who was the control group of each campaign audience, one row per audience and
-- customer. Two kinds of audience (D56):
--   segment_export   an export of a CDP segment: its members as ops.segment_membership recorded them
--                    that night, the control group held out by the export (control_share);
--   campaign_holdout a campaign whose messaging tool held out a control group itself
--                    (messaging campaign_holdouts): the customers it sent to are treated, the customers
--                    of the held-out addresses the control group. A customer both sent to and held out
--                    (two addresses) counts as treated. Addresses of no single customer are left out.
with

memberships as (

    select * from {{ ref('stg_ops__segment_memberships') }}

),

recipients as (

    select * from {{ ref('int_campaign_recipients') }}

),

campaigns as (

    select * from {{ ref('int_messaging_campaigns_deduplicated') }}

),

holdout_campaigns as (

    select distinct campaign_id
    from recipients
    where is_held_out

),

export_members as (

    select
        {{ dbt.concat(["'segment_export:'", "segment_name", "':'",
            dbt.safe_cast("sent_date", dbt.type_string())]) }} as audience_id,
        'segment_export' as audience_source,
        segment_name,
        sent_date,
        customer_id,
        is_control
    from memberships

),

campaign_customers as (

    select
        recipients.campaign_id,
        recipients.customer_id,
        max(case when recipients.is_sent then 1 else 0 end) as was_sent
    from recipients
    inner join holdout_campaigns
        on recipients.campaign_id = holdout_campaigns.campaign_id
    where recipients.customer_id is not null and (recipients.is_sent or recipients.is_held_out)
    group by recipients.campaign_id, recipients.customer_id

),

campaign_members as (

    select
        {{ dbt.concat(["'campaign_holdout:'", "campaigns.campaign_id"]) }} as audience_id,
        'campaign_holdout' as audience_source,
        campaigns.segment_name,
        campaigns.start_date as sent_date,
        campaign_customers.customer_id,
        campaign_customers.was_sent = 0 as is_control
    from campaign_customers
    inner join campaigns
        on campaign_customers.campaign_id = campaigns.campaign_id

),

final as (

    select * from export_members

    union all

    select * from campaign_members

)

select * from final
