{#-
    Engine twins that build or read relations: date-slice incremental configs, external sources,
    a model's previous state, snapshot rewinds, and overrides of dbt-spark's constraints, seed loader
    and snapshot materialization.
    Every macro whose SQL differs between engines lives in macros/cross_engine/ (dispatch twins).
-#}

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
        {%- set needed = sources_read_by_selection() -%}
        {%- for node in graph.sources.values() if node.meta.get('location') and node.unique_id in needed -%}
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

{#- The unique ids of the sources this invocation reads: those the selected nodes depend on, directly
    or through models that are not stored as tables (views, ephemeral models) and are not selected. A
    model stored as a table already holds what it read, so its sources are not read again: the
    export's invocation (tag:segment_export) and the models after the CLV fit need almost none, and on
    Spark re-registering every landed table cost each such invocation ~80 metastore statements (D65). -#}
{% macro sources_read_by_selection() -%}
    {%- set needed = [] -%}
    {%- set seen = [] -%}
    {%- set queue = [] -%}
    {%- for unique_id in selected_resources -%}
        {%- do queue.append(unique_id) -%}
    {%- endfor -%}
    {#- The queue grows while it is walked (a breadth-first walk; Jinja has no while loop). -#}
    {%- for unique_id in queue if unique_id not in seen -%}
        {%- do seen.append(unique_id) -%}
        {%- if unique_id in graph.sources -%}
            {%- do needed.append(unique_id) -%}
        {%- elif unique_id in graph.nodes -%}
            {%- set node = graph.nodes[unique_id] -%}
            {%- set stored = node.resource_type in ('seed', 'snapshot')
                or node.config.get('materialized') in ('table', 'incremental') -%}
            {%- if unique_id in selected_resources or not stored -%}
                {%- for parent in node.depends_on.nodes -%}
                    {%- do queue.append(parent) -%}
                {%- endfor -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(needed) }}
{%- endmacro %}

{#- The existing table of an incremental model, when this run may read it as its previous state:
    an incremental run (is_incremental(): the table exists and this is not a --full-refresh) of a table
    that has the column `marker` (its newest column, so an older layout is not taken for a state);
    none otherwise, and at parse time. A marker `!column` asks for the opposite: the table when it
    lacks that column (an older layout the model rewrites once, e.g. renamed columns: D48). Reads
    metadata only. -#}
{% macro previous_state_source(marker) -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set existing = load_relation(this) -%}
    {%- if existing is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(existing) | map(attribute='name') | map('lower') | list -%}
    {%- if marker.startswith('!') -%}
        {{ return(none if marker[1:] | lower in columns else existing) }}
    {%- endif -%}
    {{ return(existing if marker | lower in columns else none) }}
{%- endmacro %}

{#- The relation an incremental model reads its previous result from (`this` as it was before this
    run), or none (first build, --full-refresh, an older layout, parse time). Rendering runs no DDL:
    the copy Spark reads is made by the pre-hooks of previous_state_hooks() when the model runs. -#}
{% macro previous_state(marker) -%}
    {%- set existing = previous_state_source(marker) -%}
    {%- if existing is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.dispatch('previous_state', 'cdp')(existing)) }}
{%- endmacro %}

{#- DuckDB: the incremental run builds its new rows into a temporary table (reading `this`) before
    it replaces the table's rows (incremental strategy replace_all), so the table itself is the state. -#}
{% macro default__previous_state(existing) -%}
    {{ return(existing) }}
{%- endmacro %}

{#- Spark: `insert overwrite` cannot read the table it overwrites, so the model reads a copy of it,
    made by its pre-hooks (previous_state_hooks) and dropped by its post-hook (release_previous_state). -#}
{% macro spark__previous_state(existing) -%}
    {{ return(previous_state_relation()) }}
{%- endmacro %}

{#- The copy of a model's previous result on engines that cannot read a table while overwriting it. -#}
{% macro previous_state_relation() -%}
    {{- this.schema }}.{{ this.identifier }}__previous
{%- endmacro %}

{#- Pre-hooks (strings, rendered when the model runs) of a model that calls previous_state(marker). -#}
{% macro previous_state_hooks(marker) -%}
    {{ return(adapter.dispatch('previous_state_hooks', 'cdp')(marker)) }}
{%- endmacro %}

{% macro default__previous_state_hooks(marker) -%}
    {{ return([]) }}
{%- endmacro %}

{% macro spark__previous_state_hooks(marker) -%}
    {{ return([
        "drop table if exists {{ previous_state_relation() }}",
        "{{ copy_previous_state('" ~ marker ~ "') }}",
    ]) }}
{%- endmacro %}

{#- The statement copying the previous state (empty when there is none: the hook is skipped). -#}
{% macro copy_previous_state(marker) -%}
    {%- set existing = previous_state_source(marker) -%}
    {%- if existing is not none -%}
        create table {{ previous_state_relation() }} using parquet as select * from {{ existing }}
    {%- endif -%}
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

{#- Config of an incremental model whose every run replaces all its rows (a state that is read back,
    int_identity_records_grouped): DuckDB deletes the rows and inserts the new ones (strategy
    replace_all below); Spark overwrites the table (insert_overwrite without partitions). A new
    column is added to an existing table. Use as config(materialized='incremental', **replace_whole_table()). -#}
{% macro replace_whole_table() -%}
    {{ return(adapter.dispatch('replace_whole_table', 'cdp')()) }}
{%- endmacro %}

{% macro default__replace_whole_table() -%}
    {{ return({'incremental_strategy': 'replace_all', 'on_schema_change': 'append_new_columns'}) }}
{%- endmacro %}

{% macro spark__replace_whole_table() -%}
    {{ return({
        'incremental_strategy': 'insert_overwrite', 'file_format': 'parquet', 'on_schema_change': 'append_new_columns'
    }) }}
{%- endmacro %}

{#- Incremental strategy replace_all (dbt-duckdb looks up get_incremental_<strategy>_sql): every row of
    the target is replaced by the new rows, in one transaction. -#}
{% macro get_incremental_replace_all_sql(arg_dict) -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') -%}
    delete from {{ arg_dict['target_relation'] }};
    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}

{#-
    Incremental models that keep one slice per date (histories: as_of_date; clv_model_runs: run_date)
    replace that date's slice on every run, so a re-run of a date replaces it and other dates stay.
    Engines do it differently: DuckDB deletes the date's rows and inserts (delete+insert on the date
    column); Spark tables on plain Parquet have no row-level delete, so the table is partitioned by
    the date and the run overwrites its partition (insert_overwrite, dynamic partition overwrite).
    Use as config(materialized='incremental', full_refresh=false, **replace_date_slice('as_of_date'))
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

{#-
    Pre-hook of a point-in-time snapshot, one statement per step (step = 'delete' | 'reopen') so it
    runs on engines that take one statement per call. Unless a later date is already in the snapshot:
    delete the versions this run_date opened and reopen the versions it closed (an earlier run of the
    same date), so that dbt snapshots the date afresh. Renders nothing on the first run. Spark tables
    on Parquet have no row-level delete or update: there the 'delete' step rewrites the table with
    both changes and 'reopen' has nothing left to do.
-#}
{% macro snapshot_rewind(step) -%}
    {%- if step not in ('delete', 'reopen') -%}
        {{ exceptions.raise_compiler_error("snapshot_rewind: step is 'delete' or 'reopen'") }}
    {%- endif -%}
    {%- if execute -%}
        {%- set relation = adapter.get_relation(
            database=this.database, schema=this.schema, identifier=this.identifier
        ) -%}
        {%- if relation is not none and not snapshot_has_later_run(relation) -%}
            {{ return(adapter.dispatch('snapshot_rewind', 'cdp')(relation, step)) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro default__snapshot_rewind(relation, step) -%}
    {%- if step == 'delete' -%}
        delete from {{ relation }} where dbt_valid_from = {{ snapshot_run_at() }}
    {%- else -%}
        update {{ relation }} set dbt_valid_to = null where dbt_valid_to = {{ snapshot_run_at() }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__snapshot_rewind(relation, step) -%}
    {%- if step == 'delete' -%}
        {%- set selected = [] -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- if column.name == 'dbt_valid_to' -%}
                {%- do selected.append(
                    'case when dbt_valid_to = ' ~ snapshot_run_at() ~ ' then null else dbt_valid_to end as dbt_valid_to'
                ) -%}
            {%- else -%}
                {%- do selected.append(adapter.quote(column.name)) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set kept -%}
            select {{ selected | join(', ') }}
            from {{ relation }}
            where dbt_valid_from <> {{ snapshot_run_at() }}
        {%- endset -%}
        {{ spark_rewrite_table(relation, kept) }}
    {%- endif -%}
{%- endmacro %}

{#-
    Override of dbt-spark's column constraints for enforced contracts (restricted.audience_contacts):
    Spark can set NOT NULL only on Delta tables; on Parquet `alter table .. change column .. set not
    null` fails. The contract's column names and types are still enforced by dbt before the table is
    built; not-null is checked by the model's not_null data tests on both engines instead.
-#}
{% macro spark__alter_column_set_constraints(relation, column_dict) -%}
    {%- if config.get('file_format', 'parquet') in ('delta', 'iceberg') -%}
        {%- for column_name in column_dict -%}
            {%- for constraint in column_dict[column_name]['constraints'] if constraint.type == 'not_null' -%}
                {%- set quoted_name = adapter.quote(column_name) if column_dict[column_name]['quote'] else column_name -%}
                {%- call statement() -%}
                    alter table {{ relation }} change column {{ quoted_name }} set not null
                {%- endcall -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#-
    Override of dbt-spark's seed loader: its `session` method pastes values into the SQL unescaped,
    so a value with a quote ("Can't Lose Them", rfm_segment_map) breaks the statement. Values are
    rendered as escaped literals here instead (quotes doubled, backslashes doubled as Spark string
    literals need); types as dbt-spark casts them.
-#}
{% macro spark__load_csv_rows(model, agate_table) -%}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for col_name in agate_table.column_names -%}
                    {%- set data_type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) -%}
                    {%- set value = row[loop.index0] -%}
                    {%- if value is none -%}
                        cast(null as {{ data_type }})
                    {%- else -%}
                        cast('{{ value | string | replace("\\", "\\\\") | replace("'", "''") }}' as {{ data_type }})
                    {%- endif -%}
                    {%- if not loop.last %}, {% endif -%}
                {%- endfor -%})
                {%- if not loop.last %},{% endif %}
            {% endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.index0 == 0 -%}
            {%- do statements.append(sql) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements[0] if statements else '') }}
{%- endmacro %}
