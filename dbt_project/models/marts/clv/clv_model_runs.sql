-- One row per run date and model (bgnbd, gamma_gamma): the fit of that night. Incremental with
-- delete+insert on run_date, so re-running a date replaces its rows and never doubles them, and the
-- table keeps the history of fits across dates. full_refresh is off: the clv_fit source holds only
-- the last night's fit, so this table is the only copy of earlier fits and a --full-refresh must not
-- wipe it (tests/test_dbt_full_refresh.py).
{{ config(materialized='incremental', full_refresh=false, **replace_date_slice('run_date')) }}
with

fitted as (

    select * from {{ ref('int_clv_models_fitted') }}

),

final as (

    select
        model_run_id,
        cast(run_date as date) as run_date,
        model_name,
        parameters,
        log_likelihood,
        is_converged,
        is_used,
        fallback_reason,
        message,
        customer_count,
        group_count,
        iterations,
        time_unit_days,
        param_r,
        param_alpha,
        param_a,
        param_b,
        param_p,
        param_q,
        param_v
    from fitted

)

select * from final
