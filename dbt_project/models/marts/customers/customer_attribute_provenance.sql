-- Provenance of the golden record, for analysts: one row per customer and attribute with a surviving
-- value as of run_date, naming the rule that chose it, the record it came from (record_key, source,
-- the record's updated_at) and how many of the customer's records hold that value / any value. The
-- values themselves are not here (plain ones live in restricted.customer_profiles, masked ones in
-- dim_customers). Rules: var survivorship_rules (docs/architecture.md, "Golden record").
with

survived_values as (

    select * from {{ ref('int_customer_attribute_values_survived') }}

),

final as (

    select
        customer_id,
        attribute_name,
        survivorship_rule,
        source,
        record_key,
        record_updated_at,
        value_record_count,
        candidate_record_count
    from survived_values

)

select * from final
