"""An RFM history built before D48's column renames (segment -> rfm_segment, ...) is brought to the new
layout by the first night after the upgrade, with no step by hand. Kept apart from the other tests: it
writes the old column names on purpose, and reads the deprecated aliases to compare them
(tests/test_mart_column_names.py exempts this file from its "nobody reads an alias" check).

One ``dbt run`` of customer_rfm_history on a hand-made DuckDB warehouse, twice; nothing else is built.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb

from cdp.config import Settings
from cdp.dbt_runner import dbt_args, invoke

RUN_DATE = date(2024, 3, 10)


def test_an_rfm_history_built_before_the_column_renames_is_rewritten_once(tmp_path) -> None:
    """D48 renamed customer_rfm_history's columns (segment -> rfm_segment, ...). A home keeps its
    history table across releases (full_refresh is off), so the first night after the upgrade adds the
    new columns (on_schema_change append_new_columns) and fills them for every earlier date from the
    old ones; the old names stay as deprecated aliases. Nothing is read back on later nights."""
    settings = Settings.load(home=tmp_path / "home").ensure()
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("create schema marts")
        # The history as the release before D48 left it: old names, two earlier dates.
        con.execute(
            """
            create table marts.customer_rfm_history as select * from (values
                ('c1', date '2024-03-08', date '2024-03-01', 7, 2, 20.00::decimal(18, 2), 4, 4, 4, '444',
                 'Loyal'),
                ('c1', date '2024-03-09', date '2024-03-01', 8, 2, 20.00::decimal(18, 2), 4, 4, 4, '444',
                 'Loyal'),
                ('c2', date '2024-03-09', date '2024-02-01', 37, 1, 5.00::decimal(18, 2), 1, 1, 1, '111',
                 'Lost')
            ) as t(customer_id, as_of_date, last_order_date, recency_days, frequency, monetary, r_score,
                   f_score, m_score, rfm_score, segment)
            """
        )
        # Tonight's customer_rfm as this release builds it (canonical names and aliases).
        con.execute(
            """
            create table marts.customer_rfm as select *, rfm_recency_days as recency_days,
                rfm_frequency as frequency, rfm_monetary as monetary, rfm_segment as segment
            from (values
                ('c1', date '2024-03-10', date '2024-03-10', 0, 3, 30.00::decimal(18, 2), 5, 5, 5, '555',
                 'Champions')
            ) as t(customer_id, as_of_date, last_order_date, rfm_recency_days, rfm_frequency, rfm_monetary,
                   r_score, f_score, m_score, rfm_score, rfm_segment)
            """
        )
    expected = [
        ("c1", date(2024, 3, 8), 7, 2, Decimal("20.00"), "Loyal"),
        ("c1", date(2024, 3, 9), 8, 2, Decimal("20.00"), "Loyal"),
        ("c1", date(2024, 3, 10), 0, 3, Decimal("30.00"), "Champions"),
        ("c2", date(2024, 3, 9), 37, 1, Decimal("5.00"), "Lost"),
    ]
    sql = (
        "select customer_id, as_of_date, rfm_recency_days, rfm_frequency, rfm_monetary, rfm_segment, "
        "count(*) filter (where recency_days is not distinct from rfm_recency_days "
        "and frequency is not distinct from rfm_frequency and monetary is not distinct from rfm_monetary "
        "and segment is not distinct from rfm_segment) "
        "from marts.customer_rfm_history group by all order by all"
    )
    for night in (1, 2):  # the upgrade night, then a re-run that reads nothing back
        result = invoke(settings, dbt_args(settings, ["run", "--select", "customer_rfm_history"], RUN_DATE))
        assert result.success, (night, result.exception)
        with duckdb.connect(str(settings.warehouse), read_only=True) as con:
            rows = con.execute(sql).fetchall()
        assert rows == [(*row, 1) for row in expected], night
