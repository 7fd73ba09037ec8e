{#-
    Helpers of the incremental identity grouping (int_identity_records_grouped; docs/architecture.md,
    "Identity resolution": incremental graph). Reading a model's previous state is engine-specific and
    lives in macros/cross_engine/relations.sql.
-#}

{#- Two nullable values of the same type differ (null and null are the same; null and a value differ). -#}
{% macro differs(left, right) -%}
    not coalesce({{ left }} = {{ right }}, {{ left }} is null and {{ right }} is null)
{%- endmacro %}
