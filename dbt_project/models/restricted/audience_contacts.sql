-- The contact data audiences may use, one row per customer (restricted schema: plain email, phone and
-- names): exports/ joins segment members (filtered over customer_360) to this model and nothing else,
-- so only these columns can leave the warehouse. Plain values come from restricted.customer_profiles.
-- can_email / can_sms fold presence, the latest consent across channels and unsubscribes on any of the
-- person's records (dim_customers.is_*_contactable), and the global suppression list
-- (stg_privacy__suppressions), which always wins: a suppressed address on ANY of the person's records
-- (not only the one exported) makes the person uncontactable on that channel (on both for 'all').
with

customers as (

    select * from {{ ref('dim_customers') }}

),

profiles as (

    select * from {{ ref('customer_profiles') }}

),

records as (

    select * from {{ ref('int_identity_records_unioned') }}

),

resolved as (

    select * from {{ ref('int_identity_records_resolved') }}

),

suppressions as (

    select * from {{ ref('stg_privacy__suppressions') }}

),

customer_addresses as (

    select
        resolved.customer_id,
        records.email_normalized,
        -- Identity's reading of the address (+tag, Gmail dots): a suppressed spelling of it matches.
        {{ email_match_key('records.email_normalized') }} as email_key,
        records.phone_e164
    from records
    inner join resolved
        on records.record_key = resolved.record_key
    where records.email_normalized is not null or records.phone_e164 is not null

),

suppression_matches as (

    select
        customer_addresses.customer_id,
        suppressions.channel
    from customer_addresses
    inner join suppressions
        on customer_addresses.email_key = suppressions.email_key

    union all

    select
        customer_addresses.customer_id,
        suppressions.channel
    from customer_addresses
    inner join suppressions
        on customer_addresses.phone_e164 = suppressions.phone_e164

),

suppressed as (

    select
        customer_id,
        max(case when channel in ('email', 'all') then 1 else 0 end) = 1 as is_email_suppressed,
        max(case when channel in ('sms', 'all') then 1 else 0 end) = 1 as is_sms_suppressed
    from suppression_matches
    group by customer_id

),

final as (

    select
        cast(customers.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(profiles.email as {{ dbt.type_string() }}) as email,
        cast(profiles.phone as {{ dbt.type_string() }}) as phone,
        cast(profiles.first_name as {{ dbt.type_string() }}) as first_name,
        cast(profiles.last_name as {{ dbt.type_string() }}) as last_name,
        coalesce(suppressed.is_email_suppressed, false) as is_email_suppressed,
        coalesce(suppressed.is_sms_suppressed, false) as is_sms_suppressed,
        coalesce(customers.is_email_contactable, false)
        and profiles.email is not null
        and not coalesce(suppressed.is_email_suppressed, false) as can_email,
        coalesce(customers.is_sms_contactable, false)
        and profiles.phone is not null
        and not coalesce(suppressed.is_sms_suppressed, false) as can_sms
    from customers
    left join profiles
        on customers.customer_id = profiles.customer_id
    left join suppressed
        on customers.customer_id = suppressed.customer_id

)

select * from final
