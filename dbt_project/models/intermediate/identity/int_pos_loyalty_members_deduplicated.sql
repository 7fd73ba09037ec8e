-- One row per loyalty member as of run_date: the latest version by updated_at wins, ties broken by
-- the latest landing (load_date, then position in the file). Versions changed at or after
-- run_date + 1 day are left out. first_seen_at is the earliest enrolment/change over all versions.
with

members as (

    select * from {{ ref('stg_pos__loyalty_members') }}

),

ranked as (

    select
        loyalty_card_no,
        first_name,
        last_name,
        gender,
        birth_date,
        email_normalized,
        phone_e164,
        postcode,
        city,
        address_line,
        home_store_id,
        enrolled_at,
        updated_at,
        email_opt_in,
        sms_opt_in,
        load_date,
        row_number() over (
            partition by loyalty_card_no
            order by updated_at desc, load_date desc, _source_file desc, _source_line desc
        ) as version_rank,
        min(
            case when enrolled_at < updated_at then enrolled_at else updated_at end
        ) over (partition by loyalty_card_no) as first_seen_at
    from members
    where updated_at < {{ run_cutoff_at() }}

),

final as (

    select
        loyalty_card_no,
        first_name,
        last_name,
        gender,
        birth_date,
        email_normalized,
        phone_e164,
        postcode,
        city,
        address_line,
        home_store_id,
        enrolled_at,
        updated_at,
        email_opt_in,
        sms_opt_in,
        first_seen_at,
        load_date
    from ranked
    where version_rank = 1

)

select * from final
