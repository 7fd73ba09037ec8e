-- The global suppression list (<home>/config/suppression.csv), as cdp.privacy hands it to dbt: phones
-- already in E.164 (libphonenumber with the market's region, like the sources' landed phone columns);
-- emails normalised with the same macro as the sources', plus identity's match key (email_match_key),
-- so a suppressed 'anna.hendriks+news@gmail.com' suppresses the person identity knows as
-- 'annahendriks@gmail.com'. Rows without a usable address are dropped.
with

source as (

    select * from {{ source('privacy', 'suppression_list') }}

),

channels as (

    -- An empty or unknown channel suppresses the address everywhere: a typo must not let mail through.
    select
        case
            when lower(trim(channel)) in ('email', 'sms') then lower(trim(channel))
            else 'all'
        end as channel,
        address,
        phone_e164,
        reason,
        added_at
    from source

),

renamed as (

    select
        channel,
        case when channel in ('email', 'all') then {{ normalize_email('address') }} end as email_normalized,
        case when channel in ('sms', 'all') then {{ nullif_blank('phone_e164') }} end as phone_e164,
        {{ clean_text('reason') }} as reason,
        {{ dbt.safe_cast(nullif_blank('added_at'), dbt.type_timestamp()) }} as added_at
    from channels

),

final as (

    select
        channel,
        email_normalized,
        {{ email_match_key('email_normalized') }} as email_key,
        phone_e164,
        reason,
        added_at
    from renamed
    where email_normalized is not null or phone_e164 is not null

)

select * from final
