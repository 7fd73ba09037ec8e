-- The campaign catalogue as of run_date: one row per campaign, its latest version (updated_at, then
-- the later landing, then the later line), as every catalogue-like source is deduplicated.
with

campaigns as (

    select * from {{ ref('stg_messaging__campaigns') }}

),

ranked as (

    select
        campaign_id,
        campaign_name,
        segment_name,
        channel,
        start_date,
        end_date,
        goal,
        budget_amount,
        cost_amount,
        currency,
        updated_at,
        row_number() over (
            partition by campaign_id
            order by updated_at desc, load_date desc, _source_file desc, _source_line desc
        ) as version_rank
    from campaigns
    where updated_at < {{ run_cutoff_at() }}

),

final as (

    select
        campaign_id,
        campaign_name,
        segment_name,
        channel,
        start_date,
        end_date,
        goal,
        budget_amount,
        cost_amount,
        currency,
        updated_at
    from ranked
    where version_rank = 1

)

select * from final
