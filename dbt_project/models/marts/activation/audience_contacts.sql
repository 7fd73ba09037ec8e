-- The contact data audiences may use, one row per customer: exports/ joins segment members (filtered
-- over customer_360) to this model and nothing else, so only these columns can leave the warehouse.
-- can_email / can_sms fold presence, the latest consent across channels and unsubscribes on any of the
-- person's records (dim_customers.is_*_contactable).
with

customers as (

    select * from {{ ref('dim_customers') }}

),

final as (

    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(phone as {{ dbt.type_string() }}) as phone,
        cast(first_name as {{ dbt.type_string() }}) as first_name,
        cast(last_name as {{ dbt.type_string() }}) as last_name,
        coalesce(is_email_contactable, false) and email is not null as can_email,
        coalesce(is_sms_contactable, false) and phone is not null as can_sms
    from customers

)

select * from final
