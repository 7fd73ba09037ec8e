{#-
    Point-in-time helpers. Every model is a function of the landed data and the var `run_date`:
      * staging keeps rows with load_date <= run_date (later landings are invisible),
      * intermediate/marts keep events with event time < run_date + 1 day (UTC), run_cutoff_at().
    So re-running a date gives identical marts and landing the next day changes nothing for today.
-#}

{% macro run_date() -%}
    {%- set value = var('run_date', none) -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error(
                "var 'run_date' is required (YYYY-MM-DD): dbt build --vars '{run_date: 2024-01-31}'"
            ) }}
        {%- endif -%}
        {{ return('1970-01-01') }}
    {%- endif -%}
    {%- set text = value | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
        {{ exceptions.raise_compiler_error("var 'run_date' must be YYYY-MM-DD, got '" ~ text ~ "'") }}
    {%- endif -%}
    {%- do modules.datetime.datetime.strptime(text, '%Y-%m-%d') -%}
    {{ return(text) }}
{%- endmacro %}

{#- run_date as a SQL date literal. -#}
{% macro run_date_literal() -%}
    cast('{{ run_date() }}' as date)
{%- endmacro %}

{#- Exclusive upper bound for event times: run_date + 1 day, 00:00 UTC, as a SQL timestamp literal. -#}
{% macro run_cutoff_at() -%}
    {%- set day = modules.datetime.datetime.strptime(run_date(), '%Y-%m-%d') -%}
    {%- set cutoff = day + modules.datetime.timedelta(days=1) -%}
    cast('{{ cutoff.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}
