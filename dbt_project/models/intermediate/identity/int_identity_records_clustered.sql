-- Clusters of records (one per real person, as far as the evidence goes) with over-merge protection.
-- Pass 1: connected components of every accepted link (int_identity_links).
-- A pass-1 cluster is suspicious when it has more than identity_max_cluster_records records, when a
-- keep_apart override pair ended up inside it through other links, or when two of its records
-- conflict (birth dates, first names: the guard of int_identity_links, checked across the cluster,
-- because records without names or birth dates - guest orders - can chain two people through a
-- family email). Two records joined by a force_merge override never count as conflicting.
-- Suspicious clusters are not published as they are: pass 2 re-clusters their records on strong
-- links only (email and phone both shared, a force_merge override, or match_probability >=
-- identity_strong_match_threshold). A pass-2 cluster that is still suspicious is dissolved (each
-- record alone). Both outcomes are listed for review (identity_review_queue).
-- cluster_status: ok | split | dissolved.
{%- set rounds = var('identity_label_rounds') | int %}
{%- set max_records = var('identity_max_cluster_records') | int %}
{%- set strong = var('identity_strong_match_threshold') %}
with

records as (

    select * from {{ ref('int_identity_records_unioned') }}

),

standardised as (

    select * from {{ ref('int_identity_records_standardised') }}

),

links as (

    select * from {{ ref('int_identity_links') }}

),

keep_apart as (

    select
        record_key_l,
        record_key_r
    from links
    where rejection_reason = 'keep_apart override'

),

force_merged as (

    select
        record_key_l,
        record_key_r
    from links
    where link_rule = 'override'

),

accepted as (

    select
        record_key_l,
        record_key_r,
        link_rule,
        match_probability
    from links
    where is_accepted

),

pass1_edges as (

    {{ link_nodes('accepted') }}

),

{{ connected_components('pass1_edges', 'pass1', rounds) }},

pass1 as (

    select
        records.record_key,
        coalesce(pass1_labels.component_label, records.record_key) as pass1_label,
        standardised.first_name_key,
        standardised.last_name_key,
        standardised.birth_date_key
    from records
    left join pass1_labels
        on records.record_key = pass1_labels.record_key
    left join standardised
        on records.record_key = standardised.record_key

),

pass1_clusters as (

    select
        pass1_label,
        count(*) as record_count
    from pass1
    group by pass1_label

),

conflicts_inside as (

    {{ clusters_with_conflicts('pass1', 'pass1_label', 'force_merged', 'pass1_clusters', max_records) }}

),

kept_apart_inside as (

    {{ clusters_with_pair('pass1', 'pass1_label', 'keep_apart') }}

),

suspicious as (

    select
        pass1_clusters.pass1_label,
        case
            when kept_apart_inside.pass1_label is not null then 'keep_apart pair inside'
            when pass1_clusters.record_count > {{ max_records }} then 'too many records'
            else 'conflicting records'
        end as review_reason
    from pass1_clusters
    left join kept_apart_inside
        on pass1_clusters.pass1_label = kept_apart_inside.pass1_label
    left join conflicts_inside
        on pass1_clusters.pass1_label = conflicts_inside.pass1_label
    where
        kept_apart_inside.pass1_label is not null
        or conflicts_inside.pass1_label is not null
        or pass1_clusters.record_count > {{ max_records }}

),

strong_links as (

    select
        accepted.record_key_l,
        accepted.record_key_r
    from accepted
    inner join pass1
        on accepted.record_key_l = pass1.record_key
    inner join suspicious
        on pass1.pass1_label = suspicious.pass1_label
    where
        accepted.link_rule in ('email+phone', 'override')
        or accepted.match_probability >= {{ strong }}

),

pass2_edges as (

    {{ link_nodes('strong_links') }}

),

{{ connected_components('pass2_edges', 'pass2', rounds) }},

pass2 as (

    select
        pass1.record_key,
        pass1.pass1_label,
        pass1.first_name_key,
        pass1.last_name_key,
        pass1.birth_date_key,
        suspicious.review_reason,
        coalesce(pass2_labels.component_label, pass1.record_key) as pass2_label
    from pass1
    inner join suspicious
        on pass1.pass1_label = suspicious.pass1_label
    left join pass2_labels
        on pass1.record_key = pass2_labels.record_key

),

pass2_clusters as (

    select
        pass2_label,
        count(*) as record_count
    from pass2
    group by pass2_label

),

pass2_conflicts_inside as (

    {{ clusters_with_conflicts('pass2', 'pass2_label', 'force_merged') }}

),

pass2_kept_apart_inside as (

    {{ clusters_with_pair('pass2', 'pass2_label', 'keep_apart') }}

),

resolved_suspicious as (

    select
        pass2.record_key,
        pass2.pass1_label,
        pass2.review_reason,
        case
            when
                pass2_kept_apart_inside.pass2_label is not null
                or pass2_conflicts_inside.pass2_label is not null
                or pass2_clusters.record_count > {{ max_records }}
                then pass2.record_key
            else pass2.pass2_label
        end as component_label,
        case
            when
                pass2_kept_apart_inside.pass2_label is not null
                or pass2_conflicts_inside.pass2_label is not null
                or pass2_clusters.record_count > {{ max_records }}
                then 'dissolved'
            else 'split'
        end as cluster_status
    from pass2
    inner join pass2_clusters
        on pass2.pass2_label = pass2_clusters.pass2_label
    left join pass2_kept_apart_inside
        on pass2.pass2_label = pass2_kept_apart_inside.pass2_label
    left join pass2_conflicts_inside
        on pass2.pass2_label = pass2_conflicts_inside.pass2_label

),

final as (

    select
        pass1.record_key,
        coalesce(resolved_suspicious.component_label, pass1.pass1_label) as component_label,
        pass1.pass1_label,
        coalesce(resolved_suspicious.cluster_status, 'ok') as cluster_status,
        resolved_suspicious.review_reason
    from pass1
    left join resolved_suspicious
        on pass1.record_key = resolved_suspicious.record_key

)

select * from final
