-- What the nightly identity fit did each night (cdp/identity/nightly.py), typed, up to the run date.
with

source as (

    select * from {{ source('ops', 'identity_fit_runs') }}

),

renamed as (

    select
        cast(run_date as date) as fit_date,
        {{ dbt.cast('status', dbt.type_string()) }} as fit_status,
        {{ dbt.cast('reason', dbt.type_string()) }} as fit_reason,
        cast(model_fitted_on as date) as model_fitted_on,
        {{ dbt.cast('candidate_pairs', dbt.type_bigint()) }} as candidate_pairs,
        {{ dbt.cast('match_prior', 'double') }} as match_prior
    from source
    where run_date <= {{ run_date_literal() }}

)

select * from renamed
