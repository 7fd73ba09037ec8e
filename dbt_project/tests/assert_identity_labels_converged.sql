-- Identity components must have converged: after the last propagation round both records of every
-- accepted link carry one cluster label (pass 1). A row here = a link whose two ends still disagree;
-- raise the var identity_label_rounds when this fails.
with

links as (

    select * from {{ ref('int_identity_links') }}

),

clusters as (

    select * from {{ ref('int_identity_records_clustered') }}

),

final as (

    select
        links.record_key_l,
        links.record_key_r
    from links
    inner join clusters as left_clusters
        on links.record_key_l = left_clusters.record_key
    inner join clusters as right_clusters
        on links.record_key_r = right_clusters.record_key
    where
        links.is_accepted
        and left_clusters.pass1_label <> right_clusters.pass1_label

)

select * from final
