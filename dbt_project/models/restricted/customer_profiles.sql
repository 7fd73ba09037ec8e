-- The golden record's plain personal fields, one row per customer of dim_customers as of run_date.
-- Restricted schema: for operators and the export step only, never granted to analysts, who read the
-- masked / hashed columns of marts.dim_customers. Survivorship lives in int_customer_attributes_survived.
with

attributes as (

    select * from {{ ref('int_customer_attributes_survived') }}

),

final as (

    select
        customer_id,
        first_name,
        last_name,
        birth_date,
        email,
        phone,
        postcode
    from attributes

)

select * from final
