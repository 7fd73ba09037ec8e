-- Identity resolution result, one row per identity record as of run_date: its stable customer_id
-- (int_identity_customer_ids_versioned) and cluster (int_identity_records_clustered). This model is
-- the interface the marts use.
with

records as (

    select * from {{ ref('int_identity_records_unioned') }}

),

clusters as (

    select * from {{ ref('int_identity_records_clustered') }}

),

versioned as (

    select * from {{ ref('int_identity_customer_ids_versioned') }}

),

current_ids as (

    select
        record_key,
        customer_id,
        id_minted_on
    from versioned
    where
        valid_from <= {{ run_date_literal() }}
        and (valid_to is null or valid_to > {{ run_date_literal() }})

),

final as (

    select
        records.record_key,
        records.source,
        records.entity,
        records.source_record_id,
        current_ids.customer_id,
        current_ids.id_minted_on,
        clusters.component_label,
        clusters.cluster_status
    from records
    inner join clusters
        on records.record_key = clusters.record_key
    inner join current_ids
        on records.record_key = current_ids.record_key

)

select * from final
