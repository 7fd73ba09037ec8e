-- Pass 1 of clustering: connected components of every accepted link (int_identity_links), and which
-- of them are suspicious. A group is suspicious when it has more than identity_max_cluster_records
-- records, when a keep_apart override pair ended up inside it through other links, or when two of its
-- records conflict (birth dates, first names: the guard of int_identity_links, checked across the
-- group, because records without names or birth dates - guest orders - can chain two people through
-- a family email). Two records joined by a force_merge override never count as conflicting.
-- int_identity_records_clustered publishes the groups that are not suspicious and re-clusters the
-- others. One row per identity record; review_reason is null for a group published as it is.
{%- set rounds = var('identity_label_rounds') | int %}
{%- set max_records = var('identity_max_cluster_records') | int %}
{#- The hook is rendered when it runs (a string): rendered here, `this` would still carry the default
    schema. -#}
{{ config(post_hook=["{{ release_connected_components('pass1', " ~ rounds ~ ") }}"]) }}
{%- set accepted_links -%}
    (
        select
            record_key_l,
            record_key_r
        from {{ ref('int_identity_links') }}
        where is_accepted
    ) as accepted
{%- endset %}
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

    {{ overridden_pairs('links', 'keep_apart') }}

),

force_merged as (

    {{ overridden_pairs('links', 'force_merge') }}

),

pass1_labels as (

    {{ connected_components(link_nodes(accepted_links), 'pass1', rounds) }}

),

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

final as (

    select
        pass1.record_key,
        pass1.pass1_label,
        pass1.first_name_key,
        pass1.last_name_key,
        pass1.birth_date_key,
        suspicious.review_reason
    from pass1
    left join suspicious
        on pass1.pass1_label = suspicious.pass1_label

)

select * from final
