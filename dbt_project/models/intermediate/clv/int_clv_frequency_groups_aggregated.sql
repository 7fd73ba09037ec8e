-- Sufficient statistics of the BG/NBD fit: customers with a purchase grouped by identical
-- (frequency, recency, tenure) = (x, t_x, T), with the number of customers as the weight. The fit and
-- the predictions run on these groups (O(distinct groups), not O(customers)); customer_clv joins the
-- predictions back on the integer day keys.
with

customers as (

    select * from {{ ref('int_clv_customers_summarised') }}

),

final as (

    select
        frequency,
        recency_days,
        tenure_days,
        min(recency) as recency,
        min(tenure) as tenure,
        count(*) as customer_count
    from customers
    where has_purchase
    group by frequency, recency_days, tenure_days

)

select * from final
