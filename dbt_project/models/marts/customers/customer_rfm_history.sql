-- customer_rfm appended per run date: one row per customer and as_of_date. Incremental with
-- delete+insert keyed on as_of_date, so a re-run of a date replaces that date's rows (idempotent, never
-- doubles) and other dates are kept. full_refresh is off: a --full-refresh must not wipe the history.
-- (On Spark the date's partition is overwritten instead: macros/cross_engine/relations.sql.)
-- Renamed columns (D48): rfm_recency_days, rfm_frequency, rfm_monetary, rfm_segment; the old names are
-- deprecated aliases for one release (deprecated_aliases()). A table built before the rename lacks
-- rfm_segment: append_new_columns adds the new columns, and that one run also rewrites every earlier
-- date from the old columns (earlier_dates below), so no date is left with null canonical columns.
-- Spark reads a copy of the old table (previous_state hooks); later runs read nothing back.
{%- set old_layout_marker = '!rfm_segment' %}
{%- set old_layout = previous_state(old_layout_marker) %}
{{ config(
    materialized='incremental',
    on_schema_change='append_new_columns',
    full_refresh=false,
    pre_hook=previous_state_hooks(old_layout_marker),
    post_hook=["{{ release_previous_state() }}"],
    **replace_date_slice('as_of_date')
) }}
with

rfm as (

    select * from {{ ref('customer_rfm') }}

),

tonight as (

    select
        customer_id,
        as_of_date,
        last_order_date,
        rfm_recency_days,
        rfm_frequency,
        rfm_monetary,
        r_score,
        f_score,
        m_score,
        rfm_score,
        rfm_segment
    from rfm

),
{%- if old_layout is not none %}

-- Once, on a table built before D48: the earlier dates, their old columns under the canonical names.
earlier_dates as (

    select
        customer_id,
        as_of_date,
        last_order_date,
        recency_days as rfm_recency_days,
        frequency as rfm_frequency,
        monetary as rfm_monetary,
        r_score,
        f_score,
        m_score,
        rfm_score,
        segment as rfm_segment
    from {{ old_layout }}
    where as_of_date <> {{ run_date_literal() }}

),
{%- endif %}

canonical as (

    select * from tonight
    {%- if old_layout is not none %}
    union all
    select * from earlier_dates
    {%- endif %}

),

final as (

    select
        *,
        {{ deprecated_aliases({
            'recency_days': 'rfm_recency_days',
            'frequency': 'rfm_frequency',
            'monetary': 'rfm_monetary',
            'segment': 'rfm_segment',
        }) }}
    from canonical

)

select * from final
