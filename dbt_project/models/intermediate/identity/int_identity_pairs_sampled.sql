-- Pseudo-random record pairs and their comparison vectors: what different people look like, the u
-- probabilities of the match model (cdp identity train). Deterministic (no random()): records are
-- ordered by md5(record_key) and record i is paired with record i + offset_k (cyclic) for k offsets
-- spread over the list, up to var identity_u_sample_pairs pairs. Almost every such pair is two
-- different people (a random pair matches with probability ~ 1 / records).
{%- set budget = var('identity_u_sample_pairs') | int %}
with

records as (

    select * from {{ ref('int_identity_records_standardised') }}

),

numbered as (

    select
        record_key,
        row_number() over (order by {{ dbt.hash('record_key') }}, record_key) as sample_position,
        count(*) over () as record_count
    from records

),

offsets as (

    select generated_number as offset_index
    from ({{ dbt.generate_series(64) }}) as series

),

pairs_wanted as (

    select
        left_records.record_key as record_key_l,
        mod(
            left_records.sample_position - 1
            + offsets.offset_index * (floor(left_records.record_count / 65) + 1),
            left_records.record_count
        ) + 1 as right_position,
        offsets.offset_index
    from numbered as left_records
    cross join offsets
    where
        offsets.offset_index <= ceil({{ budget }} / left_records.record_count)
        and left_records.record_count > 1

),

pairs as (

    select
        case when pairs_wanted.record_key_l < right_records.record_key
                then pairs_wanted.record_key_l
            else right_records.record_key
        end as record_key_l,
        case when pairs_wanted.record_key_l < right_records.record_key
                then right_records.record_key
            else pairs_wanted.record_key_l
        end as record_key_r,
        0 as blocking_rule
    from pairs_wanted
    inner join numbered as right_records
        on pairs_wanted.right_position = right_records.sample_position
    where pairs_wanted.record_key_l <> right_records.record_key

),

{{ identity_comparison_vectors('pairs', 'records') }}

select
    record_key_l,
    record_key_r,
    gamma_first_name,
    gamma_last_name,
    gamma_birth_date,
    gamma_postcode,
    gamma_address,
    gamma_city,
    gamma_gender
from compared
