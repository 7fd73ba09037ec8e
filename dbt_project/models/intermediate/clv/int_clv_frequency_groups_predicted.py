"""BG/NBD predictions per (frequency, recency_days, tenure_days) group with the fitted parameters.

P(alive), expected purchases in the next 90 and 365 days and the discounted expected purchases over
the next 12 months (annual rate var clv_annual_discount_rate). No rows when BG/NBD is not used.
"""


def model(dbt, session):
    dbt.config(materialized="table")
    from cdp.clv import predict_groups

    frequency_groups = dbt.ref("int_clv_frequency_groups_aggregated").df()
    fitted = dbt.ref("int_clv_models_fitted").df()
    return predict_groups(
        frequency_groups,
        fitted,
        time_unit_days=float(dbt.config.get("clv_time_unit_days")),
        annual_discount_rate=float(dbt.config.get("clv_annual_discount_rate")),
    )
