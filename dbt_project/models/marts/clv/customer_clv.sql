-- One row per customer with an order as of run_date: predicted value from BG/NBD (purchases, dropout)
-- and Gamma-Gamma (spend per purchase), fitted tonight on the whole base (int_clv_models_fitted), and
-- the historical value to date.
-- When a model is not used (too little data, only one-off buyers, no convergence) or the customer has
-- no purchase (only cancelled / refunded / return-only orders), is_clv_model_used is false,
-- clv_fallback_reason says why, the predictions are null and clv_12m falls back to the historical value.
-- Column names as in customer_360 (D48); run_date, model_used and fallback_reason are deprecated aliases
-- for one release (deprecated_aliases()). frequency, recency_days and tenure_days are BG/NBD's x, t_x
-- and T (not RFM's: customer_rfm.rfm_frequency, rfm_recency_days).
-- Lifetime value as the guides define it, profit contribution (D67): when a margin per category is
-- configured (int_customer_margins_computed), clv_12m_value = clv_12m x the customer's blended margin
-- and clv_basis = 'contribution'; otherwise clv_12m_value = clv_12m and clv_basis = 'revenue'.
with

customers as (

    select * from {{ ref('int_clv_customers_summarised') }}

),

predictions as (

    select * from {{ ref('int_clv_frequency_groups_predicted') }}

),

fitted as (

    select * from {{ ref('int_clv_models_fitted') }}

),

margins as (

    select * from {{ ref('int_customer_margins_computed') }}

),

bgnbd as (

    select * from fitted
    where model_name = 'bgnbd'

),

gamma_gamma as (

    select * from fitted
    where model_name = 'gamma_gamma'

),

model_status as (

    select
        bgnbd.is_used and gamma_gamma.is_used as are_models_used,
        case
            when not bgnbd.is_used then {{ dbt.concat(["'bgnbd:'", "bgnbd.fallback_reason"]) }}
            when not gamma_gamma.is_used then {{ dbt.concat(["'gamma_gamma:'", "gamma_gamma.fallback_reason"]) }}
        end as model_fallback_reason,
        gamma_gamma.param_p,
        gamma_gamma.param_q,
        gamma_gamma.param_v
    from bgnbd
    cross join gamma_gamma

),

scored as (

    select
        customers.customer_id,
        customers.has_purchase,
        customers.frequency,
        customers.recency_days,
        customers.tenure_days,
        customers.repeat_monetary_mean,
        customers.average_purchase_value,
        customers.historical_value,
        customers.order_count,
        customers.first_purchase_date,
        customers.last_purchase_date,
        coalesce(margins.is_margin_configured, false) as is_margin_configured,
        margins.margin_rate,
        predictions.p_alive,
        predictions.expected_purchases_90d,
        predictions.expected_purchases_365d,
        predictions.discounted_expected_purchases_12m,
        model_status.model_fallback_reason,
        model_status.param_p,
        model_status.param_q,
        model_status.param_v,
        coalesce(
            model_status.are_models_used
            and customers.has_purchase
            and predictions.p_alive is not null
            and predictions.expected_purchases_90d is not null
            and predictions.expected_purchases_365d is not null
            and predictions.discounted_expected_purchases_12m is not null,
            false
        ) as model_used
    from customers
    cross join model_status
    left join margins
        on customers.customer_id = margins.customer_id
    left join predictions
        on
            customers.frequency = predictions.frequency
            and customers.recency_days = predictions.recency_days
            and customers.tenure_days = predictions.tenure_days

),

valued as (

    select
        *,
        -- Gamma-Gamma E[M | x, m_x] = p (v + x m_x) / (p x + q - 1); x = 0 gives the population mean.
        -- m_x is floored at 0 (a repeat purchase day can net to < 0 when returns are on the receipt).
        case
            when model_used
                then
                    param_p
                    * (param_v + frequency * greatest(coalesce(cast(repeat_monetary_mean as double), 0), 0))
                    / (param_p * frequency + param_q - 1)
            else cast(average_purchase_value as double)
        end as avg_order_value
    from scored

),

valued_named as (

    select
        customer_id,
        {{ run_date_literal() }} as as_of_date,
        model_used as is_clv_model_used,
        case
            when model_used then null
            when not has_purchase then 'no_purchase'
            when model_fallback_reason is not null then model_fallback_reason
            else 'prediction_not_finite'
        end as clv_fallback_reason,
        case when model_used then p_alive end as p_alive,
        case when model_used then expected_purchases_90d end as expected_purchases_90d,
        case when model_used then expected_purchases_365d end as expected_purchases_365d,
        cast(avg_order_value as decimal(18, 2)) as expected_avg_order_value,
        cast(
            case
                when model_used then discounted_expected_purchases_12m * avg_order_value
                else historical_value
            end as decimal(18, 2)
        ) as clv_12m,
        case when is_margin_configured then 'contribution' else 'revenue' end as clv_basis,
        case when is_margin_configured then margin_rate end as margin_rate,
        cast(
            (
                case
                    when model_used then discounted_expected_purchases_12m * avg_order_value
                    else historical_value
                end
            )
            * case when is_margin_configured then coalesce(margin_rate, 0) else 1 end
            as decimal(18, 2)
        ) as clv_12m_value,
        historical_value,
        order_count,
        frequency,
        recency_days,
        tenure_days,
        first_purchase_date as first_completed_order_date,
        last_purchase_date as last_completed_order_date
    from valued

),

final as (

    select
        *,
        {{ deprecated_aliases({
            'run_date': 'as_of_date',
            'model_used': 'is_clv_model_used',
            'fallback_reason': 'clv_fallback_reason',
            'first_purchase_date': 'first_completed_order_date',
            'last_purchase_date': 'last_completed_order_date',
        }) }}
    from valued_named

)

select * from final
