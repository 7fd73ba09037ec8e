-- The match model the night scores with: the deployment's own trained model when there is one
-- (<home>/config/identity_match_parameters.csv, written by `cdp identity train`; cdp passes its path
-- as CDP_IDENTITY_MODEL_FILE; staged by stg_config__identity_match_parameters), otherwise the default
-- shipped as the seed identity_match_parameters (trained on generated data).
-- Same columns either way: comparison, level, m_probability, u_probability.
{%- set model_file = env_var('CDP_IDENTITY_MODEL_FILE', '') %}
with

parameters as (
    {% if model_file %}
    select * from {{ ref('stg_config__identity_match_parameters') }}
    {% else %}
    select * from {{ ref('identity_match_parameters') }}
    {% endif %}
),

final as (

    select
        {{ dbt.cast('comparison', dbt.type_string()) }} as comparison,
        {{ dbt.cast('level', dbt.type_int()) }} as level,  -- noqa: RF04
        {{ dbt.cast('m_probability', 'double') }} as m_probability,
        {{ dbt.cast('u_probability', 'double') }} as u_probability
    from parameters

)

select * from final
