{#-
    Incremental models that keep one slice per date (histories: as_of_date; clv_model_runs: run_date)
    replace that date's slice on every run, so a re-run of a date replaces it and other dates stay.
    Engines do it differently: DuckDB deletes the date's rows and inserts (delete+insert on the date
    column); Spark tables on plain Parquet have no row-level delete, so the table is partitioned by
    the date and the run overwrites its partition (insert_overwrite, dynamic partition overwrite).
    Use as {{ config(materialized='incremental', full_refresh=false, **replace_date_slice('as_of_date')) }}
    (keyword arguments first: Jinja takes **kwargs last).
    On Spark the partition column comes last in the table; select columns by name.
-#}
{% macro replace_date_slice(column) -%}
    {{ return(adapter.dispatch('replace_date_slice', 'cdp')(column)) }}
{%- endmacro %}

{% macro default__replace_date_slice(column) -%}
    {{ return({'incremental_strategy': 'delete+insert', 'unique_key': column}) }}
{%- endmacro %}

{% macro spark__replace_date_slice(column) -%}
    {{ return({'incremental_strategy': 'insert_overwrite', 'partition_by': [column], 'file_format': 'parquet'}) }}
{%- endmacro %}
