-- Survivorship of the golden record, one row per customer (identity component) as of run_date: for
-- each attribute the most recent non-null value over the customer's records by updated_at (ties:
-- smallest record_key). Holds plain personal fields: read by restricted.customer_profiles (plain) and
-- marts.dim_customers (masked / hashed / flags only).
{%- set attributes = [
    'first_name', 'last_name', 'gender', 'birth_date', 'email_normalized', 'phone_e164',
    'city', 'postcode', 'email_opt_in', 'sms_opt_in',
] %}
with

records as (

    select * from {{ ref('int_identity_records_unioned') }}

),

resolved as (

    select * from {{ ref('int_identity_records_resolved') }}

),

customers as (

    select distinct customer_id
    from resolved

),

attribute_values as (
    {% for attribute in attributes %}
    select
        resolved.customer_id,
        '{{ attribute }}' as attribute_name,
        {{ dbt.safe_cast('records.' ~ attribute, dbt.type_string()) }} as attribute_value,
        records.updated_at,
        records.record_key
    from records
    inner join resolved
        on records.record_key = resolved.record_key
    where records.{{ attribute }} is not null
    {% if not loop.last %}
    union all
    {% endif %}
    {%- endfor %}
),

ranked_values as (

    select
        customer_id,
        attribute_name,
        attribute_value,
        row_number() over (
            partition by customer_id, attribute_name
            order by updated_at desc, record_key asc
        ) as value_rank
    from attribute_values

),

best_values as (

    select
        customer_id,
        max(case when attribute_name = 'first_name' then attribute_value end) as first_name,
        max(case when attribute_name = 'last_name' then attribute_value end) as last_name,
        max(case when attribute_name = 'gender' then attribute_value end) as gender,
        max(case when attribute_name = 'birth_date' then attribute_value end) as birth_date,
        max(case when attribute_name = 'email_normalized' then attribute_value end) as email_normalized,
        max(case when attribute_name = 'phone_e164' then attribute_value end) as phone_e164,
        max(case when attribute_name = 'city' then attribute_value end) as city,
        max(case when attribute_name = 'postcode' then attribute_value end) as postcode,
        max(case when attribute_name = 'email_opt_in' then attribute_value end) as email_opt_in,
        max(case when attribute_name = 'sms_opt_in' then attribute_value end) as sms_opt_in
    from ranked_values
    where value_rank = 1
    group by customer_id

),

final as (

    select
        customers.customer_id,
        best_values.first_name,
        best_values.last_name,
        best_values.gender,
        cast(best_values.birth_date as date) as birth_date,
        best_values.email_normalized as email,
        best_values.phone_e164 as phone,
        best_values.city,
        best_values.postcode,
        cast(best_values.email_opt_in as boolean) as email_opt_in,
        cast(best_values.sms_opt_in as boolean) as sms_opt_in
    from customers
    left join best_values
        on customers.customer_id = best_values.customer_id

)

select * from final
