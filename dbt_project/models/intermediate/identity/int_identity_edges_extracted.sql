-- Edges of the bipartite record-identifier graph: one row per (record, identifier) where the
-- identifier (normalised email or E.164 phone) is shared by at least two records, i.e. links records.
-- An identifier shared by more than var identity_max_records_per_identifier records is treated as a
-- placeholder (info@shop, 0600000000) and links nothing.
{%- set max_records = var('identity_max_records_per_identifier') | int %}
with

records as (

    select * from {{ ref('int_identity_records_unioned') }}

),

identifiers as (

    select
        record_key,
        'email' as identifier_type,
        {{ dbt.concat(["'email:'", "email_normalized"]) }} as identifier_key
    from records
    where email_normalized is not null

    union all

    select
        record_key,
        'phone' as identifier_type,
        {{ dbt.concat(["'phone:'", "phone_e164"]) }} as identifier_key
    from records
    where phone_e164 is not null

),

identifier_sizes as (

    select
        identifier_key,
        count(distinct record_key) as record_count
    from identifiers
    group by identifier_key

),

final as (

    select distinct
        identifiers.record_key,
        identifiers.identifier_type,
        identifiers.identifier_key
    from identifiers
    inner join identifier_sizes
        on identifiers.identifier_key = identifier_sizes.identifier_key
    where identifier_sizes.record_count between 2 and {{ max_records }}

)

select * from final
