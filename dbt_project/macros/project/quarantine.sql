{#-
    The staging model of one source entity's quarantined rows (stg_quarantine__<source>_<entity>): the
    load date and the reason, never the raw text (personal data that stays in the lake's quarantine
    zone). One body for the seven models, which differ only in the names.
-#}
{% macro quarantined_rows(source_name, entity) -%}
with

source as (

    select * from {{ source('quarantine', source_name ~ '_' ~ entity) }}
    where load_date <= {{ run_date_literal() }}

),

renamed as (

    select
        '{{ source_name }}' as source_name,
        '{{ entity }}' as entity,
        cast(load_date as date) as load_date,
        _reason as reason,
        _source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as _source_line
    from source

)

select * from renamed
{%- endmacro %}
