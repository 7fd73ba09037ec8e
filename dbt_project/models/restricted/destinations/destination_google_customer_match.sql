-- Google Customer Match CSV, hashed upload (SHA-256 hex): Email = sha256(macro google_email: trimmed,
-- lower-cased, gmail dots removed); Phone = sha256(E.164 with the '+'). A channel the customer may not
-- receive is left empty (consent: email or sms).
-- One row per segment and member outside the control group who may receive it (audience_reachability);
-- exports/publish.py writes a segment's rows, the columns with meta export_column, as the file.
with

members as (

    select * from {{ ref('segment_memberships') }}

),

contacts as (

    select * from {{ ref('audience_reachability') }}

),

final as (

    select
        members.segment,
        members.customer_id,
        case
            when contacts.is_email_reachable then {{ sha256_hex(google_email('contacts.email')) }}
        end as email_sha256,
        case
            when contacts.is_sms_reachable then {{ sha256_hex('trim(contacts.phone)') }}
        end as phone_sha256
    from members
    inner join contacts
        on members.customer_id = contacts.customer_id
    where not members.is_control and (contacts.is_email_reachable or contacts.is_sms_reachable)

)

select * from final
