{#-
    Comparison vector of record pairs (see int_identity_pairs_compared for the levels). `pairs` names
    a CTE/relation with record_key_l, record_key_r (blocking_rule); `records`
    one with the int_identity_records_standardised columns. Emits CTEs ending in `compared`.
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
        left_records.birth_date_key as birth_date_l,
        right_records.birth_date_key as birth_date_r,
        left_records.postcode_key as postcode_l,
        right_records.postcode_key as postcode_r,
        left_records.postcode_area_key as postcode_area_l,
        right_records.postcode_area_key as postcode_area_r,
        left_records.address_key as address_l,
        right_records.address_key as address_r,
        left_records.city_key as city_l,
        right_records.city_key as city_r,
        left_records.gender_key as gender_l,
        right_records.gender_key as gender_r,
        coalesce({{ edit_distance('left_records.first_name_key', 'right_records.last_name_key') }}, 99)
        + coalesce({{ edit_distance('left_records.last_name_key', 'right_records.first_name_key') }}, 99)
        < coalesce({{ edit_distance('left_records.first_name_key', 'right_records.first_name_key') }}, 99)
        + coalesce({{ edit_distance('left_records.last_name_key', 'right_records.last_name_key') }}, 99)
            as names_swapped
    from {{ pairs }}
    inner join {{ records }} as left_records
        on {{ pairs }}.record_key_l = left_records.record_key
    inner join {{ records }} as right_records
        on {{ pairs }}.record_key_r = right_records.record_key

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
        case when names_swapped then first_name_r else last_name_r end as last_name_r,
        birth_date_l,
        birth_date_r,
        postcode_l,
        postcode_r,
        postcode_area_l,
        postcode_area_r,
        address_l,
        address_r,
        city_l,
        city_r,
        gender_l,
        gender_r
    from compared_joined

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
        {{ name_agreement_level('first_name_l', 'first_name_r', name_distances) }} as gamma_first_name,
        {{ name_agreement_level('last_name_l', 'last_name_r', name_distances) }} as gamma_last_name,
        case
            when birth_date_l is null or birth_date_r is null then -1
            when birth_date_l = birth_date_r then 2
            when {{ edit_distance('birth_date_l', 'birth_date_r') }} <= 1 then 1
            else 0
        end as gamma_birth_date,
        case
            when postcode_l is null or postcode_r is null then -1
            when postcode_l = postcode_r then 2
            when postcode_area_l = postcode_area_r then 1
            else 0
        end as gamma_postcode,
        case
            when address_l is null or address_r is null then -1
            when address_l = address_r then 2
            when {{ edit_distance('address_l', 'address_r') }} <= {{ address_distance }} then 1
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
