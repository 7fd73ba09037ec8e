"""Identity resolution accuracy on generated data: shipped match model vs a model trained on the data.

For each noise level (clean, typical, dirty) this generates ``--people`` people as one history drop
(``days=0``, ending 2026-11-15, fixed seed), lands all four sources with our ingest and builds
``+int_identity_records_resolved int_identity_pairs_sampled`` (no dbt tests). It then scores
``intermediate.int_identity_records_resolved`` against the generator's truth

* (a) with the shipped default model (the seed ``identity_match_parameters``), and
* (b) after ``cdp identity train`` on that same data (build of the candidate and sampled pairs, EM,
  ``<home>/config/identity_match_parameters.csv``) and a rebuild that scores with the trained model.

Scores are pairwise (every pair of records inside one predicted customer is a predicted link, as
``cdp.evaluate``): overall, and per pair of record kinds (POS loyalty members, web shop accounts, web
shop guest orders, social profiles). The over-merge check counts predicted customers holding records of
more than one true person and what those involve (a household pair, a family email, a store's default
phone, a junk email or phone). The recall limit counts true pairs no resolver can link: one side is a
social profile with a display name only (no email, no phone).

    python bench/identity_accuracy.py [--people 20000] [--noise clean typical dirty] [--home DIR] [--no-doc]

Prints the tables and replaces the sub-section ``### Accuracy on generated data`` of the
``## Identity resolution`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from _doc import fingerprint_text, machine, update_identity_subsection  # noqa: E402

from cdp.config import SOURCES, Settings  # noqa: E402
from cdp.evaluate import PairwiseScore, blocking_recall  # noqa: E402

END_DATE = date(2026, 11, 15)
SEED = 20261115
NOISE_LEVELS = ("clean", "typical", "dirty")
BUILD_SELECT = "+int_identity_records_resolved int_identity_pairs_sampled"
TRAIN_SELECT = "+int_identity_pairs_compared +int_identity_pairs_sampled"  # what `cdp identity train` builds
RESOLVED = "intermediate.int_identity_records_resolved"
KINDS = ("pos:loyalty_members", "ecommerce:customers", "ecommerce:orders", "social:profiles")
KIND_LABELS = {
    "pos:loyalty_members": "POS member",
    "ecommerce:customers": "web account",
    "ecommerce:orders": "guest order",
    "social:profiles": "social profile",
}
SUBSECTION = "### Accuracy on generated data"

# Identity models in dbt node timings (the dedup models feed only identity; staging views are excluded).
IDENTITY_NODE = (
    "int_identity_", "int_pos_loyalty_members_deduplicated", "int_ecommerce_customers_deduplicated",
    "int_social_profiles_deduplicated",
)


# ------------------------------------------------------------------------------------------ scoring

_PREDICTED_SQL = f"""
create or replace temp table scored_records as
select
    r.record_key,
    r.source || ':' || r.entity as kind,
    r.customer_id,
    t.person_id,
    s.email_key,
    s.phone_key
from {RESOLVED} r
inner join truth t
    on r.source = t.source and r.entity = t.entity and r.source_record_id = t.source_record_id
left join intermediate.int_identity_records_standardised s
    on r.record_key = s.record_key
"""

# Pairs per (kind_l, kind_r) with kind_l <= kind_r, from counts per group: n_a * n_b across kinds,
# C(n, 2) within one kind. Linear in the records whatever the cluster sizes.
_PAIRS_BY_KIND_SQL = """
with counts as (
    select {key}, kind, count(*) as n from scored_records group by {key}, kind
)
select a.kind as kind_l, b.kind as kind_r,
    sum(case when a.kind = b.kind then a.n * (a.n - 1) // 2 else a.n * b.n end) as pairs
from counts a
inner join counts b on {join} and a.kind <= b.kind
group by 1, 2
"""


@dataclass
class Accuracy:
    """One scoring of a resolved warehouse against the truth."""

    overall: PairwiseScore
    by_kind: dict[tuple[str, str], PairwiseScore]
    over_merge: dict[str, int]
    linkable: PairwiseScore  # without display-name-only social profiles
    wrong_links: dict[tuple[str, bool], int] = field(default_factory=dict)  # (link rule, household pair)

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": _score_dict(self.overall),
            "by_kind": {f"{a}|{b}": _score_dict(s) for (a, b), s in self.by_kind.items()},
            "over_merge": self.over_merge,
            "without_name_only_profiles": _score_dict(self.linkable),
            "wrong_links": {
                f"{rule}|{'household' if h else 'other'}": n for (rule, h), n in self.wrong_links.items()
            },
        }


def _score_dict(s: PairwiseScore) -> dict[str, Any]:
    return {
        "records": s.records, "predicted_pairs": s.predicted_pairs, "true_pairs": s.true_pairs,
        "correct_pairs": s.true_positive_pairs, "precision": round(s.precision, 6),
        "recall": round(s.recall, 6), "f1": round(s.f1, 6),
    }


def _pairs_by_kind(con: duckdb.DuckDBPyConnection, key: str) -> dict[tuple[str, str], int]:
    join = " and ".join(f"a.{k} = b.{k}" for k in key.split(", "))
    rows = con.execute(_PAIRS_BY_KIND_SQL.format(key=key, join=join)).fetchall()
    return {(a, b): int(n) for a, b, n in rows}


# Accepted links (int_identity_links) between records of two different true people, by link rule and
# whether the two people are a household pair. Run after _over_merge (it creates the households table).
_WRONG_LINKS_SQL = """
select
    l.link_rule,
    exists (
        select 1 from households h
        where (h.person_id = a.person_id and h.household_of = b.person_id)
            or (h.person_id = b.person_id and h.household_of = a.person_id)
    ) as household,
    count(*)
from intermediate.int_identity_links l
inner join scored_records a on a.record_key = l.record_key_l
inner join scored_records b on b.record_key = l.record_key_r
where l.is_accepted and a.person_id <> b.person_id
group by all
order by all
"""


def _junk_values() -> tuple[list[str], list[str]]:
    """The generator's junk emails (as email keys) and junk phones (last 9 digits)."""
    from cdp.generator import pools

    emails = sorted({e.strip().lower() for e in pools.JUNK_EMAILS})
    digits = sorted({"".join(ch for ch in p if ch.isdigit())[-9:] for p in pools.JUNK_PHONES})
    return emails, digits


def _store_phones() -> list[str]:
    """Each store's default phone (last 9 digits: '6' + 8 digits below 10,000,000)."""
    from cdp.generator.population import STORE_PHONE_NUM

    return sorted({f"6{int(n):08d}" for n in STORE_PHONE_NUM})


def _over_merge(con: duckdb.DuckDBPyConnection, people_file: Path) -> dict[str, int]:
    """Predicted customers holding records of more than one true person, and what they involve.

    A customer can count under several causes: household (two of its people are a household pair:
    one moved in with the other and took their last name and address), family email (two of its
    people share an email of the household), store phone / junk (one of its records carries a store's
    default phone, or a junk email or phone of the generator's lists); 'none of these' otherwise.
    """
    junk_emails, junk_phones = _junk_values()
    con.execute("create or replace temp table junk_emails as select unnest(?::varchar[]) as v", [junk_emails])
    con.execute("create or replace temp table junk_phones as select unnest(?::varchar[]) as v", [junk_phones])
    con.execute("create or replace temp table store_phones as select unnest(?::varchar[]) as v",
                [_store_phones()])
    people = str(people_file).replace("'", "''")
    con.execute(
        "create or replace temp table households as "
        f"select person_id, household_of from read_parquet('{people}') where household_of is not null"
    )
    (row,) = con.execute("""
        with records as (
            select
                r.*,
                right(regexp_replace(coalesce(r.phone_key, ''), '[^0-9]', '', 'g'), 9) as phone9
            from scored_records r
        ),
        mixed as (
            select customer_id, count(*) as records, count(distinct person_id) as people
            from records group by customer_id having count(distinct person_id) > 1
        ),
        members as (
            select r.* from records r inner join mixed m on r.customer_id = m.customer_id
        ),
        household as (
            select distinct a.customer_id
            from members a
            inner join members b on a.customer_id = b.customer_id and a.person_id <> b.person_id
            inner join households h on h.person_id = a.person_id and h.household_of = b.person_id
        ),
        family_email as (
            select distinct a.customer_id
            from members a
            inner join members b
                on a.customer_id = b.customer_id and a.person_id <> b.person_id and a.email_key = b.email_key
            inner join households h
                on (h.person_id = a.person_id and h.household_of = b.person_id)
                or (h.person_id = b.person_id and h.household_of = a.person_id)
            where a.email_key not in (select v from junk_emails)
        ),
        store_phone as (
            select distinct customer_id from members
            where phone9 in (select v from store_phones) and phone9 not in (select v from junk_phones)
        ),
        junk as (
            select distinct customer_id from members
            where email_key in (select v from junk_emails)
                or (phone_key is not null and phone9 in (select v from junk_phones))
        ),
        rejected_inside as (
            select distinct a.customer_id
            from intermediate.int_identity_links l
            inner join members a on a.record_key = l.record_key_l
            inner join members b on b.record_key = l.record_key_r and a.customer_id = b.customer_id
            where not l.is_accepted
        )
        select
            count(*),
            coalesce(sum(records), 0),
            coalesce(sum(people), 0),
            count(*) filter (where customer_id in (select customer_id from household)),
            count(*) filter (where customer_id in (select customer_id from family_email)),
            count(*) filter (where customer_id in (select customer_id from store_phone)),
            count(*) filter (where customer_id in (select customer_id from junk)),
            count(*) filter (
                where customer_id not in (select customer_id from household)
                and customer_id not in (select customer_id from family_email)
                and customer_id not in (select customer_id from store_phone)
                and customer_id not in (select customer_id from junk)
            ),
            max(people),
            count(*) filter (where customer_id in (select customer_id from rejected_inside))
        from mixed
    """).fetchall()
    keys = ("customers", "records", "people", "household", "family_email", "store_phone", "junk", "other",
            "max_people", "rejected_inside")
    return {k: int(v or 0) for k, v in zip(keys, row, strict=True)}


def score(warehouse: Path, truth_dir: Path) -> Accuracy:
    """Pairwise scores of ``int_identity_records_resolved`` (overall and per pair of record kinds)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        truth = str(truth_dir / "records.parquet").replace("'", "''")
        con.execute(f"create temp view truth as select * from read_parquet('{truth}')")
        con.execute(_PREDICTED_SQL)
        predicted = _pairs_by_kind(con, "customer_id")
        true = _pairs_by_kind(con, "person_id")
        correct = _pairs_by_kind(con, "customer_id, person_id")
        (records,) = con.execute("select count(*) from scored_records").fetchone()
        over_merge = _over_merge(con, truth_dir / "people.parquet")
        wrong_links = {
            (rule, bool(household)): int(n)
            for rule, household, n in con.execute(_WRONG_LINKS_SQL).fetchall()
        }
        # The same score without display-name-only social profiles (see recall_limits).
        con.execute(
            "delete from scored_records where kind = 'social:profiles' and email_key is null "
            "and phone_key is null"
        )
        (linkable_records,) = con.execute("select count(*) from scored_records").fetchone()
        linkable = PairwiseScore(
            int(linkable_records),
            *(
                sum(_pairs_by_kind(con, key).values())
                for key in ("customer_id", "person_id", "customer_id, person_id")
            ),
        )

    def ordered(counts: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
        return {tuple(sorted(k, key=KINDS.index)): n for k, n in counts.items()}

    predicted, true, correct = ordered(predicted), ordered(true), ordered(correct)
    keys = sorted(set(predicted) | set(true), key=lambda k: (KINDS.index(k[0]), KINDS.index(k[1])))
    by_kind = {
        k: PairwiseScore(0, predicted.get(k, 0), true.get(k, 0), correct.get(k, 0)) for k in keys
    }
    overall = PairwiseScore(
        int(records), sum(predicted.values()), sum(true.values()), sum(correct.values())
    )
    return Accuracy(overall, by_kind, over_merge, linkable, wrong_links)


def recall_limits(warehouse: Path, truth_dir: Path) -> dict[str, Any]:
    """True pairs that no resolver can link, and where the missed true pairs are.

    * bare social profile: one side is a social profile with neither email nor phone (a display name
      only; it has no birth date, postcode or address to compare either);
    * per person: C(n, 2) - C(n - s, 2) true pairs touch at least one of its s bare profiles.
    """
    with duckdb.connect(str(warehouse), read_only=True) as con:
        truth = str(truth_dir / "records.parquet").replace("'", "''")
        con.execute(f"create temp view truth as select * from read_parquet('{truth}')")
        (true, bare_pairs, bare_profiles, profiles) = con.execute(f"""
            with records as (
                select
                    t.person_id,
                    t.source = 'social' and s.email_key is null and s.phone_key is null as bare
                from truth t
                inner join {RESOLVED} r
                    on r.source = t.source and r.entity = t.entity and r.source_record_id = t.source_record_id
                left join intermediate.int_identity_records_standardised s on s.record_key = r.record_key
            ),
            people as (
                select person_id, count(*) as n, count(*) filter (where bare) as s from records group by 1
            )
            select
                sum(n * (n - 1) // 2),
                sum(n * (n - 1) // 2 - (n - s) * (n - s - 1) // 2),
                (select count(*) filter (where bare) from records),
                (select count(*) from truth where source = 'social')
            from people
        """).fetchone()
        evidence_pairs, evidence_correct = _evidence_connected(con)
    blocking = blocking_recall(warehouse, truth_dir)
    return {
        "true_pairs": int(true or 0),
        "blocked_share": blocking.blocked_share,
        "candidate_share": blocking.candidate_share,
        "bare_profile_pairs": int(bare_pairs or 0),
        "bare_profile_share": (bare_pairs or 0) / true if true else 0.0,
        "bare_profiles": int(bare_profiles or 0),
        "social_profiles": int(profiles or 0),
        "evidence_pairs": evidence_pairs,
        "evidence_correct": evidence_correct,
    }


def _evidence_connected(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """True pairs that shared evidence connects, and how many of them we linked.

    Two records of one person are connected when they share an email or a phone, or both carry a full
    name and a birth date, or both a full name and a postcode or address; pairs connected through other
    records of the person count too. A pair outside this (e.g. a web account with only a name and an
    email vs a POS member with only a name and a postcode) has nothing but a name in common, which no
    resolver can tell from a namesake's. The bound is loose: a resolver may still link some of the
    others (on a name and a city) or, through a wrong merge, put them together.
    """
    rows = con.execute(f"""
        select
            s.record_key, t.person_id, r.customer_id, s.email_key, s.phone_key,
            s.first_name_key is not null and s.last_name_key is not null as named,
            s.birth_date_key is not null as dated,
            s.postcode_key is not null or s.address_key is not null as located
        from truth t
        inner join {RESOLVED} r
            on r.source = t.source and r.entity = t.entity and r.source_record_id = t.source_record_id
        inner join intermediate.int_identity_records_standardised s on s.record_key = r.record_key
    """).fetchall()
    parent = {row[0]: row[0] for row in rows}

    def find(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    by_evidence: dict[tuple[str, str], list[str]] = {}
    for key, person, _, email, phone, named, dated, located in rows:
        for kind, value in (("e", email), ("p", phone), ("d", named and dated), ("l", named and located)):
            if value:
                by_evidence.setdefault((person, f"{kind}{value}"), []).append(key)
    for keys in by_evidence.values():
        root = find(keys[0])
        for key in keys[1:]:
            other = find(key)
            if other != root:
                parent[other] = root
    component: dict[str, int] = {}
    together: dict[tuple[str, str], int] = {}
    for key, _, customer, *_ in rows:
        root = find(key)
        component[root] = component.get(root, 0) + 1
        together[(root, customer)] = together.get((root, customer), 0) + 1
    pairs = sum(n * (n - 1) // 2 for n in component.values())
    return pairs, sum(n * (n - 1) // 2 for n in together.values())


# -------------------------------------------------------------------------------------------- runs


@dataclass
class NoiseRun:
    noise: str
    people: int
    records: int
    generate_seconds: float
    ingest_seconds: float
    build_seconds: float  # wall clock of the first build (default model)
    build_identity_node_seconds: float
    train_seconds: float  # `cdp identity train`: build of the pairs + EM + write
    train_build_seconds: float
    train_fit_seconds: float
    rebuild_seconds: float  # wall clock of the build that scores with the trained model
    rebuild_identity_node_seconds: float
    default: Accuracy
    trained: Accuracy
    limits: dict[str, Any]
    over_merge_cases: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("default", "trained")}
        out["default"] = self.default.to_dict()
        out["trained"] = self.trained.to_dict()
        return out


def identity_node_seconds(build: dict[str, Any] | Any) -> float:
    nodes = build["nodes"] if isinstance(build, dict) else build.nodes
    return sum(
        float(n["seconds"] or 0.0) for n in nodes
        if n["node"].startswith("model.") and n["node"].split(".")[-1].startswith(IDENTITY_NODE)
    )


def run_noise(home: Path, noise: str, people: int, seed: int = SEED, market: str = "nl") -> NoiseRun:
    """Generate, land, build, score; train, rebuild, score again. ``home`` is wiped first. ``market``:
    the generator's and the home's market (cn: Chinese names, +86 mobiles, a GB18030 POS file)."""
    from cdp import pipeline, warehouse
    from cdp.generator import generate
    from cdp.generator.locale import locale
    from cdp.identity.train import train
    from cdp.market import configure_home

    shutil.rmtree(home, ignore_errors=True)
    encoding = locale(market).pos_encoding
    configure_home(home, market, {"pos": encoding} if encoding != "utf-8" else None)
    settings = Settings.load(home=home, raw=home / "raw").ensure()
    truth = settings.raw / "_truth"

    started = time.perf_counter()
    result = generate(settings.raw, people, 0, END_DATE, seed, noise=noise, market=market)
    generate_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for source in SOURCES:
        pipeline.ingest_source(settings, END_DATE, source)
    ingest_seconds = time.perf_counter() - started

    settings.identity_model_file.unlink(missing_ok=True)  # the shipped default model
    started = time.perf_counter()
    build = warehouse.build(settings, END_DATE, select=BUILD_SELECT, data_tests=False)
    build_seconds = time.perf_counter() - started
    default = score(settings.warehouse, truth)
    limits = recall_limits(settings.warehouse, truth)

    # `cdp identity train --date END_DATE`: the same two steps as the command (cdp/cli.py).
    started = time.perf_counter()
    warehouse.build(settings, END_DATE, select=TRAIN_SELECT)
    train_build_seconds = time.perf_counter() - started
    train(settings, settings.identity_model_file)
    train_seconds = time.perf_counter() - started

    started = time.perf_counter()
    rebuild = warehouse.build(settings, END_DATE, select=BUILD_SELECT, data_tests=False)
    rebuild_seconds = time.perf_counter() - started
    trained = score(settings.warehouse, truth)

    return NoiseRun(
        noise=noise if market == "nl" else f"{noise} ({market})",
        people=people,
        records=default.overall.records,
        generate_seconds=generate_seconds,
        ingest_seconds=ingest_seconds,
        build_seconds=build_seconds,
        build_identity_node_seconds=identity_node_seconds(build),
        train_seconds=train_seconds,
        train_build_seconds=train_build_seconds,
        train_fit_seconds=train_seconds - train_build_seconds,
        rebuild_seconds=rebuild_seconds,
        rebuild_identity_node_seconds=identity_node_seconds(rebuild),
        default=default,
        trained=trained,
        limits=limits,
        over_merge_cases=result.summary.get("over_merge_cases", {}),
    )


def run(people: int = 20_000, noises: tuple[str, ...] = NOISE_LEVELS, home: Path | None = None,
        keep: bool = False, markets: tuple[str, ...] = ("nl", "cn")) -> list[NoiseRun]:
    """Every noise level in its own home folder under ``home`` (default: a temporary folder), on the
    Dutch market; the other markets at typical noise beside them."""
    base = home.resolve() if home else Path(tempfile.mkdtemp(prefix="cdp-identity-accuracy-"))
    runs = []
    plan = [(noise, "nl") for noise in noises if "nl" in markets]
    plan += [("typical", market) for market in markets if market != "nl"]
    try:
        for noise, market in plan:
            print(f"[{noise}, {market}] {people:,} people ...", flush=True)
            runs.append(run_noise(base / f"{noise}-{market}", noise, people, market=market))
            print(summary_line(runs[-1]), flush=True)
    finally:
        if not keep:
            shutil.rmtree(base, ignore_errors=True)
    return runs


# ------------------------------------------------------------------------------------------ output


def summary_line(r: NoiseRun) -> str:
    d, t = r.default.overall, r.trained.overall
    return (
        f"[{r.noise}] records={r.records:,} default P={d.precision:.4f} R={d.recall:.4f} F1={d.f1:.4f}; "
        f"trained P={t.precision:.4f} R={t.recall:.4f} F1={t.f1:.4f}; build {r.build_seconds:.1f} s, "
        f"train {r.train_seconds:.1f} s, rebuild {r.rebuild_seconds:.1f} s; "
        f"blocking recall {r.limits.get('blocked_share', 0):.4f} "
        f"(with deterministic links {r.limits.get('candidate_share', 0):.4f})"
    )


def accuracy_table(runs: list[NoiseRun]) -> str:
    lines = [
        "| noise | model | records | true pairs | predicted pairs | correct | precision | recall | F1 | "
        "precision / recall without name-only profiles | over-merged customers |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        for label, acc in (("shipped default", r.default), ("trained on this data", r.trained)):
            s, k = acc.overall, acc.linkable
            lines.append(
                f"| {r.noise} | {label} | {s.records:,} | {s.true_pairs:,} | {s.predicted_pairs:,} | "
                f"{s.true_positive_pairs:,} | {s.precision:.4f} | {s.recall:.4f} | {s.f1:.4f} | "
                f"{k.precision:.4f} / {k.recall:.4f} | {acc.over_merge['customers']:,} |"
            )
    return "\n".join(lines)


def kind_table(run: NoiseRun) -> str:
    lines = [
        "| record pair | true pairs | recall (default) | precision (default) | recall (trained) | "
        "precision (trained) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, d in run.default.by_kind.items():
        t = run.trained.by_kind.get(key, PairwiseScore(0, 0, d.true_pairs, 0))
        if not d.true_pairs and not d.predicted_pairs and not t.predicted_pairs:
            continue
        label = f"{KIND_LABELS[key[0]]} - {KIND_LABELS[key[1]]}"
        lines.append(
            f"| {label} | {d.true_pairs:,} | {_ratio(d.true_positive_pairs, d.true_pairs)} | "
            f"{_ratio(d.true_positive_pairs, d.predicted_pairs)} | "
            f"{_ratio(t.true_positive_pairs, t.true_pairs)} | "
            f"{_ratio(t.true_positive_pairs, t.predicted_pairs)} |"
        )
    return "\n".join(lines)


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.4f}" if b else "-"


def over_merge_table(runs: list[NoiseRun]) -> str:
    lines = [
        "| noise | model | over-merged customers | their records | their people | household pair | "
        "family email | store phone | junk email/phone | none of these | with a guard-rejected pair inside | "
        "injected (households / family-email records / store-phone records / junk records) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        c = r.over_merge_cases
        injected = (
            f"{c.get('household_pairs', 0):,} / {c.get('family_email_records', 0):,} / "
            f"{c.get('store_phone_records', 0):,} / "
            f"{c.get('junk_email_records', 0) + c.get('junk_phone_records', 0):,}"
        )
        for label, acc in (("default", r.default), ("trained", r.trained)):
            o = acc.over_merge
            lines.append(
                f"| {r.noise} | {label} | {o['customers']:,} | {o['records']:,} | {o['people']:,} | "
                f"{o['household']:,} | {o['family_email']:,} | {o['store_phone']:,} | {o['junk']:,} | "
                f"{o['other']:,} | {o['rejected_inside']:,} | {injected} |"
            )
    return "\n".join(lines)


def wrong_links_table(runs: list[NoiseRun]) -> str:
    rules = ("email", "phone", "email+phone", "probabilistic", "override")
    lines = [
        "| noise | model | " + " | ".join(
            f"{rule}: household pair / other" for rule in rules[:-1]
        ) + " |",
        "|---|---|" + "---:|" * (len(rules) - 1),
    ]
    for r in runs:
        for label, acc in (("default", r.default), ("trained", r.trained)):
            w = acc.wrong_links
            cells = [f"{w.get((rule, True), 0):,} / {w.get((rule, False), 0):,}" for rule in rules[:-1]]
            lines.append(f"| {r.noise} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def timing_table(runs: list[NoiseRun]) -> str:
    lines = [
        "| noise | identity records | identity build, default model (s) | of which identity dbt nodes (s) | "
        "`cdp identity train` (s): pairs build + EM | rebuild with trained model (s) | "
        "of which identity dbt nodes (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r.noise} | {r.records:,} | {r.build_seconds:.1f} | {r.build_identity_node_seconds:.1f} | "
            f"{r.train_seconds:.1f} ({r.train_build_seconds:.1f} + {r.train_fit_seconds:.1f}) | "
            f"{r.rebuild_seconds:.1f} | {r.rebuild_identity_node_seconds:.1f} |"
        )
    return "\n".join(lines)


def limits_table(runs: list[NoiseRun]) -> str:
    lines = [
        "| noise | true pairs | pairs with a display-name-only social profile | share | such profiles / "
        "all profiles | recall ceiling | recall (trained) | recall (trained) without them | "
        "pairs shared evidence connects (share) | of those linked (shipped model) | blocking recall | "
        "blocking or deterministic link |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lim = r.limits
        ceiling = 1 - lim["bare_profile_share"]
        evidence = lim.get("evidence_pairs", 0)
        lines.append(
            f"| {r.noise} | {lim['true_pairs']:,} | {lim['bare_profile_pairs']:,} | "
            f"{lim['bare_profile_share']:.4f} | {lim['bare_profiles']:,} / {lim['social_profiles']:,} | "
            f"{ceiling:.4f} | {r.trained.overall.recall:.4f} | {r.trained.linkable.recall:.4f} | "
            f"{evidence:,} ({_ratio(evidence, lim['true_pairs'])}) | "
            f"{_ratio(lim.get('evidence_correct', 0), evidence)} | {lim.get('blocked_share', 0):.4f} | "
            f"{lim.get('candidate_share', 0):.4f} |"
        )
    return "\n".join(lines)


def section(runs: list[NoiseRun], notes: list[str] | None = None) -> str:
    measured = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    people = runs[0].people if runs else 0
    typical = next((r for r in runs if r.noise == "typical"), runs[0] if runs else None)
    parts = [
        SUBSECTION,
        "",
        f"Written by `python bench/identity_accuracy.py --people {people}` (`make bench`). Per noise level: "
        f"{people:,} generated people as one history drop (seed {SEED}, ending {END_DATE}), landed by our "
        f"ingest, `dbt build --select {BUILD_SELECT}` without dbt tests, then scored pairwise on "
        "`int_identity_records_resolved` (every pair of records in one predicted customer is a predicted "
        "link) (a) with the shipped default model (`dbt_project/seeds/identity_match_parameters.csv`) and "
        "(b) after `cdp identity train` on the same data and a rebuild that scores with the trained model.",
        "",
        f"- Machine: {machine()}",
        f"- Measured: {measured}; identity code fingerprint {fingerprint_text()} (bench/_doc.py)",
        "- Targets (typical noise): precision >= 0.995, recall >= 0.97.",
        *(f"- {n}" for n in (notes or [])),
        "",
        accuracy_table(runs),
        "",
    ]
    if typical is not None:
        parts += [
            f"Per pair of record kinds, {typical.noise} noise (recall = correct / true pairs of that kind; "
            "precision = correct / predicted pairs of that kind):",
            "",
            kind_table(typical),
            "",
        ]
    parts += [
        "Over-merges: predicted customers holding records of more than one true person, by what they "
        "involve (a customer can count under several causes; household pair = one person moved in with "
        "the other and took their last name and address; family email = two of its people share a "
        "household email; store phone / junk = one of its records carries a store's default phone or a "
        "junk email/phone of the generator's lists). The last column is what the generator injected.",
        "",
        over_merge_table(runs),
        "",
        "What the over-merges are made of: accepted links (`int_identity_links`) between records of two "
        "different people, by link rule, split by whether the two people are a household pair:",
        "",
        wrong_links_table(runs),
        "",
        "What limits recall: a social profile carrying neither email nor phone has only a display name "
        "(no birth date, postcode or address): no resolver can tell which of the people of that name it "
        "is. True pairs touching such a profile, and (last two columns) the true pairs that shared "
        "evidence connects at all - an email or phone in common, or a full name with a birth date or "
        "with a postcode/address on both records, directly or through the person's other records; the "
        "rest have at most a name in common (a loose bound: a name and a city, or a wrong merge, can "
        "still put a few of them together):",
        "",
        limits_table(runs),
        "",
        "Times (wall clock in this process, dbt start-up included; identity dbt nodes = sum of node "
        "execution times of the identity and deduplication models; generation and ingest excluded):",
        "",
        timing_table(runs),
        "",
    ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--noise", nargs="+", choices=NOISE_LEVELS, default=list(NOISE_LEVELS))
    parser.add_argument("--market", nargs="+", choices=("nl", "cn"), default=["nl", "cn"],
                        help="markets (nl at every noise level, the others at typical noise)")
    parser.add_argument("--home", type=Path, help="work folder (default: a temporary one, removed after)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--note", action="append", default=[], help="a line added to the doc's notes")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)

    runs = run(args.people, tuple(args.noise), args.home, keep=args.keep or args.home is not None,
               markets=tuple(args.market))
    text = section(runs, args.note)
    print(text)
    if args.json:
        args.json.write_text(json.dumps([r.to_dict() for r in runs], indent=2) + "\n", encoding="utf-8")
    if not args.no_doc:
        update_identity_subsection(args.out, SUBSECTION, text)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
