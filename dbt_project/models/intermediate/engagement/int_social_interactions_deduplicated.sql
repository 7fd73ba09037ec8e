-- One row per social interaction (interaction_id) before run_date + 1 day; resent events count once.
with

interactions as (

    select * from {{ ref('stg_social__interactions') }}

),

ranked as (

    select
        interaction_id,
        platform,
        user_handle,
        event_type,
        interacted_at,
        post_id,
        campaign_id,
        load_date,
        row_number() over (
            partition by interaction_id
            order by load_date desc, _source_file desc, _source_line desc
        ) as landing_rank
    from interactions
    where interacted_at < {{ run_cutoff_at() }}

),

final as (

    select
        interaction_id,
        platform,
        user_handle,
        {{ dbt.concat(["'social:profiles:'", "platform", "':'", "user_handle"]) }} as record_key,
        event_type,
        interacted_at,
        post_id,
        campaign_id,
        load_date
    from ranked
    where landing_rank = 1

)

select * from final
