-- Survivorship of the golden record, long form: one row per customer and attribute that has a value
-- on any of the customer's records, as of run_date, with the surviving value (plain, as text) and its
-- provenance (the record it came from, its source and updated_at, the rule that chose it). The rule of
-- each attribute is declared in the var survivorship_rules (dbt_project.yml) and rendered here at
-- compile time (macros/customers/survivorship.sql); each rule is one set-based pass with a window function:
--   most_recent      latest updated_at, then smallest record_key
--   source_priority  first source of the attribute's list, then latest updated_at, then smallest record_key
--   most_frequent    value held by most records, then latest updated_at, then smallest record_key
--                    (the provenance is the latest record holding the value)
-- Null values never survive. Plain personal values: int_customer_attributes_survived pivots this for
-- restricted.customer_profiles (plain) and marts.dim_customers (masked, with the provenance).
{%- set attributes = survivorship_attributes() %}

with

records as (

    select * from {{ ref('int_identity_records_unioned') }}

),

resolved as (

    select * from {{ ref('int_identity_records_resolved') }}

),

customer_records as (

    select
        resolved.customer_id,
        records.*
    from records
    inner join resolved
        on records.record_key = resolved.record_key

),

attribute_values as (
    {% for attribute, column in attributes.items() %}
    select
        customer_id,
        '{{ attribute }}' as attribute_name,
        {{ dbt.safe_cast(column, dbt.type_string()) }} as attribute_value,
        record_key,
        source,
        updated_at
    from customer_records
    where {{ column }} is not null
    {% if not loop.last %}
    union all
    {% endif %}
    {%- endfor %}
),

ruled_values as (

    select
        customer_id,
        attribute_name,
        attribute_value,
        record_key,
        source,
        updated_at,
        {{ survivorship_rule_of('attribute_name') }} as survivorship_rule,
        {{ survivorship_source_rank('attribute_name', 'source') }} as source_rank,
        count(*) over (partition by customer_id, attribute_name, attribute_value) as value_record_count
    from attribute_values

),

most_recent_ranked as (

    select
        *,
        row_number() over (
            partition by customer_id, attribute_name
            order by updated_at desc nulls last, record_key asc
        ) as value_rank,
        count(*) over (partition by customer_id, attribute_name) as candidate_record_count
    from ruled_values
    where survivorship_rule = 'most_recent'

),

source_priority_ranked as (

    select
        *,
        row_number() over (
            partition by customer_id, attribute_name
            order by source_rank asc, updated_at desc nulls last, record_key asc
        ) as value_rank,
        count(*) over (partition by customer_id, attribute_name) as candidate_record_count
    from ruled_values
    where survivorship_rule = 'source_priority'

),

most_frequent_ranked as (

    select
        *,
        row_number() over (
            partition by customer_id, attribute_name
            order by value_record_count desc, updated_at desc nulls last, record_key asc
        ) as value_rank,
        count(*) over (partition by customer_id, attribute_name) as candidate_record_count
    from ruled_values
    where survivorship_rule = 'most_frequent'

),

ranked as (

    select * from most_recent_ranked
    union all
    select * from source_priority_ranked
    union all
    select * from most_frequent_ranked

),

final as (

    select
        customer_id,
        attribute_name,
        attribute_value,
        survivorship_rule,
        record_key,
        source,
        updated_at as record_updated_at,
        value_record_count,
        candidate_record_count
    from ranked
    where value_rank = 1

)

select * from final
