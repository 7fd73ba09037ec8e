-- Who may be sent what, one row per customer of audience_contacts: the contact fields an export may
-- use and whether the customer is reachable by email and by SMS with every rule applied. Consent and
-- suppression (can_*, folded in audience_contacts) are checked with the suppression flags again on
-- their own; an email must not start like a spreadsheet formula (=, +, -, @, tab, carriage return)
-- since destinations need it verbatim; an SMS number must be E.164; an address identity treats as junk
-- or shared (audience_blocked_addresses) is never reachable. The destination models read only this
-- model for contact data, after a segment's filter has chosen the members.
with

contacts as (

    select * from {{ ref('audience_contacts') }}

),

blocked as (

    select * from {{ ref('audience_blocked_addresses') }}

),

blocked_emails as (

    select address from blocked
    where channel = 'email'

),

blocked_phones as (

    select address from blocked
    where channel = 'sms'

),

final as (

    select
        cast(contacts.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(contacts.email as {{ dbt.type_string() }}) as email,
        cast(contacts.phone as {{ dbt.type_string() }}) as phone,
        cast(contacts.first_name as {{ dbt.type_string() }}) as first_name,
        cast(contacts.last_name as {{ dbt.type_string() }}) as last_name,
        coalesce(
            contacts.can_email
            and not contacts.is_email_suppressed
            and contacts.email is not null
            and substr(trim(contacts.email), 1, 1) not in ('=', '+', '-', '@', chr(9), chr(13))
            and blocked_emails.address is null,
            false
        ) as is_email_reachable,
        coalesce(
            contacts.can_sms
            and not contacts.is_sms_suppressed
            and {{ regexp_matches('trim(contacts.phone)', '^[+][0-9]{8,15}$') }}
            and blocked_phones.address is null,
            false
        ) as is_sms_reachable
    from contacts
    left join blocked_emails
        on lower(trim(contacts.email)) = blocked_emails.address
    left join blocked_phones
        on trim(contacts.phone) = blocked_phones.address

)

select * from final
