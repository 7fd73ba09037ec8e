with

source as (

    select * from {{ source('ops', 'segment_membership') }}

),

renamed as (

    select
        cast(run_date as date) as sent_date,
        segment as segment_name,
        customer_id,
        is_control
    from source
    where run_date <= {{ run_date_literal() }}

)

select * from renamed
