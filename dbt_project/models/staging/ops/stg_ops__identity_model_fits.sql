-- The match models the nightly identity fit wrote (cdp/identity/nightly.py), typed; fits made after
-- the run date are not visible (a re-run of an older night scores as that night did).
with

source as (

    select * from {{ source('ops', 'identity_model_fits') }}

),

renamed as (

    select
        cast(run_date as date) as fitted_on,
        {{ dbt.cast('comparison', dbt.type_string()) }} as comparison,
        {{ dbt.cast('level', dbt.type_int()) }} as level,  -- noqa: RF04
        {{ dbt.cast('m_probability', 'double') }} as m_probability,
        {{ dbt.cast('u_probability', 'double') }} as u_probability
    from source
    where run_date <= {{ run_date_literal() }}

)

select * from renamed
