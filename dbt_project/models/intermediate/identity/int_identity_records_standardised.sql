-- Comparison keys of every non-stub identity record: what the matcher compares. Names, places and
-- emails reduced to the form two spellings of the same thing share (macros/identity/identity.sql):
--   * first/last name: letters only, lower case, accents and full-width folded (any script kept);
--     social profiles carry only a display name: its first word is the first name, the rest the last
--     (var market_name_order family_first: the first word, or a Han name's first character, is the last);
--   * email: the provider rules of email_match_key (sub-address tags, Gmail dots);
--   * birth date as ISO text (compared by edit distance), postcode without spaces and its area
--     (first postcode_area_length characters: the digits of a Dutch postcode), city and address
--     lower-cased with accents folded and spaces collapsed.
-- name_pair_key (the two names sorted) lets a blocking rule find records whose names were swapped;
-- house_number_key (the digits of the address line: '17 stephen street' and 'stephen street 17a'
-- alike) lets one find the same person at the same number when street, postcode and city carry typos;
-- street_key (the address line without its numbers) lets the address comparison see '23 popplewell
-- place' and 'popplewell place' as the same street.
-- A name in Chinese characters (up to max_han characters, all in the seed name_transliterations) is
-- keyed by its toneless pinyin, a family name's first character by its reading as a surname: '王伟'
-- in one system and 'Wei Wang' in another agree, and two household members 'fang' / 'wei' conflict.
-- A first name listed in the seed name_variants (a nickname or other form: 'kees', 'wim') is keyed by
-- its canonical form ('cornelis', 'willem'): every comparison, blocking rule and guard then sees
-- one name. The last name is mapped the same way, since forms swap the two ('Bakker Kees'), and a
-- surname that is also a listed nickname maps alike on every record. first_name_spelled_key keeps
-- the first name as written, so a typo inside a nickname ('ggerrit', not in the seed) is still one
-- edit from 'gerrit' (comparison levels and the guard take the closer of the two keys).
{%- set area_length = var('identity_postcode_area_length') | int %}
{%- set max_han = 4 %}
{%- set han_keys = {'given': 'given_name_key', 'family': 'family_name_key'} %}
{%- set family_first = "'" ~ var('market_name_order') ~ "' = 'family_first'" %}
{%- set han_display = is_han('trim(display_name)') ~ ' and length(trim(display_name)) between 2 and 4' %}
with

records as (

    select * from {{ ref('int_identity_records_unioned') }}

),

transliterations as (

    select * from {{ ref('name_transliterations') }}

),

name_variants as (

    select * from {{ ref('name_variants') }}

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
        -- A market that writes family names first (var market_name_order, the market profile):
        -- 'Wang Wei', and '王伟' without a space, whose first character is the family name.
        case
            when display_name is null then first_name
            when {{ family_first }} and {{ dbt.position("' '", "trim(display_name)") }} > 0
                then substr(trim(display_name), {{ dbt.position("' '", "trim(display_name)") }} + 1)
            when {{ family_first }} and {{ han_display }} then substr(trim(display_name), 2)
            when {{ family_first }} then trim(display_name)
            else {{ dbt.split_part("trim(display_name)", "' '", 1) }}
        end as given_name,
        case
            when display_name is null then last_name
            when {{ family_first }} and {{ dbt.position("' '", "trim(display_name)") }} > 0
                then {{ dbt.split_part("trim(display_name)", "' '", 1) }}
            when {{ family_first }} and {{ han_display }} then substr(trim(display_name), 1, 1)
            when {{ family_first }} then null
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
        {{ name_match_key('given_name') }} as given_name_key,
        {{ name_match_key('family_name') }} as family_name_key,
        {{ dbt.cast('birth_date', dbt.type_string()) }} as birth_date_key,
        gender as gender_key,
        nullif(replace(upper(postcode), ' ', ''), '') as postcode_key,
        lower({{ fold_accents('city') }}) as city_key,
        lower({{ fold_accents('address_line') }}) as address_key
    from named

),

transliterated as (

    select
        keyed.record_key,
        keyed.source,
        keyed.email_key,
        keyed.phone_key,
        {{ transliterated_han_name('keyed.given_name_key', 'given', max_han, 'latin') }} as first_name_key,
        {{ transliterated_han_name('keyed.family_name_key', 'family', max_han, 'surname_latin') }}
            as last_name_key,
        keyed.birth_date_key,
        keyed.gender_key,
        keyed.postcode_key,
        keyed.city_key,
        keyed.address_key
    from keyed
    {{ han_transliteration_joins('keyed', 'transliterations', han_keys, max_han) }}

),

canonical as (

    select
        transliterated.record_key,
        transliterated.source,
        transliterated.email_key,
        transliterated.phone_key,
        coalesce(name_variants.canonical, transliterated.first_name_key) as first_name_key,
        transliterated.first_name_key as first_name_spelled_key,
        coalesce(last_name_variants.canonical, transliterated.last_name_key) as last_name_key,
        transliterated.birth_date_key,
        transliterated.gender_key,
        transliterated.postcode_key,
        transliterated.city_key,
        transliterated.address_key
    from transliterated
    left join name_variants
        on transliterated.first_name_key = name_variants.variant
    left join name_variants as last_name_variants
        on transliterated.last_name_key = last_name_variants.variant

),

final as (

    select
        record_key,
        source,
        email_key,
        phone_key,
        first_name_key,
        first_name_spelled_key,
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
    from canonical

)

select * from final
