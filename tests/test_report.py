"""The run report renders whatever the warehouse holds: empty marts, a night without links."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from cdp import report
from cdp.config import Settings

RUN_DATE = date(2026, 3, 10)


def _warehouse(settings: Settings, quality_rows: list[tuple]) -> None:
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.customer_rfm "
            "(customer_id varchar, r_score int, f_score int, rfm_segment varchar)"
        )
        con.execute(
            "create table marts.dim_customers "
            "(customer_id varchar, is_email_contactable boolean, is_sms_contactable boolean)"
        )
        con.execute("create table marts.identity_clusters (customer_id varchar, record_count int)")
        con.execute("insert into marts.identity_clusters values ('c1', 1)")
        con.execute("create table marts.identity_review_queue (review_id varchar, record_count int)")
        con.execute(
            "create table marts.identity_quality_history (as_of_date date, records hugeint, "
            "customers bigint, "
            "deterministic_links hugeint, probabilistic_links hugeint, override_links hugeint, "
            "rejected_birth_date_conflicts hugeint, rejected_first_name_conflicts hugeint, "
            "rejected_keep_apart hugeint, junk_identifiers bigint, shared_identifiers bigint, "
            "largest_cluster_records int)"
        )
        for row in quality_rows:
            con.execute(
                "insert into marts.identity_quality_history values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row
            )


def test_report_renders_a_night_without_links_and_empty_marts(tmp_path: Path) -> None:
    """A night whose link counts are null (sum over no links; cdp backfill of 3,000 people, seed 11)
    crashed the report step with "unsupported format string passed to NoneType"."""
    settings = Settings.load(home=tmp_path / "home").ensure()
    nulls = (RUN_DATE, 1, 1, None, None, None, None, None, None, 0, 0, 1)
    _warehouse(settings, [nulls])
    html = report.render(settings, RUN_DATE).read_text(encoding="utf-8")
    assert "Identity resolution" in html
    assert "n/a deterministic" in html


def test_report_shows_the_identity_figures_of_its_own_night(tmp_path: Path) -> None:
    """The report of an earlier night shows that night's history row, not the newest."""
    settings = Settings.load(home=tmp_path / "home").ensure()
    _warehouse(
        settings,
        [
            (RUN_DATE, 10, 7, 3, 0, 0, 0, 0, 0, 0, 0, 4),
            (date(2026, 3, 11), 99, 77, 22, 0, 0, 0, 0, 0, 0, 0, 4),
        ],
    )
    html = report.render(settings, RUN_DATE).read_text(encoding="utf-8")
    assert "10 source records → <b>7</b> customers" in html


def test_report_leads_with_the_verdicts_then_the_exports_and_plots_the_trend(tmp_path: Path) -> None:
    """Issue 22: the report had no gate verdict at the top, no exports section, metrics as raw
    fractions without thresholds and no trend across nights."""
    import json

    settings = Settings.load(home=tmp_path / "home").ensure()
    _warehouse(settings, [(RUN_DATE, 10, 7, 3, 0, 0, 0, 0, 0, 0, 0, 4)])
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute(
            "create table marts.data_quality_history "
            "(as_of_date date, source varchar, metric varchar, metric_value double)"
        )
        for day in range(1, 11):
            con.execute(
                "insert into marts.data_quality_history values (?, 'pos', 'quarantine_rate', ?)",
                [date(2026, 3, day), day / 1000],
            )
    night = settings.reports / RUN_DATE.isoformat()
    night.mkdir(parents=True)
    (night / "dq_landed.json").write_text(json.dumps({"passed": True, "evaluated": 80, "critical": [],
                                                      "warnings": [{"suite": "x"}]}))
    (night / "dq_marts.json").write_text(json.dumps({"passed": False, "evaluated": 31,
                                                     "critical": [{"suite": "y"}], "warnings": []}))
    exports = settings.exports / RUN_DATE.isoformat()
    exports.mkdir(parents=True)
    (exports / "manifest.json").write_text(json.dumps({
        "segments": {"vip": {"members": 12, "control": 2, "destinations": {
            "mailchimp": {"rows": 9, "added": 3, "removed": 1}}}},
        "rejected_definitions": ["broken.yml: unknown column 'rfm'"],
    }))

    page = report.render(settings, RUN_DATE).read_text(encoding="utf-8")

    landed, marts, exported = (page.index(text) for text in ("Landed data gate", "Marts gate", "<h2>Exports"))
    assert landed < marts < exported < page.index("RFM grid")
    assert "<b class='passed'>PASSED</b> · 80 checks · 0 critical · 1 warning(s)" in page
    assert "<b class='failed'>FAILED</b> · 31 checks · 1 critical" in page
    # A manifest without the updates and left-out counts (written before they were) shows dashes.
    row = ("vip", "mailchimp", "9", "+3", "-1", "-", "12", "2", "-")
    assert "".join(f"<td>{cell}</td>" for cell in row) in page
    assert "broken.yml: unknown column" in page
    assert "<td>pos</td><td>quarantine_rate</td><td>1.00%</td><td>1%</td><td>5%</td>" in page
    assert "the last 30 nights" in page
    assert "img{width:100%" in page


def test_every_night_is_listed_with_its_verdicts_and_nothing_needs_the_network(tmp_path: Path) -> None:
    """Issue 22: GX Data Docs kept one run per date and needed a CDN. quality.html lists every night
    (newest first) with links to its gate pages and report; no page refers to anything online."""
    import json
    import re

    settings = Settings.load(home=tmp_path / "home").ensure()
    _warehouse(settings, [(RUN_DATE, 10, 7, 3, 0, 0, 0, 0, 0, 0, 0, 4)])
    for day, passed in (("2026-03-09", True), ("2026-03-10", False)):
        night = settings.reports / day
        night.mkdir(parents=True)
        for gate in ("landed", "marts"):
            (night / f"dq_{gate}.json").write_text(json.dumps(
                {"passed": passed or gate == "landed", "evaluated": 5, "critical": [] if passed else [{}],
                 "warnings": []}
            ))
    report.render(settings, RUN_DATE)
    index = (settings.reports / "quality.html").read_text(encoding="utf-8")
    assert index.index("2026-03-10") < index.index("2026-03-09")
    assert "href='2026-03-10/dq_marts.html'>FAILED</a>" in index
    assert "href='2026-03-09/dq_marts.html'>PASSED</a>" in index
    for page in (index, (settings.reports / "2026-03-10" / "report.html").read_text(encoding="utf-8")):
        assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)


def test_trend_sections_show_the_kpis_cohorts_campaigns_and_tiers(tmp_path: Path) -> None:
    """Issue 23: the report's trend sections - the last 12 months of marts.monthly_kpis (the month so far
    marked), the retention matrix, the campaign scorecards with the columns the warehouse has (and the
    ones it lacks named), tiers per night with the night's changes."""
    settings = Settings.load(home=tmp_path / "home").ensure()
    _warehouse(settings, [(RUN_DATE, 10, 7, 3, 0, 0, 0, 0, 0, 0, 0, 4)])
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute(
            "create table marts.monthly_kpis as select month_start_date::date as month_start_date, "
            "channel, 'all' as store_id, month_start_date < date '2026-03-01' as is_month_complete, "
            "100 + i as active_customer_count, 10 as new_customer_count, 90 + i as returning_customer_count, "
            "0.25 as repurchase_rate, 0.125 as churn_rate, 40.5::decimal(18, 2) as average_order_value, "
            "60::decimal(18, 2) as revenue_per_customer, (1000 * i)::decimal(18, 2) as net_revenue, "
            "case when channel = 'all' then 12.34::decimal(18, 2) end as points_liability_amount, "
            "date '2026-03-10' as as_of_date "
            "from (select i, date '2024-03-01' + to_months(i) as month_start_date from range(25) as t(i)) "
            "cross join (values ('all'), ('pos'), ('ecommerce')) as c(channel)"
        )
        con.execute(
            "create table marts.retention_cohorts as select date '2026-01-01' as cohort_month_start_date, "
            "k as months_since_first_purchase, 50 as cohort_customer_count, "
            "case when k = 0 then 1.0 else 0.2 end as retention_rate from range(3) as t(k)"
        )
        # A scorecard of before the messaging columns: what the report shows of it, and what it lacks.
        con.execute(
            "create table marts.campaign_results as select 'segment_export:vip:2026-02-01' as audience_id, "
            "'vip' as segment_name, date '2026-02-01' as sent_date, 200 as treated_customers, "
            "20 as control_customers, 0.05 as purchase_rate_difference, "
            "-0.01 as purchase_rate_difference_ci_low, 0.11 as purchase_rate_difference_ci_high"
        )
        con.execute(
            "create table marts.customer_tier_history as select d::date as as_of_date, tier, tier_rank, "
            "case when d = date '2026-03-10' and tier = 'gold' then 'upgrade' else 'unchanged' end "
            "as tier_change from (values (date '2026-03-09'), (date '2026-03-10')) as n(d) "
            "cross join (values ('bronze', 1), ('gold', 2)) as t(tier, tier_rank)"
        )

    page = report.render(settings, RUN_DATE).read_text(encoding="utf-8")

    kpis = page[page.index("<h2>KPIs over the last 12 months</h2>"):page.index("<h2>Retention")]
    assert "<td>2025-04</td>" in kpis  # twelve months: April 2025 ...
    assert "<td>2025-03</td>" not in kpis
    assert "<td>2026-03 *</td><td>124</td>" in kpis  # ... to the month so far, marked
    assert "<td>25.0%</td><td>12.5%</td><td>40.50</td><td>60.00</td><td>24,000.00</td><td>12.34</td>" in kpis
    assert "<h2>Retention by first-purchase month</h2>" in page
    campaigns = page[page.index("<h2>Campaign scorecards</h2>"):page.index("<h2>Tiers over time</h2>")]
    assert "<td>vip</td><td>2026-02-01</td><td>200 / 20</td><td>+5.0 [-1.0, +11.0]</td>" in campaigns
    assert "Not in this warehouse&#x27;s campaign_results yet: " in campaigns
    assert "open_rate" in campaigns
    assert "roi" in campaigns
    assert "Night of 2026-03-10: 2 upgrades · 0 downgrades · 0 new · 2 unchanged" not in page
    assert "Night of 2026-03-10: 1 upgrades · 0 downgrades · 0 new · 1 unchanged" in page
    # One plot per trend section on top of the others: KPIs, retention, campaign lift, tiers.
    trends = page[page.index("<h2>KPIs"):page.index("<h2>Identity resolution")]
    assert trends.count("data:image/svg+xml;base64,") == 4
