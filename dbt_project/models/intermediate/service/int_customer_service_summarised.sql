-- Service and satisfaction per customer as of run_date (D62).
-- A ticket or answer finds its customer by its identity record (loyalty card, else web shop account);
-- one that carries an email only finds the customer whose records hold that email, when exactly one
-- customer does (a shared or family address finds nobody rather than the wrong person).
-- open_complaint_count: complaints whose latest version is open or pending. last_csat_score and
-- last_recommend_score: the latest answer that gave that score (answers without it are skipped).
with

tickets as (

    select * from {{ ref('int_service_tickets_deduplicated') }}

),

responses as (

    select * from {{ ref('int_service_satisfaction_responses_deduplicated') }}

),

resolved as (

    select * from {{ ref('int_identity_records_resolved') }}

),

records as (

    select * from {{ ref('int_identity_records_unioned') }}

),

email_owners as (

    select
        records.email_normalized,
        min(resolved.customer_id) as customer_id
    from records
    inner join resolved
        on records.record_key = resolved.record_key
    where records.email_normalized is not null
    group by records.email_normalized
    having count(distinct resolved.customer_id) = 1

),

ticket_customers as (

    select
        coalesce(by_record.customer_id, by_email.customer_id) as customer_id,
        tickets.ticket_id,
        tickets.opened_at,
        tickets.is_open_complaint
    from tickets
    left join resolved as by_record
        on tickets.requester_record_key = by_record.record_key
    left join email_owners as by_email
        on tickets.email_normalized = by_email.email_normalized

),

response_customers as (

    select
        coalesce(by_record.customer_id, by_email.customer_id) as customer_id,
        responses.response_id,
        responses.csat_score,
        responses.recommend_score,
        responses.responded_at
    from responses
    left join resolved as by_record
        on responses.respondent_record_key = by_record.record_key
    left join email_owners as by_email
        on responses.email_normalized = by_email.email_normalized

),

ticket_counts as (

    select
        customer_id,
        count(*) as ticket_count,
        sum(case when is_open_complaint then 1 else 0 end) as open_complaint_count,
        max(opened_at) as last_ticket_opened_at
    from ticket_customers
    where customer_id is not null
    group by customer_id

),

csat_ranked as (

    select
        customer_id,
        csat_score,
        responded_at,
        row_number() over (
            partition by customer_id order by responded_at desc, response_id desc
        ) as answer_rank
    from response_customers
    where customer_id is not null and csat_score is not null

),

recommend_ranked as (

    select
        customer_id,
        recommend_score,
        row_number() over (
            partition by customer_id order by responded_at desc, response_id desc
        ) as answer_rank
    from response_customers
    where customer_id is not null and recommend_score is not null

),

customers as (

    select customer_id from ticket_counts
    union
    select customer_id from response_customers
    where customer_id is not null

),

final as (

    select
        customers.customer_id,
        cast(coalesce(ticket_counts.ticket_count, 0) as {{ dbt.type_int() }}) as ticket_count,
        cast(coalesce(ticket_counts.open_complaint_count, 0) as {{ dbt.type_int() }}) as open_complaint_count,
        ticket_counts.last_ticket_opened_at,
        csat_ranked.csat_score as last_csat_score,
        csat_ranked.responded_at as last_csat_at,
        recommend_ranked.recommend_score as last_recommend_score
    from customers
    left join ticket_counts
        on customers.customer_id = ticket_counts.customer_id
    left join csat_ranked
        on customers.customer_id = csat_ranked.customer_id and csat_ranked.answer_rank = 1
    left join recommend_ranked
        on customers.customer_id = recommend_ranked.customer_id and recommend_ranked.answer_rank = 1

)

select * from final
