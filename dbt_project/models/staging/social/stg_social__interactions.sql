with

source as (

    select * from {{ source('social', 'interactions') }}
    where load_date <= {{ run_date_literal() }}

),

renamed as (

    select
        trim(interaction_id) as interaction_id,
        lower(trim(platform)) as platform,
        lower({{ regexp_replace_all('trim(user_handle)', '^@+', '') }}) as user_handle,
        lower(trim(event_type)) as event_type,
        cast(event_time as {{ dbt.type_timestamp() }}) as interacted_at,
        {{ nullif_blank('post_id') }} as post_id,
        {{ nullif_blank('campaign_id') }} as campaign_id,
        cast(load_date as date) as load_date,
        _source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as _source_line,
        _flags
    from source

)

select * from renamed
