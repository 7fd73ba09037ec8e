-- Who is in each segment on run_date, control group included: one row per segment and member. The
-- segments come from var `segments`, which the export stage (exports/publish.py) fills from the
-- marketers' definitions (exports/segments/*.yml): each definition's filter is parsed and checked by
-- exports/filters.py (an allow-list of column references, literals, comparisons and a few scalar
-- functions over customer_360's declared columns) and it is that checked tree, rendered by sqlglot for
-- this engine, that stands here; the YAML text never reaches the warehouse. Without the var (a plain
-- `dbt build`) the model is empty. No contact data and no consent here: whatever a filter does, it
-- only chooses customer ids. The control group: unit_hash('<segment>:<customer_id>') < control_share,
-- stable across nights and equal on both engines.
{%- set segments = var('segments', []) %}
with

customers as (

    select * from {{ ref('customer_360') }}

),
{%- for segment in segments %}
{%- if not modules.re.match('^[a-z0-9_]{1,64}$', segment['name'] | string)
    or not modules.re.match('^[0-9a-f]{1,64}$', segment['definition_hash'] | string) %}
{{- exceptions.raise_compiler_error("var 'segments': a segment name or definition hash is malformed") }}
{%- endif %}

segment_{{ loop.index }} as (

    select
        '{{ segment["name"] }}' as segment,
        customer_id,
        {{ unit_hash("'" ~ segment['name'] ~ ":' || customer_id") }}
        < cast({{ segment['control_share'] | float }} as double) as is_control,
        '{{ segment["definition_hash"] }}' as definition_hash
    from customers
    where ({{ segment['filter'] }})

),
{%- endfor %}

members as (
    {%- for segment in segments %}

    select * from segment_{{ loop.index }}
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- else %}

    select
        cast(null as {{ dbt.type_string() }}) as segment,
        customer_id,
        false as is_control,
        cast(null as {{ dbt.type_string() }}) as definition_hash
    from customers
    where 1 = 0
    {%- endfor %}

),

final as (

    select
        cast(segment as {{ dbt.type_string() }}) as segment,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        is_control,
        cast(definition_hash as {{ dbt.type_string() }}) as definition_hash,
        {{ run_date_literal() }} as run_date
    from members

)

select * from final
