-- The deployment's trained match model as `cdp identity train` wrote it (the file cdp passes as
-- CDP_IDENTITY_MODEL_FILE), typed. Enabled only when there is such a file: without one nothing reads
-- it (int_identity_match_parameters takes the shipped seed) and there is no file to read.
{{ config(enabled=env_var('CDP_IDENTITY_MODEL_FILE', '') != '') }}
with

source as (

    select * from {{ source('config', 'identity_match_parameters') }}

),

final as (

    select
        {{ dbt.cast('comparison', dbt.type_string()) }} as comparison,
        {{ dbt.cast('level', dbt.type_int()) }} as level,  -- noqa: RF04
        {{ dbt.cast('m_probability', 'double') }} as m_probability,
        {{ dbt.cast('u_probability', 'double') }} as u_probability
    from source

)

select * from final
