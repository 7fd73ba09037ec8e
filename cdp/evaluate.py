"""Score identity resolution against the generator's ground truth (pairwise precision and recall).

Every pair of records inside one predicted customer is a predicted link; every pair inside one true
person is a true link. Counting pairs per cluster keeps this linear: C(n, 2) per cluster and per
(predicted, true) intersection, so a million records score in seconds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class PairwiseScore:
    records: int
    predicted_pairs: int
    true_pairs: int
    true_positive_pairs: int

    @property
    def precision(self) -> float:
        return _share(self.true_positive_pairs, self.predicted_pairs)

    @property
    def recall(self) -> float:
        return _share(self.true_positive_pairs, self.true_pairs)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __str__(self) -> str:
        return (
            f"records={self.records:,} precision={self.precision:.4f} recall={self.recall:.4f} "
            f"f1={self.f1:.4f} (pairs: predicted={self.predicted_pairs:,} true={self.true_pairs:,} "
            f"correct={self.true_positive_pairs:,})"
        )


_SQL = """
with joined as (
    select predicted.customer_id, truth.person_id
    from predicted
    inner join truth
        on predicted.source = truth.source
        and predicted.entity = truth.entity
        and predicted.source_record_id = truth.source_record_id
),
by_customer as (select count(*) as n from joined group by customer_id),
by_person as (select count(*) as n from joined group by person_id),
by_both as (select count(*) as n from joined group by customer_id, person_id)
select
    (select count(*) from joined),
    (select coalesce(sum(n * (n - 1) // 2), 0) from by_customer),
    (select coalesce(sum(n * (n - 1) // 2), 0) from by_person),
    (select coalesce(sum(n * (n - 1) // 2), 0) from by_both)
"""


def score_identity(
    warehouse: Path, truth_dir: Path, table: str = "marts.customer_identity_map"
) -> PairwiseScore:
    """Compare ``table`` (source, entity, source_record_id, customer_id; default the identity map mart)
    with ``<truth_dir>/records.parquet``. ``intermediate.int_identity_records_resolved`` has the same
    columns and scores the same way when only the identity models were built."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute(
            "create temp view predicted as "
            f"select source, entity, source_record_id, customer_id from {table}"
        )
        truth_file = str(truth_dir / "records.parquet").replace("'", "''")
        con.execute(f"create temp view truth as select * from read_parquet('{truth_file}')")
        records, predicted, true, correct = con.execute(_SQL).fetchone()
    return PairwiseScore(int(records), int(predicted), int(true), int(correct))


def score_labels(labels: Mapping[str, str], truth: Mapping[str, str]) -> PairwiseScore:
    """The same pairwise score for clusterings held in memory (record key -> cluster id, record key ->
    person id), over the records both know: what a benchmark scores for a clustering it derived itself
    (e.g. the links the conflict guard rejected, merged back in)."""
    keys = [key for key in labels if key in truth]
    return PairwiseScore(
        len(keys),
        _pairs(Counter(labels[key] for key in keys)),
        _pairs(Counter(truth[key] for key in keys)),
        _pairs(Counter((labels[key], truth[key]) for key in keys)),
    )


def _share(part: int, whole: int) -> float:
    """``part / whole``; 1.0 when there is nothing to find (no pair missed, none wrong)."""
    return part / whole if whole else 1.0


def _pairs(sizes: Counter) -> int:
    return sum(n * (n - 1) // 2 for n in sizes.values())


@dataclass(frozen=True)
class BlockingRecall:
    """How many true pairs the matcher ever looked at: what blocking caps recall at."""

    true_pairs: int
    blocked_pairs: int  # true pairs a blocking rule proposed (int_identity_pairs_blocked)
    candidate_pairs: int  # ... or that the resolver considered as a link (shared identifier, override)

    @property
    def blocked_share(self) -> float:
        return _share(self.blocked_pairs, self.true_pairs)

    @property
    def candidate_share(self) -> float:
        return _share(self.candidate_pairs, self.true_pairs)

    def __str__(self) -> str:
        return (
            f"blocking recall {self.blocked_share:.4f} (true pairs proposed by a blocking rule), "
            f"{self.candidate_share:.4f} with the deterministic links ({self.true_pairs:,} true pairs)"
        )


_BLOCKING_SQL = """
with keyed as (
    select r.record_key, t.person_id
    from truth t
    inner join intermediate.int_identity_records_resolved r
        on r.source = t.source and r.entity = t.entity and r.source_record_id = t.source_record_id
),
true_pairs as (
    select l.record_key as record_key_l, r.record_key as record_key_r
    from keyed l
    inner join keyed r on l.person_id = r.person_id and l.record_key < r.record_key
),
considered as (
    select record_key_l, record_key_r from intermediate.int_identity_links
    union
    select record_key_l, record_key_r from intermediate.int_identity_pairs_blocked
)
select
    (select count(*) from true_pairs),
    (select count(*) from true_pairs p inner join intermediate.int_identity_pairs_blocked b
        on b.record_key_l = p.record_key_l and b.record_key_r = p.record_key_r),
    (select count(*) from true_pairs p inner join considered c
        on c.record_key_l = p.record_key_l and c.record_key_r = p.record_key_r)
"""


def blocking_recall(warehouse: Path, truth_dir: Path) -> BlockingRecall:
    """Share of true pairs (two records of one person in ``<truth_dir>/records.parquet``) that blocking
    proposed to the probabilistic matcher, and that blocking or a deterministic link (shared email or
    phone, an override) put before the resolver: Splink's "blocking recall". A pair outside both can
    still end up in one customer through other records of the person (clustering is transitive)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        truth_file = str(truth_dir / "records.parquet").replace("'", "''")
        con.execute(f"create temp view truth as select * from read_parquet('{truth_file}')")
        true, blocked, candidates = con.execute(_BLOCKING_SQL).fetchall()[0]
    return BlockingRecall(int(true), int(blocked), int(candidates))
