"""Reproduce the published BG/NBD and Gamma-Gamma fits on the CDNOW sample, through our own pipeline.

Data: the CDNOW sample (2,357 customers who first bought in Q1 1997, transactions to June 1998) as it
ships in the ``lifetimes`` wheel (``lifetimes/datasets/CDNOW_sample.txt``; dev dependency, the file is
not copied into this repository). Columns: master customer id, sample customer id, date (YYYYMMDD),
CDs bought, dollar value.

Every transaction becomes one POS receipt (loyalty card = CDNOW customer id) in a raw POS drop that
``ingest.land_source`` lands under the POS contract; the other sources get empty landed partitions.
``dbt build`` as of 1997-09-30 (the end of the 39-week calibration period; later transactions are in
the drop but after the run date, so point in time drops them) fits the models with the default time
unit (weeks). Same-day transactions become one purchase in ``int_clv_customers_summarised``.

Published estimates: Fader, Hardie & Lee (2005a) Marketing Science 24(2), table/figure of the BG/NBD
fit: r = 0.243, α = 4.414, a = 0.793, b = 2.426 (LL = -9582.4); Fader, Hardie & Lee (2005b) JMR
42(4) and Fader & Hardie's Gamma-Gamma note: p = 6.25, q = 3.74, γ = 15.44 on the 946 customers with a
repeat purchase, using their mean repeat-transaction value.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date
from importlib import metadata
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from landed import quarantine_partition

import ingest
from cdp.config import SOURCES, Settings
from cdp.warehouse import build
from ingest.derive import derive_table

pytestmark = pytest.mark.slow

RUN_DATE = date(1997, 9, 30)
DATA_FILE = "lifetimes/datasets/CDNOW_sample.txt"
PUBLISHED = {
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "gamma_gamma": {"p": 6.25, "q": 3.74, "v": 15.44},
}
TOLERANCE = 0.005


def cdnow_text() -> str:
    """The CDNOW sample from the installed ``lifetimes`` distribution (or a wheel in $CDNOW_WHEEL)."""
    import os

    wheel = os.environ.get("CDNOW_WHEEL")
    if wheel:
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(DATA_FILE).decode("ascii")
    try:
        path = Path(str(metadata.distribution("lifetimes").locate_file(DATA_FILE)))
    except metadata.PackageNotFoundError:
        pytest.fail("CDNOW sample missing: pip install lifetimes==0.11.3 (dev extra) or set CDNOW_WHEEL")
    return path.read_text(encoding="ascii")


def cdnow_rows() -> list[tuple[str, date, float]]:
    rows = []
    for line in cdnow_text().splitlines():
        if line.strip():
            master_id, _sample_id, day, _cds, dollars = line.split()
            rows.append((master_id, date(int(day[:4]), int(day[4:6]), int(day[6:])), float(dollars)))
    return rows


def write_pos_drop(folder: Path, rows: list[tuple[str, date, float]]) -> None:
    """transactions.csv (one receipt per CDNOW transaction) and loyalty_members.csv, as the tills send."""
    contract = ingest.load_contract("pos")
    folder.mkdir(parents=True, exist_ok=True)
    tx_fields = [f.name for f in contract.entity("transactions").fields]
    member_fields = [f.name for f in contract.entity("loyalty_members").fields]
    first_day: dict[str, date] = {}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=tx_fields, lineterminator="\n")
    writer.writeheader()
    for number, (customer, day, dollars) in enumerate(rows, start=1):
        first_day[customer] = min(first_day.get(customer, day), day)
        writer.writerow(
            {
                "receipt_id": f"R{number:06d}",
                "line_no": 1,
                "store_id": "CDNOW",
                # Noon local time: the UTC date is the transaction's date.
                "tx_time": f"{day.isoformat()} 12:00:00",
                "loyalty_card_no": customer,
                "sku": "CD",
                "quantity": 1,
                "unit_price": f"{dollars:.2f}",
                "discount": "0",
                "currency": "USD",
                "payment_method": "card",
            }
        )
    (folder / "transactions.csv").write_text(buffer.getvalue(), encoding="utf-8")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=member_fields, lineterminator="\n")
    writer.writeheader()
    for customer, day in sorted(first_day.items()):
        stamp = f"{day.isoformat()} 09:00:00"
        writer.writerow({"loyalty_card_no": customer, "enrolled_at": stamp, "updated_at": stamp})
    (folder / "loyalty_members.csv").write_text(buffer.getvalue(), encoding="utf-8")


def land_empty(settings: Settings, source: str, load_date: date) -> None:
    """Zero-row landed partitions for every entity of ``source`` (the sources need one to exist)."""
    contract = ingest.load_contract(source)
    for entity in contract.entities:
        children = [(c.name, c.schema()) for c in entity.children]
        for name, schema in [(entity.name, entity.schema()), *children]:
            folder = ingest.partition(settings, "landing", source, name, load_date)
            folder.mkdir(parents=True, exist_ok=True)
            # as ingest lands them (E.164 columns next to phone fields)
            pq.write_table(derive_table(source, name, schema.empty_table(), "NL"), folder / "part-0.parquet")
        quarantine_partition(settings.lake, source, entity.name, load_date)


@pytest.fixture(scope="module")
def cdnow_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home = tmp_path_factory.mktemp("cdnow")
    settings = Settings.load(home=home / "home", raw=home / "raw").ensure()
    rows = cdnow_rows()
    write_pos_drop(settings.raw / "pos" / RUN_DATE.isoformat(), rows)
    report = ingest.land_source(settings, "pos", RUN_DATE)
    assert report.entities["transactions"].rows_landed == len(rows)
    assert report.entities["transactions"].rows_quarantined == 0
    for source in SOURCES:
        if source != "pos":
            land_empty(settings, source, RUN_DATE)
    build(settings, RUN_DATE)
    return settings


def fits(settings: Settings) -> dict[str, dict]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rows = con.execute(
            "select model_name, parameters, log_likelihood, is_used, customer_count, time_unit_days "
            "from marts.clv_model_runs where run_date = ?",
            [RUN_DATE],
        ).fetchall()
    return {
        name: {"params": json.loads(params), "ll": ll, "used": used, "customers": n, "unit": unit}
        for name, params, ll, used, n, unit in rows
    }


def test_cdnow_fits_match_published_parameters(cdnow_warehouse: Settings) -> None:
    fitted = fits(cdnow_warehouse)
    assert fitted["bgnbd"]["unit"] == 7.0
    assert fitted["bgnbd"]["customers"] == 2357
    assert fitted["gamma_gamma"]["customers"] == 946
    assert fitted["bgnbd"]["ll"] == pytest.approx(-9582.4, abs=0.1)
    failures = []
    for model, published in PUBLISHED.items():
        assert fitted[model]["used"]
        for name, value in published.items():
            got = fitted[model]["params"][name]
            if abs(got - value) > TOLERANCE * value:
                failures.append(f"{model}.{name} = {got:.4f}, published {value}")
    assert not failures, failures


def test_cdnow_customer_clv(cdnow_warehouse: Settings) -> None:
    with duckdb.connect(str(cdnow_warehouse.warehouse), read_only=True) as con:
        total, used, one_off, bad = con.execute(
            """
            select count(*), count(*) filter (where is_clv_model_used),
                   count(*) filter (where frequency = 0),
                   count(*) filter (where p_alive not between 0 and 1 or clv_12m < 0
                                    or expected_purchases_365d < expected_purchases_90d)
            from marts.customer_clv
            """
        ).fetchone()
        # Customer 00004 in the sample: x = 2, t_x = 213 days (30.43 weeks), T = 272 days (38.86 weeks),
        # repeat purchases 29.73 and 14.96 (m_x = 22.345).
        row = con.execute(
            """
            select clv.frequency, clv.recency_days, clv.tenure_days, clv.p_alive,
                   clv.expected_avg_order_value
            from marts.customer_clv as clv
            inner join marts.customer_identity_map as identity_map
                on clv.customer_id = identity_map.customer_id
            where identity_map.source_record_id = '00004'
            """
        ).fetchone()
    assert (total, used, one_off, bad) == (2357, 2357, 1411, 0)
    frequency, recency_days, tenure_days, p_alive, aov = row
    assert (frequency, recency_days, tenure_days) == (2, 213, 272)
    # P(alive) with the published parameters is 0.7266 for (2, 30.43, 38.86).
    assert p_alive == pytest.approx(0.7266, abs=0.002)
    # Gamma-Gamma: p (γ + x m_x) / (p x + q - 1) with the published values = 24.68.
    assert float(aov) == pytest.approx(24.68, abs=0.1)
