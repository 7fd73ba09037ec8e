-- BG/NBD predictions per (frequency, recency_days, tenure_days) group of the last CLV fit
-- (cdp.clv.nightly), typed; int_clv_frequency_groups_predicted keeps the run date's rows.
with

source as (

    select * from {{ source('clv_fit', 'frequency_groups_predicted') }}

),

final as (

    select
        cast(run_date as date) as run_date,
        frequency,
        recency_days,
        tenure_days,
        customer_count,
        p_alive,
        expected_purchases_90d,
        expected_purchases_365d,
        discounted_expected_purchases_12m
    from source

)

select * from final
