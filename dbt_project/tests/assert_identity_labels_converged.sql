-- Identity components must have converged: after the last propagation round every identifier's
-- records carry one label. A row here = an edge whose two ends still disagree; raise the var
-- identity_label_rounds (or replace label propagation) when this fails.
with

labelled_edges as (

    select * from {{ ref('int_identity_edges_labelled') }}

),

identifier_labels as (

    select
        identifier_key,
        min(component_label) as identifier_label
    from labelled_edges
    group by identifier_key

),

final as (

    select
        labelled_edges.record_key,
        labelled_edges.identifier_key
    from labelled_edges
    inner join identifier_labels
        on labelled_edges.identifier_key = identifier_labels.identifier_key
    where labelled_edges.component_label <> identifier_labels.identifier_label

)

select * from final
