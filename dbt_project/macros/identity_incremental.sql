{#-
    Incremental clustering helpers (docs/architecture.md, "Identity resolution": incremental graph).
    A model that keeps its last result as the state of the next run reads it through
    previous_state(); engines differ in when the old table goes away during a rebuild.
-#}

{#- The relation holding this model's result as it was before this run, or none: first build, not
    executing, or a table written before it had the column `marker` (an older layout is not a state).
    Render-time only: call it in the model body. -#}
{% macro previous_state(marker) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set existing = load_relation(this) -%}
    {%- if existing is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(existing) | map(attribute='name') | map('lower') | list -%}
    {%- if marker | lower not in columns -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.dispatch('previous_state', 'cdp')(existing)) }}
{%- endmacro %}

{#- dbt-duckdb builds the new table beside the old one and swaps them at the end: the old table is
    readable while the new one is built. -#}
{% macro default__previous_state(existing) -%}
    {{ return(existing) }}
{%- endmacro %}

{#- dbt-spark drops a Parquet table before it creates the new one (no swap), so the old result is
    copied first (a checkpoint table, dropped by release_previous_state in the post-hook). The copy is
    made while the model is rendered, before the materialization runs, as connected_components does. -#}
{% macro spark__previous_state(existing) -%}
    {%- set copy = previous_state_relation() -%}
    {%- do checkpoint_table(copy, 'select * from ' ~ existing) -%}
    {{ return(copy) }}
{%- endmacro %}

{% macro previous_state_relation() -%}
    {{- this.schema }}.{{ this.identifier }}__previous
{%- endmacro %}

{#- post-hook of a model that calls previous_state(). -#}
{% macro release_previous_state() -%}
    {{ return(adapter.dispatch('release_previous_state', 'cdp')()) }}
{%- endmacro %}

{% macro default__release_previous_state() -%}
{%- endmacro %}

{% macro spark__release_previous_state() -%}
    drop table if exists {{ previous_state_relation() }}
{%- endmacro %}

{#- Aggregate: the group's values of a string expression, sorted and joined with '|' - an exact,
    order-independent signature of a set (here: the records a record is linked to). -#}
{% macro sorted_string_agg(expression) -%}
    {{ return(adapter.dispatch('sorted_string_agg', 'cdp')(expression)) }}
{%- endmacro %}

{% macro default__sorted_string_agg(expression) -%}
    string_agg({{ expression }}, '|' order by {{ expression }})
{%- endmacro %}

{% macro spark__sorted_string_agg(expression) -%}
    array_join(array_sort(collect_list({{ expression }})), '|')
{%- endmacro %}

{#- Two nullable values of the same type differ (null and null are the same; null and a value differ). -#}
{% macro differs(left, right) -%}
    not coalesce({{ left }} = {{ right }}, {{ left }} is null and {{ right }} is null)
{%- endmacro %}
