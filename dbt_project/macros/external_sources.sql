{#-
    Sources that are files (landed Parquet folders, CSV files people maintain) declare where they are
    in meta: `external_location` for dbt-duckdb, which reads the files in place, and `location` +
    `format` for engines that read files through tables. register_external_sources() runs at the
    start of every run (on-run-start) and, on Spark, re-creates one external table per such source, so
    that new nightly partitions and new columns are always seen. Nothing is copied.
-#}
{% macro register_external_sources() -%}
    {{ return(adapter.dispatch('register_external_sources', 'cdp')()) }}
{%- endmacro %}

{% macro default__register_external_sources() -%}
    {#- dbt-duckdb reads meta.external_location in place: nothing to register. -#}
{%- endmacro %}

{% macro spark__register_external_sources() -%}
    {%- if execute -%}
        {%- for node in graph.sources.values() if node.meta.get('location') -%}
            {%- set location = node.meta['location'] | replace('{name}', node.name) -%}
            {%- set relation = node.schema ~ '.' ~ node.identifier -%}
            {%- do run_query('create schema if not exists ' ~ node.schema) -%}
            {%- do run_query('drop table if exists ' ~ relation) -%}
            {%- if node.meta['format'] == 'parquet' -%}
                {#- Partition folders (load_date=YYYY-MM-DD) are discovered when the table is created
                    over existing files; mergeSchema unions the columns of all partitions. -#}
                {%- do run_query(
                    "create table " ~ relation ~ " using parquet options (path '" ~ location
                    ~ "', mergeSchema 'true')"
                ) -%}
                {%- do run_query('msck repair table ' ~ relation) -%}
            {%- elif node.meta['format'] == 'csv' -%}
                {%- do run_query(
                    "create table " ~ relation ~ " using csv options (path '" ~ location
                    ~ "', header 'true', inferSchema 'false', multiLine 'true', escape '\"')"
                ) -%}
            {%- else -%}
                {{ exceptions.raise_compiler_error(
                    "source " ~ node.source_name ~ "." ~ node.name ~ ": meta.format must be parquet or csv"
                ) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
