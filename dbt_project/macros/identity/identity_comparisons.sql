{#-
    Comparison vector of record pairs. `pairs` names a CTE/relation with record_key_l, record_key_r
    (blocking_rule); `records` one with the int_identity_records_standardised columns. Emits CTEs
    ending in `compared`. Levels (-1 = a side missing, 0 = disagree, higher = closer):
      first_name, last_name: 3 exact, 2 within name_distances[0] edits, 1 within name_distances[1]
        (first names: the better of the keyed names, a nickname read as the name it stands for, and
        the names as spelled, so a typo inside a nickname stays a typo)
      birth_date: 2 exact, 1 one typo apart (birth_dates_nearly_equal: a changed or transposed digit,
        day and month swapped)
      postcode: 3 exact, 2 same area, 1 one typo apart (a changed or transposed character: a
        different area, or FEBRL's 4-digit postcodes, whose area is the whole postcode)
      address: 2 exact, 1 within address_distance edits, or the same street (address without its
        numbers, within address_distance edits) with the same house number or one missing
      city, gender: 1 exact
-#}
{% macro identity_comparison_vectors(pairs, records) -%}
{%- set name_distances = var('identity_name_distances') %}
{%- set address_distance = var('identity_address_distance') | int %}
compared_joined as (

    select
        {{ pairs }}.record_key_l,
        {{ pairs }}.record_key_r,
        {{ pairs }}.blocking_rule,
        left_records.first_name_key as first_name_l,
        left_records.last_name_key as last_name_l,
        right_records.first_name_key as first_name_r,
        right_records.last_name_key as last_name_r,
        left_records.first_name_spelled_key as first_name_spelled_l,
        right_records.first_name_spelled_key as first_name_spelled_r,
        left_records.birth_date_key as birth_date_l,
        right_records.birth_date_key as birth_date_r,
        left_records.postcode_key as postcode_l,
        right_records.postcode_key as postcode_r,
        left_records.postcode_area_key as postcode_area_l,
        right_records.postcode_area_key as postcode_area_r,
        left_records.address_key as address_l,
        right_records.address_key as address_r,
        left_records.street_key as street_l,
        right_records.street_key as street_r,
        left_records.house_number_key as house_number_l,
        right_records.house_number_key as house_number_r,
        left_records.city_key as city_l,
        right_records.city_key as city_r,
        left_records.gender_key as gender_l,
        right_records.gender_key as gender_r,
        {{ edit_distance('left_records.first_name_key', 'right_records.first_name_key') }} as first_first_edits,
        {{ edit_distance('left_records.last_name_key', 'right_records.last_name_key') }} as last_last_edits,
        {{ edit_distance('left_records.first_name_key', 'right_records.last_name_key') }} as first_last_edits,
        {{ edit_distance('left_records.last_name_key', 'right_records.first_name_key') }} as last_first_edits,
        case
            when
                left_records.first_name_spelled_key != left_records.first_name_key
                or right_records.first_name_spelled_key != right_records.first_name_key
                then {{ edit_distance('left_records.first_name_spelled_key', 'right_records.first_name_spelled_key') }}
        end as spelled_first_edits
    from {{ pairs }}
    inner join {{ records }} as left_records
        on {{ pairs }}.record_key_l = left_records.record_key
    inner join {{ records }} as right_records
        on {{ pairs }}.record_key_r = right_records.record_key

),

compared_swaps as (

    select
        *,
        coalesce(first_last_edits, 99) + coalesce(last_first_edits, 99)
        < coalesce(first_first_edits, 99) + coalesce(last_last_edits, 99) as names_swapped
    from compared_joined

),

compared_oriented as (

    select
        record_key_l,
        record_key_r,
        blocking_rule,
        names_swapped,
        first_name_l,
        last_name_l,
        case when names_swapped then last_name_r else first_name_r end as first_name_r,
        first_name_spelled_l,
        {#- Only where a nickname was mapped (else the keyed level is the same) and not swapped. #}
        case
            when not names_swapped and spelled_first_edits is not null then first_name_spelled_r
        end as first_name_spelled_r,
        spelled_first_edits,
        case when names_swapped then first_name_r else last_name_r end as last_name_r,
        case when names_swapped then first_last_edits else first_first_edits end as first_name_edits,
        case when names_swapped then last_first_edits else last_last_edits end as last_name_edits,
        birth_date_l,
        birth_date_r,
        postcode_l,
        postcode_r,
        postcode_area_l,
        postcode_area_r,
        address_l,
        address_r,
        street_l,
        street_r,
        house_number_l,
        house_number_r,
        city_l,
        city_r,
        gender_l,
        gender_r
    from compared_swaps

),

compared as (

    select
        record_key_l,
        record_key_r,
        blocking_rule,
        names_swapped,
        first_name_l,
        last_name_l,
        city_l,
        postcode_l,
        greatest(
            {{ name_agreement_level('first_name_l', 'first_name_r', name_distances, 'first_name_edits') }},
            {{ name_agreement_level('first_name_spelled_l', 'first_name_spelled_r', name_distances, 'spelled_first_edits') }}
        ) as gamma_first_name,
        {{ name_agreement_level('last_name_l', 'last_name_r', name_distances, 'last_name_edits') }} as gamma_last_name,
        case
            when birth_date_l is null or birth_date_r is null then -1
            when birth_date_l = birth_date_r then 2
            when {{ birth_dates_nearly_equal('birth_date_l', 'birth_date_r') }} then 1
            else 0
        end as gamma_birth_date,
        case
            when postcode_l is null or postcode_r is null then -1
            when postcode_l = postcode_r then 3
            when postcode_area_l = postcode_area_r then 2
            when {{ within_one_typo('postcode_l', 'postcode_r', 8) }} then 1
            else 0
        end as gamma_postcode,
        case
            when address_l is null or address_r is null then -1
            when address_l = address_r then 2
            when {{ edit_distance('address_l', 'address_r') }} <= {{ address_distance }} then 1
            when
                {{ edit_distance('street_l', 'street_r') }} <= {{ address_distance }}
                and (house_number_l = house_number_r or house_number_l is null or house_number_r is null)
                then 1
            else 0
        end as gamma_address,
        case
            when city_l is null or city_r is null then -1
            when city_l = city_r then 1
            else 0
        end as gamma_city,
        case
            when gender_l is null or gender_r is null then -1
            when gender_l = gender_r then 1
            else 0
        end as gamma_gender
    from compared_oriented

)
{%- endmacro %}
