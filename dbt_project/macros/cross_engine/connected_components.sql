{#-
    Connected components of a link graph (min-label propagation with pointer jumping) for the identity
    models: one query of CTEs on DuckDB; checkpoint tables between rounds on Spark.
    Every macro whose SQL differs between engines lives in macros/cross_engine/ (dispatch twins).
-#}

{#-
    Connected components of a bipartite record-node graph, set-based and portable (no recursive CTE).
    `edges_sql` is a query with columns (record_key, node_key): a node is anything two records share -
    an identifier, or one accepted link between two records (link_nodes). Renders a query of
    (record_key, component_label) for every record of an edge: the smallest record_key of its component.

    Every record starts with its own key as label. Each round (`rounds` times):
      1. min-label propagation: every node takes the smallest label of its records, then every record
         the smallest label of its nodes (window functions, no join);
      2. pointer jumping: every record takes the label of its label's record when that is smaller, so a
         label travels exponentially far along long chains (about 2^rounds records).
    Labels only decrease and always name a record of the same component. The singular test
    assert_identity_labels_converged fails when a node still sees two labels (raise the rounds var).

    DuckDB runs the unrolled rounds as one query of CTEs. Spark inlines CTEs, so the unrolled query
    doubles in size every round (it ran out of memory at 12 rounds); there each round is written to a
    table and the next round reads it (a checkpoint), and release_connected_components() drops the
    last one in the model's post-hook. Same SQL per round on both engines (label_propagation_round).
-#}
{% macro connected_components(edges_sql, prefix, rounds) -%}
    {{ return(adapter.dispatch('connected_components', 'cdp')(edges_sql, prefix, rounds)) }}
{%- endmacro %}

{% macro default__connected_components(edges_sql, prefix, rounds) -%}
with

{{ prefix }}_round_0 as (

    select
        record_key,
        node_key,
        record_key as component_label
    from ({{ edges_sql }}) as edges

),
{% for round in range(1, rounds + 1) %}
{{ label_propagation_round(prefix ~ '_round_' ~ (round - 1), prefix ~ '_round_' ~ round) }},
{% endfor %}
{{ prefix }}_converged as (

    select
        record_key,
        min(component_label) as component_label
    from {{ prefix }}_round_{{ rounds }}
    group by record_key

)

select * from {{ prefix }}_converged
{%- endmacro %}

{#- Spark: one query of all rounds is too deep for its planner, so every round is a checkpoint table,
    written by the model's pre-hooks (connected_components_hooks) when the model runs; rendering the
    model only reads the last round's table (no DDL while SQL is rendered: `dbt compile` writes nothing). -#}
{% macro spark__connected_components(edges_sql, prefix, rounds) -%}
    select
        record_key,
        min(component_label) as component_label
    from {{ connected_components_round_relation(prefix, rounds) }}
    group by record_key
{%- endmacro %}

{#- Pre-hooks (strings, rendered when the model runs, in its context) that write the checkpoint tables
    spark__connected_components reads: `edges` is a Jinja expression that renders the edges SQL in the
    model's context (e.g. "link_nodes(identity_strong_links())"). None on DuckDB (one query). -#}
{% macro connected_components_hooks(edges, prefix, rounds) -%}
    {{ return(adapter.dispatch('connected_components_hooks', 'cdp')(edges, prefix, rounds)) }}
{%- endmacro %}

{% macro default__connected_components_hooks(edges, prefix, rounds) -%}
    {{ return([]) }}
{%- endmacro %}

{% macro spark__connected_components_hooks(edges, prefix, rounds) -%}
    {%- set hooks = [
        "drop table if exists {{ connected_components_round_relation('" ~ prefix ~ "', 0) }}",
        "create table {{ connected_components_round_relation('" ~ prefix ~ "', 0) }} using parquet as "
        ~ "select record_key, node_key, record_key as component_label from ({{ " ~ edges ~ " }}) as edges",
    ] -%}
    {%- for round in range(1, rounds + 1) -%}
        {%- set previous = "{{ connected_components_round_relation('" ~ prefix ~ "', " ~ (round - 1) ~ ") }}" -%}
        {%- set current = "{{ connected_components_round_relation('" ~ prefix ~ "', " ~ round ~ ") }}" -%}
        {%- do hooks.append("drop table if exists " ~ current) -%}
        {%- do hooks.append(
            "create table " ~ current ~ " using parquet as with "
            ~ "{{ label_propagation_round(connected_components_round_relation('" ~ prefix ~ "', " ~ (round - 1)
            ~ "), 'propagated') }} select * from propagated"
        ) -%}
        {%- do hooks.append("drop table if exists " ~ previous) -%}
    {%- endfor -%}
    {{ return(hooks) }}
{%- endmacro %}

{#- One round of connected_components(): CTEs `<name>_*`, ending in `<name>` (record_key, node_key,
    component_label), from the relation or CTE `previous` with the same columns. -#}
{% macro label_propagation_round(previous, name) -%}
{{ name }}_node_min as (

    select
        record_key,
        node_key,
        min(component_label) over (partition by node_key) as component_label
    from {{ previous }}

),

{{ name }}_record_min as (

    select
        record_key,
        node_key,
        min(component_label) over (partition by record_key) as component_label
    from {{ name }}_node_min

),

{{ name }}_record_labels as (

    select distinct
        record_key,
        component_label
    from {{ name }}_record_min

),

{{ name }}_jumped as (

    select
        own.record_key,
        min(
            case
                when parent.component_label < own.component_label then parent.component_label
                else own.component_label
            end
        ) as component_label
    from {{ name }}_record_labels as own
    left join {{ name }}_record_labels as parent
        on own.component_label = parent.record_key
    group by own.record_key

),

{{ name }} as (

    select
        {{ name }}_record_min.record_key,
        {{ name }}_record_min.node_key,
        {{ name }}_jumped.component_label
    from {{ name }}_record_min
    inner join {{ name }}_jumped
        on {{ name }}_record_min.record_key = {{ name }}_jumped.record_key

)
{%- endmacro %}

{#- The table holding round `round` of connected_components(`prefix`) on engines that checkpoint. -#}
{% macro connected_components_round_relation(prefix, round) -%}
    {{- this.schema }}.{{ this.identifier }}__{{ prefix }}_round_{{ round -}}
{%- endmacro %}

{#- post-hook of a model that calls connected_components(prefix, ...): drop the last checkpoint. -#}
{% macro release_connected_components(prefix, rounds) -%}
    {{ return(adapter.dispatch('release_connected_components', 'cdp')(prefix, rounds)) }}
{%- endmacro %}

{% macro default__release_connected_components(prefix, rounds) -%}
{%- endmacro %}

{% macro spark__release_connected_components(prefix, rounds) -%}
    drop table if exists {{ connected_components_round_relation(prefix, rounds) }}
{%- endmacro %}
