-- The match model the night scores with, in this order:
-- 1. a pinned model: <home>/config/identity_match_parameters.csv (written by `cdp identity train` or
--    put there by hand; cdp passes its path as CDP_IDENTITY_MODEL_FILE; staged by
--    stg_config__identity_match_parameters). The nightly fit leaves a pinned model alone.
-- 2. the newest model the nightly identity fit made on or before the run date (ops.identity_model_fits,
--    written by cdp/identity/nightly.py between the identity inputs and the rest of the build; only
--    fits that passed its checks are written, so this is also the fallback when tonight's fit failed);
-- 3. the default shipped as the seed identity_match_parameters (trained on generated data).
-- Same columns either way: comparison, level, m_probability, u_probability.
{%- set model_file = env_var('CDP_IDENTITY_MODEL_FILE', '') %}
with

{% if model_file %}
parameters as (

    select * from {{ ref('stg_config__identity_match_parameters') }}

),
{% else %}
fits as (

    select * from {{ ref('stg_ops__identity_model_fits') }}

),

shipped as (

    select * from {{ ref('identity_match_parameters') }}

),

newest_fit as (

    select max(fitted_on) as fitted_on from fits

),

fitted as (

    select
        fits.comparison,
        fits.level,
        fits.m_probability,
        fits.u_probability
    from fits
    inner join newest_fit
        on fits.fitted_on = newest_fit.fitted_on

),

fitted_count as (

    select count(*) as fitted_rows from fitted

),

parameters as (

    select
        comparison,
        level,
        m_probability,
        u_probability
    from fitted
    union all
    select
        shipped.comparison,
        shipped.level,
        shipped.m_probability,
        shipped.u_probability
    from shipped
    cross join fitted_count
    where fitted_count.fitted_rows = 0

),
{% endif %}

final as (

    select
        {{ dbt.cast('comparison', dbt.type_string()) }} as comparison,
        {{ dbt.cast('level', dbt.type_int()) }} as level,  -- noqa: RF04
        {{ dbt.cast('m_probability', 'double') }} as m_probability,
        {{ dbt.cast('u_probability', 'double') }} as u_probability
    from parameters

)

select * from final
