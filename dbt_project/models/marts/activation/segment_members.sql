-- Members of each export segment (the rows that leave the warehouse; exports/ reads this model).
-- champions_email: RFM segment Champions who can be emailed (email present, opted in, never
-- unsubscribed). Add a segment as one more CTE in the union.
with

rfm as (

    select * from {{ ref('customer_rfm') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

champions_email as (

    select
        'champions_email' as segment_name,
        customers.customer_id,
        customers.email,
        customers.first_name,
        customers.last_name
    from rfm
    inner join customers
        on rfm.customer_id = customers.customer_id
    where
        rfm.segment = 'Champions'
        and customers.is_email_contactable

),

final as (

    select
        cast(segment_name as {{ dbt.type_string() }}) as segment_name,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(first_name as {{ dbt.type_string() }}) as first_name,
        cast(last_name as {{ dbt.type_string() }}) as last_name
    from champions_email

)

select * from final
