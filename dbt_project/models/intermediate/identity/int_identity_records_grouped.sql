-- Pass 1 of clustering: connected components of every accepted link (int_identity_links), and which
-- of them are suspicious. A group is suspicious when it has more than identity_max_cluster_records
-- records, when a keep_apart override pair ended up inside it through other links, or when two of its
-- records conflict (birth dates, first names: the guard of int_identity_links, checked across the
-- group, because records without names or birth dates - guest orders - can chain two people through
-- a family email). Two records joined by a force_merge override never count as conflicting.
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
-- depends_on: {{ ref('stg_config__identity_overrides') }}
{%- set rounds = var('identity_label_rounds') | int %}
{%- set max_records = var('identity_max_cluster_records') | int %}
{#- A state written by other grouping logic or settings is not reused: the signature hashes the
    rendered conflict test (its settings included) and the cluster limit; bump the version when the
    rest of this model's logic changes. -#}
{%- set conflict_test = groups_with_conflicts('records', ['label'], 'force_merged', 'sizes', max_records) %}
{%- set state_signature = 'v1-' ~ local_md5(conflict_test ~ '|' ~ max_records)[:12] %}
{#- Marker: the newest column, so a state table written before it is not read. #}
{%- set previous = previous_state('first_name_spelled_key') %}
{#- The hooks are rendered when they run (strings): rendered here, `this` would still carry the
    default schema. -#}
{{ config(post_hook=[
    "{{ release_connected_components('pass1', " ~ rounds ~ ") }}",
    "{{ release_previous_state() }}",
]) }}
{#- Records as of this run with what decides their group (int_identity_records_link_state). -#}
{%- set current_records -%}
(select * from {{ ref('int_identity_records_link_state') }})
{%- endset %}
{%- set previous_records -%}
    (
        select *
        from {{ previous }}
        where
            as_of_date < {{ run_date_literal() }}
            and state_signature = '{{ state_signature }}'
    )
{%- endset %}
{#- Records whose group is recomputed in this run. -#}
{%- set affected_records -%}
{%- if previous is none %}
select record_key from records
{%- else %}
select current_records.record_key
from {{ current_records }} as current_records
left join {{ previous_records }} as previous_records
    on current_records.record_key = previous_records.record_key
where
    previous_records.record_key is null
    or previous_records.pass1_label in (
        select previous_records.pass1_label
        from {{ previous_records }} as previous_records
        left join {{ current_records }} as current_records
            on previous_records.record_key = current_records.record_key
        where
            current_records.record_key is null
            or previous_records.review_reason is not null
            or previous_records.link_signature <> current_records.link_signature
            or {{ differs('previous_records.first_name_key', 'current_records.first_name_key') }}
            or {{ differs('previous_records.first_name_spelled_key', 'current_records.first_name_spelled_key') }}
            or {{ differs('previous_records.last_name_key', 'current_records.last_name_key') }}
            or {{ differs('previous_records.birth_date_key', 'current_records.birth_date_key') }}
            or previous_records.record_key in (
                select overrides.record_key_a
                from {{ ref('stg_config__identity_overrides') }} as overrides
                union all
                select overrides.record_key_b
                from {{ ref('stg_config__identity_overrides') }} as overrides
            )
    )
{%- endif %}
{%- endset %}
{#- The accepted links among the records recomputed (all of them on a first build). -#}
{%- set all_accepted_links -%}
    (
        select
            record_key_l,
            record_key_r
        from {{ ref('int_identity_links') }}
        where is_accepted
    ) as accepted
{%- endset %}
{%- set affected_accepted_links -%}
    (
        select
            links.record_key_l,
            links.record_key_r
        from {{ ref('int_identity_links') }} as links
        inner join ({{ affected_records }}) as affected_l
            on links.record_key_l = affected_l.record_key
        inner join ({{ affected_records }}) as affected_r
            on links.record_key_r = affected_r.record_key
        where links.is_accepted
    ) as accepted
{%- endset %}
{%- set affected_links = all_accepted_links if previous is none else affected_accepted_links %}
with

records as (

    select * from {{ current_records }} as current_records

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

    {{ connected_components(link_nodes(affected_links), 'pass1', rounds) }}

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
    where
        kept_apart_inside.pass1_label is not null
        or conflicts_inside.pass1_label is not null
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
