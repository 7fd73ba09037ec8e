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
-- Names: forms and tills swap first and last name ('de Jong' / 'Jan'), so before the rules run a
-- record's pair is turned the way round the whole base writes those two names: a record holding
-- both is swapped when, over all records with both names, its first name is used as a last name and
-- its last name as a first name more than var golden_name_swap_ratio (2) times as often as the other
-- way round; otherwise it stays as typed. Names are then chosen by their rules from pairs that agree,
-- not a last name in the first-name slot ("Hi de Jong").
{%- set attributes = survivorship_attributes() %}
{%- set swap_ratio = var('golden_name_swap_ratio') | float %}

with

records as (

    select * from {{ ref('int_identity_records_unioned') }}

),

resolved as (

    select * from {{ ref('int_identity_records_resolved') }}

),

named_records as (

    select
        record_key,
        lower(trim(first_name)) as first_name_key,
        lower(trim(last_name)) as last_name_key
    from records
    where first_name is not null and last_name is not null

),

first_name_uses as (

    select
        first_name_key as name_key,
        count(*) as record_count
    from named_records
    group by first_name_key

),

last_name_uses as (

    select
        last_name_key as name_key,
        count(*) as record_count
    from named_records
    group by last_name_key

),

name_uses as (

    select
        coalesce(first_name_uses.name_key, last_name_uses.name_key) as name_key,
        coalesce(first_name_uses.record_count, 0) as as_first_count,
        coalesce(last_name_uses.record_count, 0) as as_last_count
    from first_name_uses
    full outer join last_name_uses
        on first_name_uses.name_key = last_name_uses.name_key

),

swapped_records as (

    select named_records.record_key
    from named_records
    inner join name_uses as first_uses
        on named_records.first_name_key = first_uses.name_key
    inner join name_uses as last_uses
        on named_records.last_name_key = last_uses.name_key
    where
        first_uses.as_last_count + last_uses.as_first_count
        > {{ swap_ratio }} * (first_uses.as_first_count + last_uses.as_last_count)

),

customer_records as (

    select
        resolved.customer_id,
        records.*,
        case
            when swapped_records.record_key is not null then records.last_name else records.first_name
        end as named_first_name,
        case
            when swapped_records.record_key is not null then records.first_name else records.last_name
        end as named_last_name
    from records
    inner join resolved
        on records.record_key = resolved.record_key
    left join swapped_records
        on records.record_key = swapped_records.record_key

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
