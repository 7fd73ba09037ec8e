-- Sufficient statistics of the Gamma-Gamma fit: customers with at least one repeat purchase grouped by
-- identical (frequency, repeat_monetary_mean) = (x, m_x), with the number of customers as the weight.
with

customers as (

    select * from {{ ref('int_clv_customers_summarised') }}

),

final as (

    select
        frequency,
        repeat_monetary_mean,
        count(*) as customer_count
    from customers
    where
        has_purchase
        and frequency > 0
        and repeat_monetary_mean > 0
    group by frequency, repeat_monetary_mean

)

select * from final
