"""Pairwise precision/recall has one owner (cdp/evaluate.py): the SQL scorer the tests and benchmarks
run on a warehouse and the in-memory scorer a benchmark runs on a clustering it derived agree."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp.evaluate import blocking_recall, score_identity, score_labels

clusterings = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=0, max_size=40
)


@given(assignments=clusterings)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_sql_and_in_memory_scores_agree(tmp_path: Path, assignments: list[tuple[int, int]]) -> None:
    keys = [f"r{i}" for i in range(len(assignments))]
    labels = {key: f"C{c}" for key, (c, _) in zip(keys, assignments, strict=True)}
    truth = {key: f"P{p}" for key, (_, p) in zip(keys, assignments, strict=True)}
    warehouse = tmp_path / "w.duckdb"
    warehouse.unlink(missing_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.customer_identity_map "
            "(source varchar, entity varchar, source_record_id varchar, customer_id varchar)"
        )
        if keys:
            con.executemany(
                "insert into marts.customer_identity_map values ('pos', 'members', ?, ?)",
                [(key, labels[key]) for key in keys],
            )
    pq.write_table(
        pa.table({
            "source": ["pos"] * len(keys), "entity": ["members"] * len(keys),
            "source_record_id": keys, "person_id": [truth[k] for k in keys],
        }, schema=pa.schema([("source", pa.string()), ("entity", pa.string()),
                             ("source_record_id", pa.string()), ("person_id", pa.string())])),
        tmp_path / "records.parquet",
    )

    assert score_identity(warehouse, tmp_path) == score_labels(labels, truth)


def test_a_known_clustering() -> None:
    # Truth: {a, b, c} and {d}. Predicted: {a, b} and {c, d}: one correct pair of two predicted, of three.
    score = score_labels({"a": "1", "b": "1", "c": "2", "d": "2"}, {"a": "x", "b": "x", "c": "x", "d": "y"})
    assert (score.predicted_pairs, score.true_pairs, score.true_positive_pairs) == (2, 3, 1)
    assert (score.precision, round(score.recall, 4)) == (0.5, 0.3333)


pair_sets = st.sets(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=20)


@given(people=st.lists(st.integers(0, 3), min_size=0, max_size=8), blocked=pair_sets, linked=pair_sets)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_blocking_recall_counts_the_true_pairs_the_matcher_saw(
    tmp_path: Path, people: list[int], blocked: set[tuple[int, int]], linked: set[tuple[int, int]]
) -> None:
    """Records r0..rn of true persons ``people``; blocking proposed ``blocked``, deterministic or
    override links ``linked`` (each pair stored lower key first, as the models store them). Recounted
    here pair by pair."""
    keys = [f"pos:members:{i}" for i in range(len(people))]

    def ordered(pairs: set[tuple[int, int]]) -> set[tuple[str, str]]:
        return {
            tuple(sorted((keys[a], keys[b])))  # type: ignore[misc]
            for a, b in pairs if a != b and a < len(keys) and b < len(keys)
        }

    proposed, considered = ordered(blocked), ordered(linked)
    true_pairs = {
        (keys[a], keys[b]) if keys[a] < keys[b] else (keys[b], keys[a])
        for a in range(len(keys)) for b in range(a + 1, len(keys)) if people[a] == people[b]
    }
    warehouse = tmp_path / "w.duckdb"
    warehouse.unlink(missing_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema intermediate")
        con.execute("create table intermediate.int_identity_records_resolved"
                    " (record_key varchar, source varchar, entity varchar, source_record_id varchar)")
        for table in ("int_identity_pairs_blocked", "int_identity_links"):
            con.execute(f"create table intermediate.{table} (record_key_l varchar, record_key_r varchar)")
        for key in keys:
            con.execute("insert into intermediate.int_identity_records_resolved values (?, ?, ?, ?)",
                        [key, *key.split(":")])
        for table, pairs in (("int_identity_pairs_blocked", proposed), ("int_identity_links", considered)):
            for pair in sorted(pairs):
                con.execute(f"insert into intermediate.{table} values (?, ?)", list(pair))
    truth = tmp_path / "truth"
    truth.mkdir(exist_ok=True)
    pq.write_table(pa.table({
        "source": ["pos"] * len(keys), "entity": ["members"] * len(keys),
        "source_record_id": [str(i) for i in range(len(keys))], "person_id": [f"P{p}" for p in people],
    }), truth / "records.parquet")

    result = blocking_recall(warehouse, truth)
    assert result.true_pairs == len(true_pairs)
    assert result.blocked_pairs == len(true_pairs & proposed)
    assert result.candidate_pairs == len(true_pairs & (proposed | considered))
    assert 0.0 <= result.blocked_share <= result.candidate_share <= 1.0
