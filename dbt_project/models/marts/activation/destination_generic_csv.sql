-- Generic CSV: customer_id of every member outside the control group (one row per segment and member
-- of audience_reachability), no contact data; exports/publish.py appends the segment's chosen
-- customer_360 attribute columns (names checked against the mart's declared columns). No consent
-- needed: nothing that reaches a person leaves the warehouse.
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
        members.customer_id
    from members
    inner join contacts
        on members.customer_id = contacts.customer_id
    where not members.is_control

)

select * from final
