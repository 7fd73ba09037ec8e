-- Pass 1 of clustering: connected components of every accepted link (int_identity_links), and which
-- of them are suspicious. A group is suspicious when it has more than identity_max_cluster_records
-- records, when a keep_apart override pair ended up inside it through other links, or when two of its
-- records conflict (birth dates, first names: the guard of int_identity_links, checked across the
-- group, because records without names or birth dates - guest orders - can chain two people through
-- a family email) and the group holds a deterministic link (email, phone): a group joined by
-- probabilistic links only, each of which passed the guard, is one person whose records drifted
-- (typos chaining across 4-6 records), not two people bridged by a shared contact (D75: measured
-- against the truth, the test caught only groups with such a link). Two records joined by a
-- force_merge override never count as conflicting.
-- int_identity_records_clustered publishes the groups that are not suspicious and re-clusters the
-- others. One row per identity record; review_reason is null for a group published as it is.
--
-- Incremental graph: the previous result of this model (an earlier run date, same settings) is the
-- state. A group of that result is recomputed only when one of its records is gone, changed its
-- name or birth-date keys, changed the set of records it is linked to (link_signature), is named in
-- an identity override, or the group was suspicious; new records are recomputed too. Every other
-- record keeps its group. Labels are the smallest record_key of a component, so a recomputed group and
-- a carried one are labelled as a full rebuild labels them: the result equals a full rebuild (tested
-- over 30 nights). A re-run of the same or an older date, or changed settings, recompute everything.
-- Incremental model: its table before the run is the state (identity_grouping_previous(): none on a
-- first build or --full-refresh, which compute every group); every run replaces all rows
-- (replace_whole_table). The SQL pieces are macros (macros/identity/identity_grouping.sql) because on
-- Spark the pre-hooks render them too: they copy the state (Spark cannot overwrite a table it reads)
-- and write pass 1's label propagation checkpoints when the model runs; rendering runs no DDL.
-- depends_on: {{ ref('stg_config__identity_overrides') }}
{%- set rounds = var('identity_label_rounds') | int %}
{%- set max_records = var('identity_max_cluster_records') | int %}
{%- set state_signature = identity_grouping_state_signature() %}
{%- set previous = identity_grouping_previous() %}
{#- Hooks are strings rendered when the model runs (rendered here, `this` would still carry the
    default schema). -#}
{{ config(
    materialized='incremental',
    pre_hook=previous_state_hooks(identity_grouping_marker()) + connected_components_hooks(
        'link_nodes(identity_grouping_links(identity_grouping_previous()))', 'pass1', rounds
    ),
    post_hook=[
        "{{ release_connected_components('pass1', " ~ rounds ~ ") }}",
        "{{ release_previous_state() }}",
    ],
    **replace_whole_table()
) }}
{%- set affected_records = identity_grouping_affected_records(previous) %}
{%- set previous_records = identity_grouping_previous_records(previous) %}
with

records as (

    select * from {{ identity_grouping_current_records() }} as current_records

),

affected as (

    {{ affected_records | trim | indent(4) }}

),

carried as (

    {%- if previous is none %}
    select
        cast(null as {{ dbt.type_string() }}) as record_key,
        cast(null as {{ dbt.type_string() }}) as pass1_label,
        cast(null as {{ dbt.type_string() }}) as review_reason,
        cast(null as date) as grouped_on
    where 1 = 0
    {%- else %}
    select
        previous_records.record_key,
        previous_records.pass1_label,
        previous_records.review_reason,
        previous_records.grouped_on
    from {{ previous_records }} as previous_records
    inner join records
        on previous_records.record_key = records.record_key
    left join affected
        on previous_records.record_key = affected.record_key
    where affected.record_key is null
    {%- endif %}

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

pass1_labels as (

    {{ connected_components(link_nodes(identity_grouping_links(previous)), 'pass1', rounds) }}

),

recomputed as (

    select
        records.record_key,
        coalesce(pass1_labels.component_label, records.record_key) as pass1_label,
        records.first_name_key,
        records.first_name_spelled_key,
        records.last_name_key,
        records.birth_date_key
    from records
    inner join affected
        on records.record_key = affected.record_key
    left join pass1_labels
        on records.record_key = pass1_labels.record_key

),

recomputed_clusters as (

    select
        pass1_label,
        count(*) as record_count
    from recomputed
    group by pass1_label

),

conflicts_inside as (

    {{ groups_with_conflicts('recomputed', ['pass1_label'], 'force_merged', 'recomputed_clusters', max_records) }}

),

deterministic_groups as (

    -- Groups holding an accepted email or phone link: where a shared contact can bridge two people.
    select distinct recomputed.pass1_label
    from links
    inner join recomputed
        on links.record_key_l = recomputed.record_key
    where
        links.is_accepted
        and links.link_rule <> 'probabilistic'

),

kept_apart_inside as (

    {{ clusters_with_pair('recomputed', 'pass1_label', 'keep_apart') }}

),

suspicious as (

    select
        recomputed_clusters.pass1_label,
        case
            when kept_apart_inside.pass1_label is not null then 'keep_apart pair inside'
            when recomputed_clusters.record_count > {{ max_records }} then 'too many records'
            else 'conflicting records'
        end as review_reason
    from recomputed_clusters
    left join kept_apart_inside
        on recomputed_clusters.pass1_label = kept_apart_inside.pass1_label
    left join conflicts_inside
        on recomputed_clusters.pass1_label = conflicts_inside.pass1_label
    left join deterministic_groups
        on recomputed_clusters.pass1_label = deterministic_groups.pass1_label
    where
        kept_apart_inside.pass1_label is not null
        or (conflicts_inside.pass1_label is not null and deterministic_groups.pass1_label is not null)
        or recomputed_clusters.record_count > {{ max_records }}

),

grouped as (

    select
        recomputed.record_key,
        recomputed.pass1_label,
        suspicious.review_reason,
        {{ run_date_literal() }} as grouped_on
    from recomputed
    left join suspicious
        on recomputed.pass1_label = suspicious.pass1_label
    union all
    select
        record_key,
        pass1_label,
        review_reason,
        grouped_on
    from carried

),

final as (

    select
        records.record_key,
        grouped.pass1_label,
        records.first_name_key,
        records.first_name_spelled_key,
        records.last_name_key,
        records.birth_date_key,
        grouped.review_reason,
        records.link_signature,
        grouped.grouped_on,
        {{ run_date_literal() }} as as_of_date,
        '{{ state_signature }}' as state_signature
    from records
    inner join grouped
        on records.record_key = grouped.record_key

)

select * from final
