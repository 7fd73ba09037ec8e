{#-
    Snapshots on Spark tables stored as plain Parquet. dbt-spark snapshots only Delta, Iceberg or Hudi
    tables (it merges rows in place); a cluster without them still needs the profile history. This
    materialization overrides dbt-spark's (a root-project materialization wins) and writes the same
    result by rewriting the table: the versions kept, closed ones with their dbt_valid_to set, and the
    new versions (spark_rewrite_table; on Delta or Iceberg too, where a merge would be cheaper). The
    staging query (which rows are new, changed, deleted) is dbt's own snapshot_staging_table.
-#}
{% materialization snapshot, adapter='spark' %}
    {%- set target_table = model.get('alias', model.get('name')) -%}
    {%- set strategy_name = config.get('strategy') -%}
    {%- set target_relation_exists, target_relation = get_or_create_relation(
        database=none, schema=model.schema, identifier=target_table, type='table'
    ) -%}
    {%- if not adapter.check_schema_exists(model.database, model.schema) -%}
        {%- do create_schema(model.schema) -%}
    {%- endif -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- set strategy_macro = strategy_dispatch(strategy_name) -%}
    {%- set strategy = strategy_macro(model, "snapshotted_data", "source_data", model['config'], target_relation_exists) -%}

    {%- if not target_relation_exists -%}
        {%- set final_sql = create_table_as(False, target_relation, build_snapshot_table(strategy, model['compiled_code'])) -%}
        {%- call statement('main') -%}
            {{ final_sql }}
        {%- endcall -%}
    {%- else -%}
        {%- set columns = config.get("snapshot_table_column_names") or get_snapshot_table_column_names() -%}
        {{ adapter.valid_snapshot_target(target_relation, columns) }}
        {%- set staging_table = spark_build_snapshot_staging_table(strategy, sql, target_relation) -%}
        {%- set target_columns = adapter.get_columns_in_relation(target_relation) -%}
        {%- set kept = [] -%}
        {%- set added = [] -%}
        {%- for column in target_columns -%}
            {%- set name = adapter.quote(column.name) -%}
            {%- if column.name == columns.dbt_valid_to -%}
                {%- do kept.append(
                    'case when closing.' ~ name ~ ' is not null then closing.' ~ name
                    ~ ' else dest.' ~ name ~ ' end as ' ~ name
                ) -%}
            {%- else -%}
                {%- do kept.append('dest.' ~ name) -%}
            {%- endif -%}
            {%- do added.append('staged.' ~ name) -%}
        {%- endfor -%}
        {%- set merged -%}
            select {{ kept | join(', ') }}
            from {{ target_relation }} as dest
            left join (
                select {{ columns.dbt_scd_id }}, {{ columns.dbt_valid_to }}
                from {{ staging_table }}
                where dbt_change_type in ('update', 'delete')
            ) as closing
                on dest.{{ columns.dbt_scd_id }} = closing.{{ columns.dbt_scd_id }}
                and dest.{{ columns.dbt_valid_to }} is null
            union all
            select {{ added | join(', ') }}
            from {{ staging_table }} as staged
            where staged.dbt_change_type = 'insert'
        {%- endset -%}
        {%- call statement('main') -%}
            {{ spark_rewrite_table(target_relation, merged) }}
        {%- endcall -%}
        {%- do post_snapshot(staging_table) -%}
    {%- endif -%}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{#- Replace every row of Parquet table `relation` with the rows of `select_sql` (same columns, same
    order). Spark cannot overwrite a table it is reading, so the rows go through a work table first.
    Returns the last statement for the caller to run as its main statement. -#}
{% macro spark_rewrite_table(relation, select_sql) -%}
    {%- set work = relation.schema ~ '.' ~ relation.identifier ~ '__rewrite' -%}
    {%- do run_query('drop table if exists ' ~ work) -%}
    {%- do run_query('create table ' ~ work ~ ' using parquet as ' ~ select_sql) -%}
    {%- do run_query('insert overwrite table ' ~ relation ~ ' select * from ' ~ work) -%}
    drop table if exists {{ work }}
{%- endmacro %}
