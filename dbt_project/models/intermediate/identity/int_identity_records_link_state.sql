-- Every identity record as of this run with what decides its pass-1 group: the name and birth-date
-- keys the conflict test reads and link_signature, a hash of the sorted keys of the records it is
-- accepted-linked to ('' for none). int_identity_records_grouped compares it with its previous
-- result to find the groups to recompute; a table of its own so that the comparison reads it instead
-- of aggregating every accepted link again in each of its subqueries.
with

records as (

    select * from {{ ref('int_identity_records_unioned') }}

),

standardised as (

    select * from {{ ref('int_identity_records_standardised') }}

),

links as (

    select * from {{ ref('int_identity_links') }}

),

partners as (

    select
        record_key_l as record_key,
        record_key_r as partner_key
    from links
    where is_accepted

    union all

    select
        record_key_r as record_key,
        record_key_l as partner_key
    from links
    where is_accepted

),

signatures as (

    select
        record_key,
        {{ dbt.hash(sorted_string_agg('partner_key')) }} as link_signature
    from partners
    group by record_key

),

final as (

    select
        records.record_key,
        standardised.first_name_key,
        standardised.first_name_spelled_key,
        standardised.last_name_key,
        standardised.birth_date_key,
        coalesce(signatures.link_signature, '') as link_signature
    from records
    left join standardised
        on records.record_key = standardised.record_key
    left join signatures
        on records.record_key = signatures.record_key

)

select * from final
