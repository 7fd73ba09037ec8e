-- Identity overrides as typed by a data engineer, blanks as null (tests reject incomplete rows).
with

source as (

    select * from {{ source('config', 'identity_overrides') }}

),

final as (

    select
        lower({{ nullif_blank('action') }}) as action,  -- noqa: RF04
        {{ nullif_blank('record_key_a') }} as record_key_a,
        {{ nullif_blank('record_key_b') }} as record_key_b,
        {{ nullif_blank('reason') }} as reason,
        {{ nullif_blank('added_by') }} as added_by,
        {{ nullif_blank('added_at') }} as added_at
    from source

)

select * from final
