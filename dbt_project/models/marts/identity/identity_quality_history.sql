-- One row per run date: the shape of identity resolution that night, to watch over time (a jump in
-- the largest cluster or in rejected links is the first sign of a new junk identifier or a broken
-- export). Incremental by as_of_date (delete+insert): a re-run replaces its date. Counts are never
-- null: a night without links (or without records) has zero of each, not an unknown number. The match
-- model columns say which model scored the night and why (the identity fit's record of the night;
-- null on a build outside the nightly stages, which does not fit).
{{ config(
    materialized='incremental',
    on_schema_change='append_new_columns',
    full_refresh=false,
    **replace_date_slice('as_of_date')
) }}
with

clusters as (

    select * from {{ ref('identity_clusters') }}

),

links as (

    select * from {{ ref('int_identity_links') }}

),

screened as (

    select * from {{ ref('int_identity_identifiers_screened') }}

),

cluster_summary as (

    select
        coalesce(sum(record_count), 0) as records,
        count(*) as customers,
        count(case when record_count = 1 then 1 end) as single_record_customers,
        coalesce(max(record_count), 0) as largest_cluster_records,
        {{ round_half_up('avg(' ~ dbt.cast("record_count", "double") ~ ')', 6) }} as mean_cluster_records,
        {{ round_half_up('avg(case when record_count > 2 then density end)', 6) }} as mean_density_3plus,
        count(case when cluster_status = 'split' then 1 end) as customers_from_splits,
        coalesce(sum(case when cluster_status = 'dissolved' then record_count else 0 end), 0)
            as dissolved_records
    from clusters

),

link_summary as (

    select
        count(case when is_accepted and link_rule <> 'probabilistic' and link_rule <> 'override' then 1 end)
            as deterministic_links,
        count(case when is_accepted and link_rule = 'probabilistic' then 1 end) as probabilistic_links,
        count(case when is_accepted and link_rule = 'override' then 1 end) as override_links,
        count(case when rejection_reason = 'birth dates conflict' then 1 end) as rejected_birth_date_conflicts,
        count(case when rejection_reason in ('first names conflict', 'first names differ') then 1 end)
            as rejected_first_name_conflicts,
        count(case when rejection_reason = 'keep_apart override' then 1 end) as rejected_keep_apart
    from links

),

fit_runs as (

    select * from {{ ref('stg_ops__identity_fit_runs') }}

),

fit_summary as (

    select
        max(fit_status) as match_model,
        max(model_fitted_on) as match_model_fitted_on,
        max(fit_reason) as match_model_note
    from fit_runs
    where fit_date = {{ run_date_literal() }}

),

identifier_summary as (

    select
        count(distinct case when identifier_status = 'junk' then identifier_value end) as junk_identifiers,
        count(distinct case when identifier_status = 'shared' then identifier_value end) as shared_identifiers
    from screened

),

final as (

    select
        {{ run_date_literal() }} as as_of_date,
        cluster_summary.*,
        link_summary.*,
        identifier_summary.*,
        fit_summary.*
    from cluster_summary
    cross join link_summary
    cross join identifier_summary
    cross join fit_summary

)

select * from final
