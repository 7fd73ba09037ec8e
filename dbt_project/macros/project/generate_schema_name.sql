{#-
    Use a model's custom schema verbatim (`marts`, not `main_marts`); models without one go to the
    target schema. Same behaviour on every adapter, so no dispatch is needed.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
