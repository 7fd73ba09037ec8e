-- BG/NBD predictions per (frequency, recency_days, tenure_days) group with tonight's parameters
-- (cdp.clv.nightly): P(alive), expected purchases in the next 90 and 365 days and the discounted
-- expected purchases over the next 12 months (annual rate var clv_annual_discount_rate). No rows when
-- BG/NBD is not used.
-- The fit reads these (in cdp.clv.nightly), so dbt orders and selects them before this model:
-- depends_on: {{ ref('int_clv_frequency_groups_aggregated') }}
-- depends_on: {{ ref('int_clv_models_fitted') }}
with

predicted as (

    select * from {{ ref('stg_clv_fit__frequency_group_predictions') }}
    where run_date = {{ run_date_literal() }}

),

final as (

    select
        frequency,
        recency_days,
        tenure_days,
        customer_count,
        p_alive,
        expected_purchases_90d,
        expected_purchases_365d,
        discounted_expected_purchases_12m
    from predicted

)

select * from final
