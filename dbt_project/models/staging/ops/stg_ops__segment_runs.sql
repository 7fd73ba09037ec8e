with

source as (

    select * from {{ source('ops', 'segment_runs') }}

),

renamed as (

    select
        cast(run_date as date) as sent_date,
        segment as segment_name,
        definition_hash,
        control_share,
        measurement_window_days
    from source
    where run_date <= {{ run_date_literal() }}

)

select * from renamed
