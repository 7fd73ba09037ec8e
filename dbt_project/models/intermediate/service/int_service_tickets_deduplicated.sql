-- One row per ticket (ticket_id) as of run_date: its latest version (updated_at, then landing) of the
-- versions changed before run_date + 1 day, with the identity record of the requester: the loyalty card
-- the agent looked up, else the web shop account (null when the helpdesk knows an email only; see
-- int_customer_service_summarised for how those find their customer).
with

tickets as (

    select * from {{ ref('stg_service__tickets') }}

),

ranked as (

    select
        ticket_id,
        ticket_type,
        channel,
        category,
        status,
        resolution,
        opened_at,
        closed_at,
        updated_at,
        loyalty_card_no,
        web_customer_id,
        email_normalized,
        subject,
        row_number() over (
            partition by ticket_id
            order by updated_at desc, load_date desc, _source_file desc, _source_line desc
        ) as version_rank
    from tickets
    where updated_at < {{ run_cutoff_at() }}

),

final as (

    select
        ticket_id,
        ticket_type,
        channel,
        category,
        status,
        resolution,
        opened_at,
        closed_at,
        updated_at,
        case
            when loyalty_card_no is not null
                then {{ dbt.concat(["'pos:loyalty_members:'", "loyalty_card_no"]) }}
            when web_customer_id is not null
                then {{ dbt.concat(["'ecommerce:customers:'", "web_customer_id"]) }}
        end as requester_record_key,
        email_normalized,
        subject,
        ticket_type = 'complaint' and status in ('open', 'pending') as is_open_complaint
    from ranked
    where version_rank = 1

)

select * from final
