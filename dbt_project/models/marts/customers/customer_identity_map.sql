with

resolved as (

    select * from {{ ref('int_identity_records_resolved') }}

),

final as (

    select
        source,
        entity,
        source_record_id,
        record_key,
        customer_id,
        id_minted_on as customer_id_since,
        cluster_status
    from resolved

)

select * from final
