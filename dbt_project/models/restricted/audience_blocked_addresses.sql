-- The contact addresses no export may carry, per channel: identity resolution's rules applied to the
-- contacts audiences use (restricted.audience_contacts), so an address identity will not link on is
-- never sent to a tool either:
--   junk    an address matching a pattern of the seed identity_junk_identifiers (test@, noreply@,
--           +31600000000 ...);
--   shared  the contact address of more customers than var identity_max_records_per_identifier: it
--           reaches other people too, so it is exported for none;
--   screened identity's own verdict (int_identity_identifiers_screened 'junk' or 'shared', which also
--           covers a store phone typed for a few members who conflict).
-- Emails compared trimmed and lower-cased, phones trimmed (E.164), as the destinations write them.
{%- set max_records = var('identity_max_records_per_identifier') | int %}
with

contacts as (

    select * from {{ ref('audience_contacts') }}

),

junk_patterns as (

    select * from {{ ref('identity_junk_identifiers') }}

),

screened as (

    select * from {{ ref('int_identity_identifiers_screened') }}

),

records as (

    select * from {{ ref('int_identity_records_unioned') }}

),

contact_addresses as (

    select
        customer_id,
        'email' as channel,
        'email' as identifier_type,
        lower(trim(email)) as address
    from contacts
    where email is not null

    union all

    select
        customer_id,
        'sms' as channel,
        'phone' as identifier_type,
        trim(phone) as address
    from contacts
    where phone is not null

),

junk as (

    select
        contact_addresses.channel,
        contact_addresses.address
    from contact_addresses
    inner join junk_patterns
        on
            contact_addresses.identifier_type = junk_patterns.identifier_type
            and contact_addresses.address like junk_patterns.pattern

),

shared as (

    select
        channel,
        address
    from contact_addresses
    group by channel, address
    having count(distinct customer_id) > {{ max_records }}

),

screened_addresses as (

    select
        case when screened.identifier_type = 'email' then 'email' else 'sms' end as channel,
        case
            when screened.identifier_type = 'email' then lower(trim(records.email_normalized))
            else trim(records.phone_e164)
        end as address
    from screened
    inner join records
        on screened.record_key = records.record_key
    where
        screened.identifier_status in ('junk', 'shared')
        and screened.identifier_type in ('email', 'phone')

),

blocked as (

    select
        channel,
        address
    from junk

    union all

    select
        channel,
        address
    from shared

    union all

    select
        channel,
        address
    from screened_addresses

),

final as (

    select distinct
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(address as {{ dbt.type_string() }}) as address
    from blocked
    where address is not null

)

select * from final
