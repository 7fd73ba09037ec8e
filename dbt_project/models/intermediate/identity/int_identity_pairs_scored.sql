-- Fellegi-Sunter match weight of every candidate pair. Each comparison level carries the trained
-- probabilities m = P(level | same person) and u = P(level | different people) of the match model
-- (int_identity_match_parameters; the 'prior' row holds lambda, the probability that two records
-- picked at random are the same person, and 'prior_records' the number of identity records it was
-- measured on, n0). Each record has about as many true partners in a base of any size, so lambda
-- falls with the base: it is scaled to the n records scored, lambda x (n0 - 1) / (n - 1) (kept as it
-- is without a 'prior_records' row). Unscaled, the default model's lambda was 12 times too big at
-- 1,000,000 people. Weight = log2(lambda / (1 - lambda)) + sum of log2(m / u);
-- a missing side (level -1) adds nothing. Term-frequency adjustment on exact agreements of first name, last
-- name, postcode and city: agreeing on a rare value says more than agreeing on a common one, so the
-- weight gains log2(sum of squared value frequencies / frequency of this value) (Splink's
-- adjustment), at most identity_tf_max_bonus_bits: value frequencies differ between communities (a
-- surname rare in the whole base is common among people who share its origin). Name frequencies
-- count a word in either name field (first and last names get swapped). match_probability = 1 / (1 + 2^-weight).
{%- set comparisons = ['first_name', 'last_name', 'birth_date', 'postcode', 'address', 'city', 'gender'] %}
{%- set tf_columns = {'first_name': 3, 'last_name': 3, 'postcode': 3, 'city': 1} %}
{%- set tf_max_bits = var('identity_tf_max_bonus_bits') %}
with

pairs as (

    select * from {{ ref('int_identity_pairs_compared') }}

),

records as (

    select * from {{ ref('int_identity_records_standardised') }}

),

parameters as (

    select * from {{ ref('int_identity_match_parameters') }}

),

level_weights as (

    select
        comparison,
        level,
        log(2, m_probability / u_probability) as level_weight
    from parameters
    where comparison not in ('prior', 'prior_records')

),

record_count as (

    select count(*) as records
    from records

),

prior_lambda as (

    select
        max(case when parameters.comparison = 'prior' then parameters.m_probability end)
        * coalesce(
            (max(case when parameters.comparison = 'prior_records' then parameters.m_probability end) - 1)
            / nullif(max(record_count.records) - 1, 0),
            1
        ) as scaled_prior
    from parameters
    cross join record_count

),

prior as (

    select log(2, least(scaled_prior, 0.5) / (1 - least(scaled_prior, 0.5))) as prior_weight
    from prior_lambda

),
{% for column in tf_columns %}
tf_{{ column }}_counts as (
    {%- if column in ('first_name', 'last_name') %}
    {#- name tokens counted over both name fields: forms swap first and last names #}
    select
        term,
        count(*) as term_count
    from (
        select first_name_key as term from records
        union all
        select last_name_key as term from records
    ) as name_terms
    where term is not null
    group by term
    {%- else %}
    select
        {{ column }}_key as term,
        count(*) as term_count
    from records
    where {{ column }}_key is not null
    group by {{ column }}_key
    {%- endif %}

),

tf_{{ column }}_expected as (

    {#- integer sums (exact, so a re-run gives bit-identical weights), divided once #}
    select
        {{ dbt.cast('sum(term_count * term_count)', 'double') }}
        / ({{ dbt.cast('sum(term_count)', 'double') }} * sum(term_count)) as expected_frequency,
        sum(term_count) as total_count
    from tf_{{ column }}_counts

),

tf_{{ column }} as (

    select
        tf_{{ column }}_counts.term,
        {{ dbt.cast('tf_' ~ column ~ '_counts.term_count', 'double') }}
        / tf_{{ column }}_expected.total_count as term_frequency
    from tf_{{ column }}_counts
    cross join tf_{{ column }}_expected

),
{% endfor %}
weighted as (

    select
        pairs.record_key_l,
        pairs.record_key_r,
        pairs.blocking_rule,
        pairs.names_swapped,
        {%- for comparison in comparisons %}
        pairs.gamma_{{ comparison }},
        coalesce(w_{{ comparison }}.level_weight, 0)
        {%- if comparison in tf_columns %}
        + case
            when pairs.gamma_{{ comparison }} = {{ tf_columns[comparison] }}
                then least(
                        log(2, tf_{{ comparison }}_expected.expected_frequency / tf_{{ comparison }}.term_frequency),
                        {{ tf_max_bits }}
                    )
            else 0
        end
        {%- endif %} as weight_{{ comparison }},
        {%- endfor %}
        prior.prior_weight
    from pairs
    cross join prior
    {%- for comparison in comparisons %}
    left join level_weights as w_{{ comparison }}
        on
            w_{{ comparison }}.comparison = '{{ comparison }}'
            and pairs.gamma_{{ comparison }} = w_{{ comparison }}.level
    {%- endfor %}
    {%- for column in tf_columns %}
    cross join tf_{{ column }}_expected
    left join tf_{{ column }}
        on pairs.{{ column }}_l = tf_{{ column }}.term
    {%- endfor %}

),

summed as (

    select
        *,
        prior_weight
        {%- for comparison in comparisons %}
        + weight_{{ comparison }}
        {%- endfor %} as match_weight
    from weighted

),

final as (

    select
        record_key_l,
        record_key_r,
        blocking_rule,
        names_swapped,
        {%- for comparison in comparisons %}
        gamma_{{ comparison }},
        weight_{{ comparison }},
        {%- endfor %}
        match_weight,
        1.0 / (1.0 + power(2.0, -match_weight)) as match_probability
    from summed

)

select * from final
