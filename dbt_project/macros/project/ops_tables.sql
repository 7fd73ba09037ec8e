{#-
    on-run-start: the pipeline's own history tables (source `ops`), which the steps after the build
    fill (exports/publish.py) and campaign_results reads back. Created empty
    when missing so that the first build of a new warehouse finds them; never altered or emptied here.
    Same columns as cdp/ops_tables.py; on Spark Parquet partitioned by run_date (a re-run overwrites
    its date's partition).
-#}
{% macro create_ops_tables() -%}
    {%- set tables = {
        'segment_membership': [
            ('run_date', 'date'), ('segment', dbt.type_string()), ('customer_id', dbt.type_string()),
            ('is_control', dbt.type_boolean()), ('definition_hash', dbt.type_string()),
        ],
        'segment_runs': [
            ('run_date', 'date'), ('segment', dbt.type_string()), ('definition_hash', dbt.type_string()),
            ('members', dbt.type_bigint()), ('control', dbt.type_bigint()), ('control_share', 'double'),
            ('measurement_window_days', dbt.type_int()),
        ],
        'segment_exports': [
            ('run_date', 'date'), ('segment', dbt.type_string()), ('destination', dbt.type_string()),
            ('file', dbt.type_string()), ('rows', dbt.type_bigint()), ('added', dbt.type_bigint()),
            ('removed', dbt.type_bigint()), ('sha256', dbt.type_string()),
            ('definition_hash', dbt.type_string()),
        ],
    } -%}
    {%- if execute -%}
        {%- do run_query('create schema if not exists ops') -%}
        {%- for name, columns in tables.items() -%}
            {%- set column_list = [] -%}
            {%- for column, data_type in columns -%}
                {%- do column_list.append(adapter.quote(column) ~ ' ' ~ data_type) -%}
            {%- endfor -%}
            {%- do run_query(
                'create table if not exists ops.' ~ name ~ ' (' ~ column_list | join(', ') ~ ')'
                ~ (' using parquet partitioned by (run_date)' if target.type == 'spark' else '')
            ) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
