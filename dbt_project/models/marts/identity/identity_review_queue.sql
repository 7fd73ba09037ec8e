-- Clusters over-merge protection did not publish as found, for a data engineer to review as of
-- run_date: one row per suspicious first-pass cluster with why it was held back (too many records,
-- conflicting records, a keep_apart pair inside), how many records it had, and what was published
-- instead (split on strong links, or dissolved into single records) with the resulting customer ids.
-- Fix a wrong call with the overrides file (force_merge / keep_apart); cdp explain shows the links.
with

resolved as (

    select * from {{ ref('int_identity_records_resolved') }}

),

clustered as (

    select * from {{ ref('int_identity_records_clustered') }}

),

held_back as (

    select
        clustered.pass1_label,
        clustered.review_reason,
        clustered.cluster_status,
        resolved.customer_id,
        resolved.record_key
    from clustered
    inner join resolved
        on clustered.record_key = resolved.record_key
    where clustered.cluster_status <> 'ok'

),

final as (

    select
        {{ run_date_literal() }} as as_of_date,
        {{ dbt.hash('pass1_label') }} as review_id,
        max(review_reason) as review_reason,
        max(cluster_status) as resolution,
        count(*) as record_count,
        count(distinct customer_id) as published_customer_count,
        min(customer_id) as first_customer_id,
        min(record_key) as first_record_key
    from held_back
    group by pass1_label

)

select * from final
