-- Mailchimp audience import CSV: Email Address, First Name, Last Name (consent: email).
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
        cast(lower(trim(contacts.email)) as {{ dbt.type_string() }}) as email_address,
        contacts.first_name,
        contacts.last_name
    from members
    inner join contacts
        on members.customer_id = contacts.customer_id
    where not members.is_control and (contacts.is_email_reachable)

)

select * from final
