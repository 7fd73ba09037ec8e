-- Identity resolution result, one row per identity record: its customer_id. Deterministic matching
-- (shared normalised email or phone, transitively). customer_id = 'C' + the first 16 hex digits of
-- md5(smallest record_key of the component), so it is stable as long as that record stays in the
-- component. This model is the interface the marts use: probabilistic matching / stable ids replace
-- the models behind it (edges, labels) without touching the marts.
with

records as (

    select * from {{ ref('int_identity_records_unioned') }}

),

labelled_edges as (

    select * from {{ ref('int_identity_edges_labelled') }}

),

record_labels as (

    select
        record_key,
        min(component_label) as component_label
    from labelled_edges
    group by record_key

),

labelled as (

    select
        records.record_key,
        records.source,
        records.entity,
        records.source_record_id,
        coalesce(record_labels.component_label, records.record_key) as component_label
    from records
    left join record_labels
        on records.record_key = record_labels.record_key

),

final as (

    select
        record_key,
        source,
        entity,
        source_record_id,
        {{ dbt.concat(["'C'", "substr(" ~ dbt.hash("component_label") ~ ", 1, 16)"]) }} as customer_id,
        component_label
    from labelled

)

select * from final
