-- Who may be sent what, one row per customer of audience_contacts: the contact fields an export may
-- use and whether the customer is reachable by email and by SMS with every rule applied. Consent and
-- suppression (can_*, folded in audience_contacts) are checked with the suppression flags again on
-- their own; an email must not start like a spreadsheet formula (=, +, -, @, tab, carriage return)
-- since destinations need it verbatim; an SMS number must be E.164; an address identity treats as junk
-- or shared (audience_blocked_addresses) is never reachable. The destination models read only this
-- model for contact data, after a segment's filter has chosen the members.
-- email_exclusion / sms_exclusion say why a channel is not reachable, the first rule that fails in
-- this order: no_address, suppressed, no_consent, blocked, malformed (null when reachable); the
-- manifest and `cdp segments preview` count members by them.
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

checked as (

    select
        contacts.*,
        blocked_emails.address is not null as is_email_blocked,
        blocked_phones.address is not null as is_sms_blocked,
        substr(trim(contacts.email), 1, 1) not in ('=', '+', '-', '@', chr(9), chr(13)) as is_email_well_formed,
        {{ regexp_matches('trim(contacts.phone)', '^[+][0-9]{8,15}$') }} as is_phone_well_formed
    from contacts
    left join blocked_emails
        on lower(trim(contacts.email)) = blocked_emails.address
    left join blocked_phones
        on trim(contacts.phone) = blocked_phones.address

),

reasoned as (

    select
        *,
        case
            when email is null then 'no_address'
            when is_email_suppressed then 'suppressed'
            when not coalesce(can_email, false) then 'no_consent'
            when is_email_blocked then 'blocked'
            when not coalesce(is_email_well_formed, false) then 'malformed'
        end as email_exclusion,
        case
            when phone is null then 'no_address'
            when is_sms_suppressed then 'suppressed'
            when not coalesce(can_sms, false) then 'no_consent'
            when is_sms_blocked then 'blocked'
            when not coalesce(is_phone_well_formed, false) then 'malformed'
        end as sms_exclusion
    from checked

),

final as (

    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(phone as {{ dbt.type_string() }}) as phone,
        cast(first_name as {{ dbt.type_string() }}) as first_name,
        cast(last_name as {{ dbt.type_string() }}) as last_name,
        email_exclusion is null as is_email_reachable,
        sms_exclusion is null as is_sms_reachable,
        cast(email_exclusion as {{ dbt.type_string() }}) as email_exclusion,
        cast(sms_exclusion as {{ dbt.type_string() }}) as sms_exclusion
    from reasoned

)

select * from final
