-- The contact addresses no export may carry, per channel: identity resolution's rules applied to the
-- addresses audiences use, so an address identity will not link on is never sent to a tool either:
--   junk     an address matching a pattern of the seed identity_junk_identifiers (test@, noreply@,
--            +31600000000 ...), as written or as identity reads it (email match key);
--   shared   an address (a mailbox: identity's email match key, so +tags and Gmail dots are one
--            address; a phone in E.164) found on the records of more customers than var
--            audience_max_customers_per_address (1): identity keeps those customers apart, so the
--            address reaches someone else too, or one person split into several customers would get
--            the message twice. It is exported for none of them, in every spelling found;
--   screened identity's own verdict (int_identity_identifiers_screened 'junk' or 'shared': more
--            records than identity_max_records_per_identifier, or records that conflict - a store
--            phone typed for a few members, a family email - even when identity merged them).
-- Emails compared trimmed and lower-cased, phones trimmed (E.164), as the destinations write them.
{%- set max_customers = var('audience_max_customers_per_address') | int %}
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

resolved as (

    select * from {{ ref('int_identity_records_resolved') }}

),

record_addresses as (

    select
        resolved.customer_id,
        'email' as channel,
        'email' as identifier_type,
        lower(trim(records.email_normalized)) as address,
        {{ email_match_key('records.email_normalized') }} as address_key
    from records
    inner join resolved
        on records.record_key = resolved.record_key
    where records.email_normalized is not null

    union all

    select
        resolved.customer_id,
        'sms' as channel,
        'phone' as identifier_type,
        trim(records.phone_e164) as address,
        trim(records.phone_e164) as address_key
    from records
    inner join resolved
        on records.record_key = resolved.record_key
    where records.phone_e164 is not null

),

contact_addresses as (

    select
        customer_id,
        'email' as channel,
        'email' as identifier_type,
        lower(trim(email)) as address,
        {{ email_match_key('lower(trim(email))') }} as address_key
    from contacts
    where email is not null

    union all

    select
        customer_id,
        'sms' as channel,
        'phone' as identifier_type,
        trim(phone) as address,
        trim(phone) as address_key
    from contacts
    where phone is not null

),

addresses as (

    select * from record_addresses

    union all

    select * from contact_addresses

),

junk as (

    select
        addresses.channel,
        addresses.address
    from addresses
    inner join junk_patterns
        on
            addresses.identifier_type = junk_patterns.identifier_type
            and (
                addresses.address like junk_patterns.pattern
                or addresses.address_key like junk_patterns.pattern
            )

),

shared_keys as (

    select
        channel,
        address_key
    from addresses
    group by channel, address_key
    having count(distinct customer_id) > {{ max_customers }}

),

shared as (

    select
        addresses.channel,
        addresses.address
    from addresses
    inner join shared_keys
        on
            addresses.channel = shared_keys.channel
            and addresses.address_key = shared_keys.address_key

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
