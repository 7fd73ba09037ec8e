-- Meta custom audience customer file, pre-hashed (SHA-256 hex): email = sha256(trimmed, lower-cased email);
-- phone = sha256(digits with the country code, no '+', no leading zeros: macro meta_phone); extern_id.
-- A channel the customer may not receive is left empty (consent: email or sms).
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
            when contacts.is_email_reachable then {{ sha256_hex('lower(trim(contacts.email))') }}
        end as email_sha256,
        case
            when contacts.is_sms_reachable then {{ sha256_hex(meta_phone('contacts.phone')) }}
        end as phone_sha256,
        members.customer_id as extern_id
    from members
    inner join contacts
        on members.customer_id = contacts.customer_id
    where not members.is_control and (contacts.is_email_reachable or contacts.is_sms_reachable)

)

select * from final
