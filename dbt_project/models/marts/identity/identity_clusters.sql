-- Quality of every customer's cluster as of run_date: how many records and sources it holds and how
-- firmly they hold together. density = accepted links inside / possible pairs (1 = every record
-- linked to every other; a long chain of single links is thin and worth a look); links by rule; the
-- weakest probabilistic link. cluster_status: ok, or split / dissolved by over-merge protection
-- (review_reason says why; identity_review_queue lists them).
with

resolved as (

    select * from {{ ref('int_identity_records_resolved') }}

),

links as (

    select * from {{ ref('int_identity_links') }}

),

inside_links as (

    select
        left_records.customer_id,
        links.link_rule,
        links.match_probability
    from links
    inner join resolved as left_records
        on links.record_key_l = left_records.record_key
    inner join resolved as right_records
        on links.record_key_r = right_records.record_key
    where
        links.is_accepted
        and left_records.customer_id = right_records.customer_id

),

link_counts as (

    select
        customer_id,
        count(*) as link_count,
        sum(case when link_rule in ('email', 'phone', 'email+phone') then 1 else 0 end)
            as deterministic_link_count,
        sum(case when link_rule = 'probabilistic' then 1 else 0 end) as probabilistic_link_count,
        sum(case when link_rule = 'override' then 1 else 0 end) as override_link_count,
        min(case when link_rule = 'probabilistic' then match_probability end)
            as weakest_link_probability
    from inside_links
    group by customer_id

),

clusters as (

    select
        customer_id,
        count(*) as record_count,
        count(distinct source) as source_count,
        max(cluster_status) as cluster_status,
        max(id_minted_on) as id_minted_on
    from resolved
    group by customer_id

),

final as (

    select
        clusters.customer_id,
        clusters.record_count,
        clusters.source_count,
        coalesce(link_counts.link_count, 0) as link_count,
        coalesce(link_counts.deterministic_link_count, 0) as deterministic_link_count,
        coalesce(link_counts.probabilistic_link_count, 0) as probabilistic_link_count,
        coalesce(link_counts.override_link_count, 0) as override_link_count,
        case
            when clusters.record_count > 1
                then
                    {{ dbt.cast('coalesce(link_counts.link_count, 0)', 'double') }}
                    / (clusters.record_count * (clusters.record_count - 1) / 2)
        end as density,
        link_counts.weakest_link_probability,
        clusters.cluster_status,
        clusters.id_minted_on
    from clusters
    left join link_counts
        on clusters.customer_id = link_counts.customer_id

)

select * from final
