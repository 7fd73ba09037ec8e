-- One row per unsubscribe event (channel, normalised address, time) before run_date + 1 day; resent
-- identical events count once. Addresses that do not normalise (no valid email/phone) are dropped.
with

unsubscribes as (

    select * from {{ ref('stg_messaging__unsubscribes') }}

),

ranked as (

    select
        channel,
        email_normalized,
        phone_e164,
        unsubscribed_at,
        load_date,
        row_number() over (
            partition by channel, email_normalized, phone_e164, unsubscribed_at
            order by load_date asc, _source_file asc, _source_line asc
        ) as landing_rank
    from unsubscribes
    where
        unsubscribed_at < {{ run_cutoff_at() }}
        and (email_normalized is not null or phone_e164 is not null)

),

final as (

    select
        {{ dbt.concat(["channel", "':'", "coalesce(email_normalized, phone_e164)", "':'",
            dbt.safe_cast("unsubscribed_at", dbt.type_string())]) }} as unsubscribe_key,
        channel,
        email_normalized,
        phone_e164,
        unsubscribed_at,
        load_date as first_load_date
    from ranked
    where landing_rank = 1

)

select * from final
