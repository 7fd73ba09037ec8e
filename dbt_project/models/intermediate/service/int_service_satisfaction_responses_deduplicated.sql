-- One survey answer per response_id given before run_date + 1 day; a resent answer counts once.
with

responses as (

    select * from {{ ref('stg_service__satisfaction_responses') }}

),

ranked as (

    select
        response_id,
        ticket_id,
        csat_score,
        recommend_score,
        responded_at,
        loyalty_card_no,
        web_customer_id,
        email_normalized,
        row_number() over (
            partition by response_id
            order by load_date desc, _source_file desc, _source_line desc
        ) as landing_rank
    from responses
    where responded_at < {{ run_cutoff_at() }}

),

final as (

    select
        response_id,
        ticket_id,
        csat_score,
        recommend_score,
        responded_at,
        case
            when loyalty_card_no is not null
                then {{ dbt.concat(["'pos:loyalty_members:'", "loyalty_card_no"]) }}
            when web_customer_id is not null
                then {{ dbt.concat(["'ecommerce:customers:'", "web_customer_id"]) }}
        end as respondent_record_key,
        email_normalized
    from ranked
    where landing_rank = 1

)

select * from final
