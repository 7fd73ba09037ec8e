{#-
    Point-in-time snapshots (snapshots/dim_customers_snapshot.yml). dbt stamps snapshot versions with
    the wall clock by default; here a snapshot run is a run of `run_date` like every model, so:
      1. the snapshot clock is the run date: dbt_valid_from / dbt_valid_to / dbt_updated_at of new,
         changed and hard-deleted rows are run_date 00:00 (snapshot_get_time, macros/cross_engine/time.sql);
      2. re-running the latest date replaces that date's versions (pre-hook snapshot_rewind: versions
         opened on run_date are deleted, versions closed on run_date reopened, then dbt snapshots the
         date again), so a re-run gives the same table and never a second version for the same day;
      3. running a date earlier than the snapshot's latest change leaves the snapshot as it is (the
         snapshot's source replays the current versions, snapshot_has_later_run), so re-running or
         backfilling an old date cannot close versions "in the past" of later ones.
    Backfills run dates in order, so they extend the history day by day.
-#}

{#- run_date 00:00 as a SQL timestamp: the snapshot clock. -#}
{% macro snapshot_run_at() -%}
    cast('{{ run_date() }} 00:00:00' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- The relation of snapshot `snapshot_name` if it exists in the warehouse, else none (found through
    the graph, so a model can read the snapshot it feeds without a ref, which would be a cycle). -#}
{% macro existing_snapshot_relation(snapshot_name) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'snapshot' and node.name == snapshot_name -%}
            {{ return(adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias)) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}

{#- True when the snapshot already holds a change (a version opened or closed) after run_date. -#}
{% macro snapshot_has_later_run(relation) -%}
    {%- if relation is none or not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set query -%}
        select count(*) as later_rows
        from {{ relation }}
        where coalesce(dbt_valid_to, dbt_valid_from) > {{ snapshot_run_at() }}
    {%- endset -%}
    {{ return(run_query(query).columns[0].values()[0] > 0) }}
{%- endmacro %}
