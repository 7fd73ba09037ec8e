with

source as (

    select * from {{ source('messaging', 'campaigns') }}
    where load_date <= {{ run_date_literal() }}

),

renamed as (

    select
        trim(campaign_id) as campaign_id,
        {{ clean_text('campaign_name') }} as campaign_name,
        lower(trim(segment_name)) as segment_name,
        lower(trim(channel)) as channel,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,
        lower(trim(goal)) as goal,
        cast(budget as decimal(18, 2)) as budget_amount,
        cast(cost as decimal(18, 2)) as cost_amount,
        upper(trim(currency)) as currency,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        cast(load_date as date) as load_date,
        _source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as _source_line,
        _flags
    from source

)

select * from renamed
