-- Connected components of the record-identifier graph, set-based and portable (no recursive CTE):
-- every record starts with its own record_key as label. Each round (unrolled with a Jinja loop,
-- var identity_label_rounds):
--   1. min-label propagation: every identifier takes the smallest label of its records, then every
--      record the smallest label of its identifiers (window functions, no join);
--   2. pointer jumping: every record takes the label of its label's record when that is smaller, so a
--      label travels exponentially far along long chains (about 2^rounds records).
-- Labels only decrease and always name a record of the same component, so the fixed point is the
-- smallest record_key of each component. The singular test assert_identity_labels_converged fails
-- when an identifier still sees two labels after the last round (raise the var).
-- Output: the edges with the final component label.
{%- set rounds = var('identity_label_rounds') | int %}
with

edges as (

    select * from {{ ref('int_identity_edges_extracted') }}

),

round_0 as (

    select
        record_key,
        identifier_key,
        record_key as component_label
    from edges

),
{% for round in range(1, rounds + 1) %}
identifier_min_{{ round }} as (

    select
        record_key,
        identifier_key,
        min(component_label) over (partition by identifier_key) as component_label
    from round_{{ round - 1 }}

),

record_min_{{ round }} as (

    select
        record_key,
        identifier_key,
        min(component_label) over (partition by record_key) as component_label
    from identifier_min_{{ round }}

),

record_labels_{{ round }} as (

    select distinct
        record_key,
        component_label
    from record_min_{{ round }}

),

jumped_{{ round }} as (

    select
        own.record_key,
        min(
            case
                when parent.component_label < own.component_label then parent.component_label
                else own.component_label
            end
        ) as component_label
    from record_labels_{{ round }} as own
    left join record_labels_{{ round }} as parent
        on own.component_label = parent.record_key
    group by own.record_key

),

round_{{ round }} as (

    select
        record_min_{{ round }}.record_key,
        record_min_{{ round }}.identifier_key,
        jumped_{{ round }}.component_label
    from record_min_{{ round }}
    inner join jumped_{{ round }}
        on record_min_{{ round }}.record_key = jumped_{{ round }}.record_key

),
{% endfor %}
final as (

    select
        record_key,
        identifier_key,
        component_label
    from round_{{ rounds }}

)

select * from final
