"""Pairwise precision/recall has one owner (cdp/evaluate.py): the SQL scorer the tests and benchmarks
run on a warehouse and the in-memory scorer a benchmark runs on a clustering it derived agree."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp.evaluate import score_identity, score_labels

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
