{#-
    Engine twins for dates and times: local wall-clock time, ISO weekday, and the snapshot clock
    (snapshot_get_time: the run date, macros/project/snapshots.sql).
    Every macro whose SQL differs between engines lives in macros/cross_engine/ (dispatch twins).
-#}

{#- A UTC timestamp (naive, as every `_at` column) as wall-clock time in `timezone` (an IANA name, e.g.
    var market_timezone): what a store's clock showed. DuckDB: the UTC instant, then its local time
    (ICU); Spark: from_utc_timestamp. -#}
{% macro local_timestamp(expression, timezone) -%}
    {{ return(adapter.dispatch('local_timestamp', 'cdp')(expression, timezone)) }}
{%- endmacro %}

{% macro default__local_timestamp(expression, timezone) -%}
    timezone('{{ timezone }}', timezone('UTC', {{ expression }}))
{%- endmacro %}

{% macro spark__local_timestamp(expression, timezone) -%}
    from_utc_timestamp({{ expression }}, '{{ timezone }}')
{%- endmacro %}

{#-
    Override of dbt's snapshot_get_time (dispatched in the `dbt` namespace; a root-project macro of the
    same name wins over the adapter's): the run date instead of current_timestamp. The check strategy
    and hard deletes use it for dbt_valid_from / dbt_valid_to. One per adapter that defines its own.
-#}
{% macro default__snapshot_get_time() -%}
    {{ snapshot_run_at() }}
{%- endmacro %}

{% macro duckdb__snapshot_get_time() -%}
    {{ snapshot_run_at() }}
{%- endmacro %}

{% macro spark__snapshot_get_time() -%}
    {{ snapshot_run_at() }}
{%- endmacro %}

{#- ISO day of week of a date/timestamp: 1 = Monday .. 7 = Sunday. -#}
{% macro iso_day_of_week(expression) -%}
    {{ return(adapter.dispatch('iso_day_of_week', 'cdp')(expression)) }}
{%- endmacro %}

{% macro default__iso_day_of_week(expression) -%}
    isodow({{ expression }})
{%- endmacro %}

{% macro spark__iso_day_of_week(expression) -%}
    {#- dayofweek(): 1 = Sunday .. 7 = Saturday. -#}
    ((dayofweek({{ expression }}) + 5) % 7 + 1)
{%- endmacro %}
