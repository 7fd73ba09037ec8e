-- The comparison vector of every candidate pair: one agreement level per attribute, the input of the
-- match model (int_identity_pairs_scored) and of its training (cdp identity train). Level -1 = a
-- side is missing (no evidence either way); 0 = disagree; higher = closer agreement:
--   first_name, last_name: 3 exact, 2 within name_distances[0] edits, 1 within name_distances[1], 0
--   birth_date: 2 exact, 1 one typo (a changed or transposed digit, day/month swapped), 0
--   postcode: 3 exact, 2 same area, 1 one typo, 0;   address: 2 exact, 1 within address_distance
--   edits or the same street with the same house number or one missing, 0 (macros/identity/identity_comparisons.sql)
--   city, gender: 1 exact, 0
-- Names are compared the way round that fits best (first/last swapped on some forms).
with

pairs as (

    select * from {{ ref('int_identity_pairs_blocked') }}

),

records as (

    select * from {{ ref('int_identity_records_standardised') }}

),

{{ identity_comparison_vectors('pairs', 'records') }}

select * from compared
