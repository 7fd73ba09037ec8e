-- Stable customer ids, as an event log: one row each time a record gets a customer id or loses its
-- id (record gone: customer_id null), keyed by the date it happened (valid_from).
-- int_identity_customer_ids_versioned turns it into versions (valid_from .. valid_to).
-- Each run for run_date D starts from the assignment valid just before D (the latest event of every
-- record before D) and the clusters of D (int_identity_records_clustered):
--   * every previous customer id goes to the cluster holding most of its records (tie: smallest
--     cluster label) - its heir;
--   * a cluster that is heir to one or more ids keeps the oldest (minted first, then smallest id);
--     the other ids are merged into it;
--   * a cluster heir to no id (new records only, or the smaller part of a split) gets a new id,
--     'C' + 16 hex digits of md5(cluster label @ D): new on every date, so ids are never reused.
-- The run writes the events of D only and replaces D's slice (macros/cross_engine/relations.sql): a re-run of a
-- date recomputes it from the same inputs, later dates keep theirs. To correct data of an older date,
-- re-run it and every later date (cdp backfill runs dates in order).
-- An append-only log per date needs no row-level update, so it runs the same on every engine.
-- full_refresh is off: the id history must survive a --full-refresh.
{{ config(
    materialized='incremental',
    on_schema_change='fail',
    full_refresh=false,
    **replace_date_slice('valid_from')
) }}
with

clusters as (

    select * from {{ ref('int_identity_records_clustered') }}

),

previous as (
    {% if is_incremental() %}
    select
        record_key,
        customer_id,
        valid_from,
        id_minted_on
    from (
        select
            record_key,
            customer_id,
            valid_from,
            id_minted_on,
            row_number() over (partition by record_key order by valid_from desc) as recency_rank
        from {{ this }}
        where valid_from < {{ run_date_literal() }}
    ) as events
    where recency_rank = 1 and customer_id is not null
    {% else %}
    select
        cast(null as {{ dbt.type_string() }}) as record_key,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as date) as valid_from,
        cast(null as date) as id_minted_on
    where 1 = 0
    {% endif %}
),

cluster_overlaps as (

    select
        previous.customer_id,
        previous.id_minted_on,
        clusters.component_label,
        count(*) as shared_records
    from previous
    inner join clusters
        on previous.record_key = clusters.record_key
    group by previous.customer_id, previous.id_minted_on, clusters.component_label

),

heirs as (

    select
        customer_id,
        id_minted_on,
        component_label,
        row_number() over (
            partition by customer_id order by shared_records desc, component_label asc
        ) as heir_rank
    from cluster_overlaps

),

kept_ids as (

    select
        component_label,
        customer_id,
        id_minted_on,
        row_number() over (
            partition by component_label order by id_minted_on, customer_id
        ) as age_rank
    from heirs
    where heir_rank = 1

),

assigned as (

    select
        clusters.record_key,
        coalesce(
            kept_ids.customer_id,
            {{ dbt.concat([
                "'C'",
                "substr(" ~ dbt.hash(dbt.concat(["clusters.component_label", "'@'", "'" ~ run_date() ~ "'"])) ~ ", 1, 16)",
            ]) }}
        ) as customer_id,
        coalesce(kept_ids.id_minted_on, {{ run_date_literal() }}) as id_minted_on
    from clusters
    left join kept_ids
        on
            clusters.component_label = kept_ids.component_label
            and kept_ids.age_rank = 1

),

opened as (

    select
        assigned.record_key,
        assigned.customer_id,
        {{ run_date_literal() }} as valid_from,
        assigned.id_minted_on
    from assigned
    left join previous
        on assigned.record_key = previous.record_key
    where previous.customer_id is null or previous.customer_id <> assigned.customer_id

),

removed as (

    select
        previous.record_key,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        {{ run_date_literal() }} as valid_from,
        cast(null as date) as id_minted_on
    from previous
    left join assigned
        on previous.record_key = assigned.record_key
    where assigned.record_key is null

),

final as (

    select * from opened
    union all
    select * from removed

)

select * from final
