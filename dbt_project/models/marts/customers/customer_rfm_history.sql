-- customer_rfm appended per run date: one row per customer and as_of_date. Incremental with
-- delete+insert keyed on as_of_date, so a re-run of a date replaces that date's rows (idempotent, never
-- doubles) and other dates are kept. full_refresh is off: a --full-refresh must not wipe the history.
-- (On Spark the date's partition is overwritten instead: macros/cross_engine/relations.sql.)
{{ config(
    materialized='incremental',
    on_schema_change='append_new_columns',
    full_refresh=false,
    **replace_date_slice('as_of_date')
) }}
with

rfm as (

    select * from {{ ref('customer_rfm') }}

),

final as (

    select
        customer_id,
        as_of_date,
        last_order_date,
        recency_days,
        frequency,
        monetary,
        r_score,
        f_score,
        m_score,
        rfm_score,
        segment
    from rfm

)

select * from final
