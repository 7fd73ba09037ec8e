-- Candidate record pairs for the probabilistic matcher. Comparing every record with every other is
-- quadratic; blocking compares only records that agree exactly on the keys of at least one rule of
-- var identity_blocking_rules (each rule a list of int_identity_records_standardised columns, or
-- {columns: [...], max_block_records: N} for a rule of its own cap). Blocks with more than
-- identity_max_block_records records (a very common name in a big city), or the rule's own cap, are
-- skipped so cost stays near-linear (at most cap/2 pairs per record and rule); the other rules still
-- reach those records. A small cap lets a single weak key (birth date, postcode) block where it is
-- rare - a small base, a rare date - and skips it where it would propose quadratically many pairs.
-- One row per pair (record_key_l < record_key_r) with the first rule that proposed it.
{%- set rules = var('identity_blocking_rules') %}
{%- set max_block = var('identity_max_block_records') | int %}
with

records as (

    select * from {{ ref('int_identity_records_standardised') }}

),
{% for rule in rules %}
{%- set columns = rule['columns'] if rule is mapping else rule %}
{%- set rule_max_block = (rule.get('max_block_records', max_block) if rule is mapping else max_block) | int %}
{%- set parts = [] %}
{%- for column in columns %}
{%- if not loop.first %}{% do parts.append("'|'") %}{% endif %}
{%- do parts.append(column) %}
{%- endfor %}
rule_{{ loop.index }}_keys as (

    select
        record_key,
        {{ dbt.concat(parts) if parts | length > 1 else columns[0] }} as block_key
    from records
    where {{ columns | join(' is not null and ') }} is not null

),

rule_{{ loop.index }}_blocks as (

    select block_key
    from rule_{{ loop.index }}_keys
    group by block_key
    having count(*) between 2 and {{ rule_max_block }}

),

rule_{{ loop.index }}_pairs as (

    select
        left_records.record_key as record_key_l,
        right_records.record_key as record_key_r,
        {{ loop.index }} as blocking_rule
    from rule_{{ loop.index }}_keys as left_records
    inner join rule_{{ loop.index }}_blocks as blocks
        on left_records.block_key = blocks.block_key
    inner join rule_{{ loop.index }}_keys as right_records
        on
            left_records.block_key = right_records.block_key
            and left_records.record_key < right_records.record_key

),
{% endfor %}
all_pairs as (
    {% for rule in rules %}
    select * from rule_{{ loop.index }}_pairs
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

final as (

    select
        record_key_l,
        record_key_r,
        min(blocking_rule) as blocking_rule
    from all_pairs
    group by record_key_l, record_key_r

)

select * from final
