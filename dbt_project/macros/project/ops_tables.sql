{#-
    on-run-start: the pipeline's own history tables (source `ops`), which the steps after the build
    fill (exports/publish.py) and campaign_results reads back. Created empty when missing so that the
    first build of a new warehouse finds them; never altered or emptied here. Their columns and types
    are the source's YAML (models/staging/ops/_ops__sources.yml), which cdp/ops_tables.py reads too;
    on Spark Parquet partitioned by run_date (a re-run overwrites its date's partition).
-#}
{% macro create_ops_tables() -%}
    {%- if execute -%}
        {%- do run_query('create schema if not exists ops') -%}
        {%- for node in graph.sources.values() if node.source_name == 'ops' -%}
            {%- set column_list = [] -%}
            {%- for column in node.columns.values() -%}
                {%- do column_list.append(adapter.quote(column.name) ~ ' ' ~ column.data_type) -%}
            {%- endfor -%}
            {%- do run_query(
                'create table if not exists ops.' ~ node.name ~ ' (' ~ column_list | join(', ') ~ ')'
                ~ (' using parquet partitioned by (run_date)' if target.type == 'spark' else '')
            ) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
