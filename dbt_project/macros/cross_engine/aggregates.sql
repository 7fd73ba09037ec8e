{#-
    Engine twins for aggregates: median, a sorted string aggregate, and dbt-spark's listagg made to
    respect the order as DuckDB's does.
    Every macro whose SQL differs between engines lives in macros/cross_engine/ (dispatch twins).
-#}

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

{#-
    Override of dbt-spark's listagg, which ignores the order (collect_list has none): the values are
    collected with their sort key and sorted, so `dbt.listagg(x, ',', 'order by k [desc]')` joins in
    the same order as on DuckDB. One sort key, as this project uses it.
-#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- set collected -%}
        {%- if order_by_clause -%}
            {%- set parts = (order_by_clause | trim | lower).replace('order by', '', 1).split() -%}
            {%- set descending = parts | length > 1 and parts[-1] == 'desc' -%}
            {%- set key = (parts[:-1] if parts[-1] in ('asc', 'desc') else parts) | join(' ') -%}
            transform(
                array_sort(collect_list(struct({{ key }} as sort_key, {{ measure }} as item))
                    {%- if descending %}, (a, b) -> case when a.sort_key > b.sort_key then -1 when a.sort_key < b.sort_key then 1 else 0 end{% endif %}),
                entry -> entry.item
            )
        {%- else -%}
            collect_list({{ measure }})
        {%- endif -%}
    {%- endset -%}
    {%- if limit_num -%}
        array_join(slice({{ collected }}, 1, {{ limit_num }}), {{ delimiter_text }})
    {%- else -%}
        array_join({{ collected }}, {{ delimiter_text }})
    {%- endif -%}
{%- endmacro %}

{#- Median of a numeric expression (aggregate). -#}
{% macro median(expression) -%}
    {{ return(adapter.dispatch('median', 'cdp')(expression)) }}
{%- endmacro %}

{% macro default__median(expression) -%}
    median({{ expression }})
{%- endmacro %}

{% macro spark__median(expression) -%}
    {#- Exact, interpolated between the two middle values like DuckDB's median. -#}
    percentile({{ expression }}, 0.5)
{%- endmacro %}
