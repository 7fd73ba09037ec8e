"""Fit BG/NBD and Gamma-Gamma on the grouped sufficient statistics as of run_date.

One row per model (bgnbd, gamma_gamma): parameters, log-likelihood, convergence and whether the model
is used. A fit that cannot be trusted (too little data, only one-off buyers, no convergence) is a row
with is_used = false and a fallback_reason; it never fails the run. Vars arrive through the model's
config in _clv__models.yml (Python models cannot call var()).
"""


def model(dbt, session):
    dbt.config(materialized="table")
    from cdp.clv import fit_models, fit_records

    frequency_groups = dbt.ref("int_clv_frequency_groups_aggregated").df()
    spend_groups = dbt.ref("int_clv_spend_groups_aggregated").df()
    results = fit_models(
        frequency_groups,
        spend_groups,
        min_customers=int(dbt.config.get("clv_min_customers")),
        min_repeat_customers=int(dbt.config.get("clv_min_repeat_customers")),
    )
    return fit_records(results, dbt.config.get("run_date"), float(dbt.config.get("clv_time_unit_days")))
