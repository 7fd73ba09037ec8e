{#-
    Helpers of the value marts (customer_behaviour, customer_lifecycle, customer_tiers). Engine-specific
    functions (median, iso_day_of_week) sit behind adapter.dispatch in macros/cross_engine/.
-#}

{#- A numeric var that may be left null: the literal, or `fallback` (a SQL expression) when null. -#}
{% macro var_or(name, fallback) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none or (value | string | trim) in ('', 'none', 'None', 'null') -%}
        {{ fallback }}
    {%- else -%}
        {{ value }}
    {%- endif -%}
{%- endmacro %}

{#- Weighted sum expression for an event-type column from a {event_type: weight} mapping (var). -#}
{% macro event_weight(column, weights) -%}
    case {{ column }}
        {%- for event_type, weight in weights.items() | sort %}
        when '{{ event_type }}' then {{ weight }}
        {%- endfor %}
        else 0
    end
{%- endmacro %}

{#- A date var (YYYY-MM-DD) as a SQL date literal, or run_date when the var is null. -#}
{% macro date_literal_or_run_date(value) -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {{ run_date_literal() }}
    {%- else -%}
        {%- set text = value | string | trim -%}
        {%- do modules.datetime.datetime.strptime(text, '%Y-%m-%d') -%}
        cast('{{ text }}' as date)
    {%- endif -%}
{%- endmacro %}

{#- numerator / denominator as doubles. Engines divide decimals differently (DuckDB: as doubles;
    Spark: as a decimal rounded to 6 places), so ratios of amounts divide as doubles on both. Keep a
    nullif() on the denominator where it can be 0 (DuckDB gives inf, Spark null). -#}
{% macro divide(numerator, denominator) -%}
    (cast({{ numerator }} as double) / cast({{ denominator }} as double))
{%- endmacro %}

{#- A double rounded to `places` decimals, half up, the same on every engine: round() of a double
    differs between engines at ties (DuckDB rounds the binary value, Spark its shortest decimal form).
    floor() of the scaled value is exact IEEE arithmetic on both. -#}
{% macro round_half_up(expression, places) -%}
    (floor(({{ expression }}) * {{ 10 ** places }} + 0.5) / cast({{ 10 ** places }} as double))
{%- endmacro %}
