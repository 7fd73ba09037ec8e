with

resolved as (

    select * from {{ ref('int_identity_records_resolved') }}

),

final as (

    select
        source,
        entity,
        source_record_id,
        customer_id
    from resolved

)

select * from final
