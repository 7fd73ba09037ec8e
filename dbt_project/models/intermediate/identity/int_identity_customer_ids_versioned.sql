-- Stable customer ids: which customer_id each record carries, versioned (SCD type 2: valid_from
-- inclusive, valid_to exclusive, null = still valid). Each run for run_date D starts from the
-- assignment valid just before D and the clusters of D (int_identity_records_clustered):
--   * every previous customer id goes to the cluster holding most of its records (tie: smallest
--     cluster label) - its heir;
--   * a cluster that is heir to one or more ids keeps the oldest (minted first, then smallest id);
--     the other ids are merged into it;
--   * a cluster heir to no id (new records only, or the smaller part of a split) gets a new id,
--     'C' + 16 hex digits of md5(cluster label @ D): new on every date, so ids are never reused.
-- A record whose id changes gets its old row closed (valid_to = D) and a new row. Re-running the latest
-- date first drops its rows and reopens the rows it closed (pre-hook), so corrected data is taken as
-- if the first run had not happened. Re-running an older date recomputes the same rows (every input is
-- as of D) and keeps the end dates later runs gave them; to correct data of an older date, re-run it
-- and every later date (cdp backfill runs dates in order).
-- full_refresh is off: the id history must survive a --full-refresh.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['record_key', 'valid_from'],
    on_schema_change='fail',
    full_refresh=false,
    pre_hook=[
        "{% if is_incremental() %}delete from {{ this }} where valid_from = " ~ run_date_literal()
        ~ " and not exists (select 1 from {{ this }} where valid_from > " ~ run_date_literal() ~ "){% endif %}",
        "{% if is_incremental() %}update {{ this }} set valid_to = null where valid_to = " ~ run_date_literal()
        ~ " and not exists (select 1 from {{ this }} where valid_from > " ~ run_date_literal() ~ "){% endif %}",
    ],
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
    from {{ this }}
    where
        valid_from < {{ run_date_literal() }}
        and (valid_to is null or valid_to >= {{ run_date_literal() }})
    {% else %}
    select
        cast(null as {{ dbt.type_string() }}) as record_key,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as date) as valid_from,
        cast(null as date) as id_minted_on
    where 1 = 0
    {% endif %}
),

later_ends as (
    {% if is_incremental() %}
    select
        record_key,
        customer_id,
        valid_to
    from {{ this }}
    where valid_from = {{ run_date_literal() }} and valid_to > {{ run_date_literal() }}
    {% else %}
    select
        cast(null as {{ dbt.type_string() }}) as record_key,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as date) as valid_to
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
        later_ends.valid_to,
        assigned.id_minted_on
    from assigned
    left join previous
        on assigned.record_key = previous.record_key
    left join later_ends
        on
            assigned.record_key = later_ends.record_key
            and assigned.customer_id = later_ends.customer_id
    where previous.customer_id is null or previous.customer_id <> assigned.customer_id

),

closed as (

    select
        previous.record_key,
        previous.customer_id,
        previous.valid_from,
        {{ run_date_literal() }} as valid_to,
        previous.id_minted_on
    from previous
    left join assigned
        on previous.record_key = assigned.record_key
    where assigned.customer_id is null or assigned.customer_id <> previous.customer_id

),

final as (

    select * from opened
    union all
    select * from closed

)

select * from final
