-- BG/NBD and Gamma-Gamma maximum-likelihood fits on tonight's grouped sufficient statistics, one row
-- per model (fitted in Python by cdp.clv.nightly between the two halves of the build). A fit that
-- cannot be trusted (too little data, only one-off buyers, no convergence) is a row with
-- is_used = false and a fallback_reason; it never fails the run.
-- The fit reads these (in cdp.clv.nightly), so dbt orders and selects them before this model:
-- depends_on: {{ ref('int_clv_frequency_groups_aggregated') }}
-- depends_on: {{ ref('int_clv_spend_groups_aggregated') }}
with

fitted as (

    select * from {{ ref('stg_clv_fit__model_fits') }}
    where run_date = {{ run_date_literal() }}

),

final as (

    select
        model_run_id,
        run_date,
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
