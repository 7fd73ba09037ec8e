-- The last CLV fit as cdp.clv.nightly wrote it (one row per model), typed; rows of every run date
-- the table holds (int_clv_models_fitted keeps the run date's).
with

source as (

    select * from {{ source('clv_fit', 'models_fitted') }}

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
    from source

)

select * from final
