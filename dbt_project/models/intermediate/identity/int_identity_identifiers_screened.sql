-- Every strong identifier (normalised email key, E.164 phone) with the records that carry it and
-- whether it may link them: 'links' (2..identity_max_records_per_identifier records), 'single'
-- (one record), 'junk' (matches a pattern of the seed identity_junk_identifiers: test@, noreply@,
-- 0600000000 ...) or 'shared': more records than the cap (a team mailbox), or - with
-- identity_screen_conflicting_identifiers - two of its records conflict by the link guard's rule
-- (birth_dates_conflict / first_names_conflict: a family email, a store's default phone typed for a
-- few members). Two people's identifier would otherwise chain them through records that carry no name
-- or birth date (guest orders), which the guard cannot test.
-- Junk and shared identifiers never link records; cdp explain and the review list show them.
{%- set max_records = var('identity_max_records_per_identifier') | int %}
{%- set screen_conflicts = var('identity_screen_conflicting_identifiers') %}
with

records as (

    select * from {{ ref('int_identity_records_standardised') }}

),

junk_patterns as (

    select * from {{ ref('identity_junk_identifiers') }}

),

identifiers as (

    select
        record_key,
        'email' as identifier_type,
        email_key as identifier_value
    from records
    where email_key is not null

    union all

    select
        record_key,
        'phone' as identifier_type,
        phone_key as identifier_value
    from records
    where phone_key is not null

),

identifier_sizes as (

    select
        identifier_type,
        identifier_value,
        count(distinct record_key) as record_count
    from identifiers
    group by identifier_type, identifier_value

),

junk as (

    select distinct
        identifier_sizes.identifier_type,
        identifier_sizes.identifier_value
    from identifier_sizes
    inner join junk_patterns
        on
            identifier_sizes.identifier_type = junk_patterns.identifier_type
            and identifier_sizes.identifier_value like junk_patterns.pattern

),

conflicting as (
    {%- if screen_conflicts %}

    {{ groups_with_conflicts(
        'identifiers', ['identifier_type', 'identifier_value'],
        sizes='identifier_sizes', max_records=max_records, records='records'
    ) }}
    {%- else %}

    select
        identifier_type,
        identifier_value
    from identifier_sizes
    where 1 = 0
    {%- endif %}

),

final as (

    select distinct
        identifiers.record_key,
        identifiers.identifier_type,
        identifiers.identifier_value,
        identifier_sizes.record_count,
        case
            when junk.identifier_value is not null then 'junk'
            when identifier_sizes.record_count > {{ max_records }} then 'shared'
            when conflicting.identifier_value is not null then 'shared'
            when identifier_sizes.record_count = 1 then 'single'
            else 'links'
        end as identifier_status
    from identifiers
    inner join identifier_sizes
        on
            identifiers.identifier_type = identifier_sizes.identifier_type
            and identifiers.identifier_value = identifier_sizes.identifier_value
    left join junk
        on
            identifiers.identifier_type = junk.identifier_type
            and identifiers.identifier_value = junk.identifier_value
    left join conflicting
        on
            identifiers.identifier_type = conflicting.identifier_type
            and identifiers.identifier_value = conflicting.identifier_value

)

select * from final
