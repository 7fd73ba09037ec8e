-- Every link the resolver considered between two records, accepted or not, with its evidence:
--   * deterministic: the records share a strong identifier whose status is 'links'
--     (int_identity_identifiers_screened; link_rule email / phone / email+phone);
--   * probabilistic: match_probability >= identity_match_threshold (int_identity_pairs_scored);
--   * override: a force_merge row of the overrides file (<home>/config/identity_overrides.csv).
-- Guard: a link between records whose strong attributes conflict is rejected (macros/identity/identity.sql:
-- birth dates known and more than a typo apart, or first names known, in Latin letters, more than
-- identity_name_distances[1] edits apart and not swapped - each a conflict only when the other
-- attribute does not agree), so a household at one address does not merge. A keep_apart override
-- rejects the link too; so does a probabilistic link without personal evidence (first names within
-- identity_name_distances[1] edits or birth dates within one edit) where a household could explain
-- the rest (identity_personal_evidence_required: 'shared_locations' = when either record's address +
-- postcode also holds two records that conflict by the guard's rule, or more records than
-- identity_max_block_records; 'always'; 'never'). Overrides win over the guard.
{%- set threshold = var('identity_match_threshold') %}
{%- set evidence_required = var('identity_personal_evidence_required') %}
{%- set max_location_records = var('identity_max_block_records') | int %}
{%- if evidence_required not in ('never', 'shared_locations', 'always') %}
{{ exceptions.raise_compiler_error("identity_personal_evidence_required: never | shared_locations | always") }}
{%- endif %}
with

screened as (

    select * from {{ ref('int_identity_identifiers_screened') }}

),

scored as (

    select * from {{ ref('int_identity_pairs_scored') }}

),

records as (

    select * from {{ ref('int_identity_records_standardised') }}

),

overrides as (

    select * from {{ ref('stg_config__identity_overrides') }}

),

identifier_pairs as (

    select
        left_ids.record_key as record_key_l,
        right_ids.record_key as record_key_r,
        max(case when left_ids.identifier_type = 'email' then 1 else 0 end) as shares_email,
        max(case when left_ids.identifier_type = 'phone' then 1 else 0 end) as shares_phone
    from screened as left_ids
    inner join screened as right_ids
        on
            left_ids.identifier_type = right_ids.identifier_type
            and left_ids.identifier_value = right_ids.identifier_value
            and left_ids.record_key < right_ids.record_key
    where left_ids.identifier_status = 'links'
    group by left_ids.record_key, right_ids.record_key

),

oriented_overrides as (

    select
        case when record_key_a < record_key_b then record_key_a else record_key_b end as record_key_l,
        case when record_key_a < record_key_b then record_key_b else record_key_a end as record_key_r,
        case when action = 'force_merge' then 1 else 0 end as is_force_merge,
        case when action = 'keep_apart' then 1 else 0 end as is_keep_apart
    from overrides

),

override_pairs as (

    select
        record_key_l,
        record_key_r,
        max(is_force_merge) as force_merge,
        max(is_keep_apart) as keep_apart
    from oriented_overrides
    group by record_key_l, record_key_r

),

location_sizes as (

    select
        address_key,
        postcode_key,
        count(*) as record_count
    from records
    where address_key is not null and postcode_key is not null
    group by address_key, postcode_key

),

shared_locations as (

    {#- Locations (address + postcode) two people are known to share: two of their records conflict
        by the guard's rule, or too many records to check (at most max^2 pairs per location). #}
    select
        location_sizes.address_key,
        location_sizes.postcode_key
    from location_sizes
    where location_sizes.record_count > {{ max_location_records }}

    union

    {{ groups_with_conflicts(
        'records', ['address_key', 'postcode_key'], sizes='location_sizes', max_records=max_location_records
    ) }}

),

candidate_keys as (

    select
        record_key_l,
        record_key_r
    from identifier_pairs
    union
    select
        record_key_l,
        record_key_r
    from scored
    where match_probability >= {{ threshold }}
    union
    select
        record_key_l,
        record_key_r
    from override_pairs

),

candidates as (

    select
        candidate_keys.record_key_l,
        candidate_keys.record_key_r,
        coalesce(identifier_pairs.shares_email, 0) = 1 as shares_email,
        coalesce(identifier_pairs.shares_phone, 0) = 1 as shares_phone,
        scored.match_weight,
        scored.match_probability,
        {%- if evidence_required == 'never' %}
        false as lacks_personal_evidence,
        {%- else %}
        identifier_pairs.record_key_l is null
        and override_pairs.record_key_l is null
        and coalesce(scored.gamma_first_name, -1) < 1
        and coalesce(scored.gamma_birth_date, -1) < 1
        {%- if evidence_required == 'shared_locations' %}
        and (left_locations.address_key is not null or right_locations.address_key is not null)
        {%- endif %} as lacks_personal_evidence,
        {%- endif %}
        {#- A probabilistic link whose first names are known and not close (agreement level 0: more
            than a typo apart, or short names two letters apart) needs agreeing birth dates: at 20,000
            generated people, typical noise, 15 of 17 such links joined two people. #}
        identifier_pairs.record_key_l is null
        and override_pairs.record_key_l is null
        and scored.gamma_first_name = 0
        and coalesce(scored.gamma_birth_date, -1) < 1 as first_names_differ,
        coalesce(override_pairs.force_merge, 0) = 1 as force_merge,
        coalesce(override_pairs.keep_apart, 0) = 1 as keep_apart,
        {{ birth_dates_conflict('left_records', 'right_records') }} as birth_dates_conflict,
        {{ first_names_conflict('left_records', 'right_records') }} as first_names_conflict
    from candidate_keys
    left join identifier_pairs
        on
            candidate_keys.record_key_l = identifier_pairs.record_key_l
            and candidate_keys.record_key_r = identifier_pairs.record_key_r
    left join scored
        on
            candidate_keys.record_key_l = scored.record_key_l
            and candidate_keys.record_key_r = scored.record_key_r
    left join override_pairs
        on
            candidate_keys.record_key_l = override_pairs.record_key_l
            and candidate_keys.record_key_r = override_pairs.record_key_r
    left join records as left_records
        on candidate_keys.record_key_l = left_records.record_key
    left join records as right_records
        on candidate_keys.record_key_r = right_records.record_key
    left join shared_locations as left_locations
        on
            left_records.address_key = left_locations.address_key
            and left_records.postcode_key = left_locations.postcode_key
    left join shared_locations as right_locations
        on
            right_records.address_key = right_locations.address_key
            and right_records.postcode_key = right_locations.postcode_key

),

final as (

    select
        record_key_l,
        record_key_r,
        case
            when force_merge then 'override'
            when shares_email and shares_phone then 'email+phone'
            when shares_email then 'email'
            when shares_phone then 'phone'
            else 'probabilistic'
        end as link_rule,
        match_weight,
        match_probability,
        case
            when force_merge then null
            when keep_apart then 'keep_apart override'
            when birth_dates_conflict then 'birth dates conflict'
            when first_names_conflict then 'first names conflict'
            when first_names_differ then 'first names differ'
            when lacks_personal_evidence then 'no personal evidence'
        end as rejection_reason,
        force_merge
        or not (
            keep_apart or birth_dates_conflict or first_names_conflict or first_names_differ
            or lacks_personal_evidence
        )
            as is_accepted
    from candidates

)

select * from final
