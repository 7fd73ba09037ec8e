-- SMS list, one E.164 number per row (consent: sms).
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
        contacts.phone as phone_number
    from members
    inner join contacts
        on members.customer_id = contacts.customer_id
    where not members.is_control and (contacts.is_sms_reachable)

)

select * from final
