-- Clusters of records (one per real person, as far as the evidence goes) with over-merge protection.
-- Pass 1 (int_identity_records_grouped): connected components of every accepted link, the suspicious
-- ones marked (too many records, a keep_apart pair inside, conflicting records).
-- Suspicious groups are not published as they are: pass 2 re-clusters their records on strong
-- links only (email and phone both shared, a force_merge override, or match_probability >=
-- identity_strong_match_threshold). A pass-2 cluster that is still suspicious is dissolved (each
-- record alone). Both outcomes are listed for review (identity_review_queue).
-- cluster_status: ok | split | dissolved.
{%- set rounds = var('identity_label_rounds') | int %}
{%- set max_records = var('identity_max_cluster_records') | int %}
{#- Hooks are strings rendered when the model runs (rendered here, `this` would still carry the
    default schema). On Spark the pre-hooks write pass 2's label propagation checkpoints; rendering
    this model runs no DDL. -#}
{{ config(
    pre_hook=connected_components_hooks('link_nodes(identity_strong_links())', 'pass2', rounds),
    post_hook=["{{ release_connected_components('pass2', " ~ rounds ~ ") }}"],
) }}
with

pass1 as (

    select * from {{ ref('int_identity_records_grouped') }}

),

links as (

    select * from {{ ref('int_identity_links') }}

),

keep_apart as (

    {{ overridden_pairs('links', 'keep_apart') }}

),

force_merged as (

    {{ overridden_pairs('links', 'force_merge') }}

),

pass2_labels as (

    {{ connected_components(link_nodes(identity_strong_links()), 'pass2', rounds) }}

),

pass2 as (

    select
        pass1.record_key,
        pass1.pass1_label,
        pass1.first_name_key,
        pass1.first_name_spelled_key,
        pass1.last_name_key,
        pass1.birth_date_key,
        pass1.review_reason,
        coalesce(pass2_labels.component_label, pass1.record_key) as pass2_label
    from pass1
    left join pass2_labels
        on pass1.record_key = pass2_labels.record_key
    where pass1.review_reason is not null

),

pass2_clusters as (

    select
        pass2_label,
        count(*) as record_count
    from pass2
    group by pass2_label

),

pass2_conflicts_inside as (

    {{ groups_with_conflicts('pass2', ['pass2_label'], 'force_merged') }}

),

pass2_kept_apart_inside as (

    {{ clusters_with_pair('pass2', 'pass2_label', 'keep_apart') }}

),

resolved_suspicious as (

    select
        pass2.record_key,
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
