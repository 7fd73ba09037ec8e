-- Comparison keys of every non-stub identity record: what the matcher compares. Names, places and
-- emails reduced to the form two spellings of the same thing share (macros/identity.sql):
--   * first/last name: letters only, lower case, accents and full-width folded (any script kept);
--     social profiles carry only a display name: its first word is the first name, the rest the last;
--   * email: the provider rules of email_match_key (sub-address tags, Gmail dots);
--   * birth date as ISO text (compared by edit distance), postcode without spaces and its area
--     (first postcode_area_length characters: the digits of a Dutch postcode), city and address
--     lower-cased with accents folded and spaces collapsed.
-- name_pair_key (the two names sorted) lets a blocking rule find records whose names were swapped;
-- house_number_key (the digits of the address line: '17 stephen street' and 'stephen street 17a'
-- alike) lets one find the same person at the same number when street, postcode and city carry typos;
-- street_key (the address line without its numbers) lets the address comparison see '23 popplewell
-- place' and 'popplewell place' as the same street.
{%- set area_length = var('identity_postcode_area_length') | int %}
with

records as (

    select * from {{ ref('int_identity_records_unioned') }}

),

named as (

    select
        record_key,
        source,
        email_normalized,
        phone_e164,
        birth_date,
        gender,
        postcode,
        city,
        address_line,
        case
            when display_name is null then first_name
            else {{ dbt.split_part("trim(display_name)", "' '", 1) }}
        end as given_name,
        case
            when display_name is null then last_name
            when {{ dbt.position("' '", "trim(display_name)") }} > 0
                then substr(trim(display_name), {{ dbt.position("' '", "trim(display_name)") }} + 1)
        end as family_name
    from records
    where not is_stub

),

keyed as (

    select
        record_key,
        source,
        {{ email_match_key('email_normalized') }} as email_key,
        phone_e164 as phone_key,
        {{ name_match_key('given_name') }} as first_name_key,
        {{ name_match_key('family_name') }} as last_name_key,
        {{ dbt.cast('birth_date', dbt.type_string()) }} as birth_date_key,
        gender as gender_key,
        nullif(replace(upper(postcode), ' ', ''), '') as postcode_key,
        lower({{ fold_accents('city') }}) as city_key,
        lower({{ fold_accents('address_line') }}) as address_key
    from named

),

final as (

    select
        record_key,
        source,
        email_key,
        phone_key,
        first_name_key,
        last_name_key,
        case
            when first_name_key is null or last_name_key is null then null
            when first_name_key <= last_name_key then {{ dbt.concat(["first_name_key", "'|'", "last_name_key"]) }}
            else {{ dbt.concat(["last_name_key", "'|'", "first_name_key"]) }}
        end as name_pair_key,
        birth_date_key,
        gender_key,
        postcode_key,
        substr(postcode_key, 1, {{ area_length }}) as postcode_area_key,
        city_key,
        address_key,
        nullif({{ regexp_replace_all('address_key', '[^0-9]', '') }}, '') as house_number_key,
        nullif(
            trim({{ regexp_replace_all(regexp_replace_all('address_key', '[0-9]+[a-z]*', ''), ' +', ' ') }}), ''
        ) as street_key
    from keyed

)

select * from final
