-- One row per social profile (platform, user_handle) as of run_date. Profiles carry no change time:
-- the latest landing wins, except that email and phone (only sent with a lead form) are the latest
-- non-null ones over all landed versions. updated_at is the latest landing day (00:00 UTC).
with

profiles as (

    select * from {{ ref('stg_social__profiles') }}
    where followed_at is null or followed_at < {{ run_cutoff_at() }}

),

ranked as (

    select
        platform,
        user_handle,
        display_name,
        city,
        load_date,
        row_number() over (
            partition by platform, user_handle
            order by load_date desc, _source_file desc, _source_line desc
        ) as landing_rank,
        first_value(email_normalized) over (
            partition by platform, user_handle
            order by
                case when email_normalized is null then 1 else 0 end asc,
                load_date desc,
                _source_file desc,
                _source_line desc
            rows between unbounded preceding and unbounded following
        ) as email_normalized,
        first_value(phone_e164) over (
            partition by platform, user_handle
            order by
                case when phone_e164 is null then 1 else 0 end asc,
                load_date desc,
                _source_file desc,
                _source_line desc
            rows between unbounded preceding and unbounded following
        ) as phone_e164,
        min(followed_at) over (partition by platform, user_handle) as followed_at,
        min(load_date) over (partition by platform, user_handle) as first_load_date
    from profiles

),

final as (

    select
        platform,
        user_handle,
        display_name,
        email_normalized,
        phone_e164,
        city,
        followed_at,
        cast(load_date as {{ dbt.type_timestamp() }}) as updated_at,
        coalesce(followed_at, cast(first_load_date as {{ dbt.type_timestamp() }})) as first_seen_at,
        load_date
    from ranked
    where landing_rank = 1

)

select * from final
