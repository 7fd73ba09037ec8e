-- The golden record, one row per customer (identity component) as of run_date: the surviving value of
-- each attribute (int_customer_attribute_values_survived, rules declared in the var survivorship_rules)
-- and its provenance, <attribute>_source and <attribute>_record_key (the record it was taken from).
-- Holds plain personal fields: read by restricted.customer_profiles (plain) and marts.dim_customers
-- (masked / hashed / flags only, with the provenance columns).
{%- set attributes = survivorship_attributes() %}

with

resolved as (

    select * from {{ ref('int_identity_records_resolved') }}

),

survived_values as (

    select * from {{ ref('int_customer_attribute_values_survived') }}

),

customers as (

    select distinct customer_id
    from resolved

),

pivoted as (

    select
        customer_id,
        {%- for attribute in attributes %}
        max(case when attribute_name = '{{ attribute }}' then attribute_value end) as {{ attribute }},
        max(case when attribute_name = '{{ attribute }}' then source end) as {{ attribute }}_source,
        max(case when attribute_name = '{{ attribute }}' then record_key end) as {{ attribute }}_record_key
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from survived_values
    group by customer_id

),

final as (

    select
        customers.customer_id,
        pivoted.first_name,
        pivoted.last_name,
        pivoted.gender,
        cast(pivoted.birth_date as date) as birth_date,
        pivoted.email,
        pivoted.phone,
        pivoted.city,
        pivoted.postcode,
        cast(pivoted.email_opt_in as boolean) as email_opt_in,
        cast(pivoted.sms_opt_in as boolean) as sms_opt_in,
        {%- for attribute in attributes %}
        pivoted.{{ attribute }}_source,
        pivoted.{{ attribute }}_record_key
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from customers
    left join pivoted
        on customers.customer_id = pivoted.customer_id

)

select * from final
