"""Turn generated rows into nightly drop files, injecting the duplicates and broken rows real feeds contain.

Rows arrive as an Arrow table plus a drop index and an ordering key per row. Duplicates and corrupted copies
are added as extra row indices (the clean original is always kept, so the ground truth stays complete); lines
that cannot be expressed as a row (bad JSON, wrong CSV column count) are appended as raw text. DuckDB does
the formatting and writing because it is fast and handles nested JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

RawFn = Callable[[str, pa.Table], list[str]]


@dataclass
class Entity:
    """One entity file of one source, with its noise plan."""

    source: str
    name: str
    file: str
    fmt: str  # "csv" | "json"
    table: pa.Table
    drop: np.ndarray
    order: np.ndarray
    select: str  # SQL select list over ``table`` columns plus ``_b`` (broken-copy kind code, 0 = clean)
    broken_copies: dict[str, float] = field(default_factory=dict)  # kind -> share; code = position + 1
    raw_broken: dict[str, float] = field(default_factory=dict)
    raw_fn: RawFn | None = None
    p_dup: float = 0.0
    p_resend: float = 0.0
    resend_file_drop: int | None = None

    def code(self, kind: str) -> int:
        return list(self.broken_copies).index(kind) + 1


def write_entity(
    con: duckdb.DuckDBPyConnection, rng: np.random.Generator, ent: Entity, out: Path, dates: list[str]
) -> dict:
    """Write ``ent`` into every drop folder; return counts of what was injected."""
    n_drops = len(dates)
    n = ent.table.num_rows
    drop = ent.drop.astype(np.int64)
    order = ent.order.astype(np.int64)
    keep = (drop >= 0) & (drop < n_drops)
    base = np.flatnonzero(keep)
    parts_idx = [base]
    parts_drop = [drop[base]]
    parts_grp = [np.ones(len(base), np.int8)]
    parts_sub = [np.zeros(len(base), np.int8)]
    parts_b = [np.zeros(len(base), np.int8)]
    stats: dict = {"rows_generated": len(base)}

    def add(idx, d, grp, sub, b=0):
        parts_idx.append(idx)
        parts_drop.append(d)
        parts_grp.append(np.full(len(idx), grp, np.int8))
        parts_sub.append(np.full(len(idx), sub, np.int8))
        parts_b.append(np.full(len(idx), b, np.int8))

    # A JSONL file must never be empty: re-send the latest earlier record, as exporters do.
    if ent.fmt == "json" and n:
        counts = np.bincount(drop[base], minlength=n_drops)
        filler = []
        for k in np.flatnonzero(counts == 0):
            earlier = base[drop[base] < k]
            j = earlier[np.argmax(order[earlier])] if len(earlier) else base[0] if len(base) else 0
            filler.append((j, k))
        if filler:
            add(np.array([f[0] for f in filler]), np.array([f[1] for f in filler]), 2, 0)
        stats["filler_resends"] = len(filler)

    if ent.p_dup:
        sel = base[rng.random(len(base)) < ent.p_dup]
        add(sel, drop[sel], 1, 1)
        stats["dup_in_file"] = len(sel)
    if ent.p_resend:
        sel = base[(rng.random(len(base)) < ent.p_resend) & (drop[base] < n_drops - 1)]
        add(sel, drop[sel] + 1, 2, 0)
        stats["dup_next_day"] = len(sel)
    broken: dict[str, int] = {}
    for kind, share in ent.broken_copies.items():
        sel = base[rng.random(len(base)) < share]
        add(sel, drop[sel], 1, 2, ent.code(kind))
        broken[kind] = len(sel)

    idx = np.concatenate(parts_idx)
    d = np.concatenate(parts_drop)
    sort = np.lexsort((np.concatenate(parts_sub), idx, order[idx], np.concatenate(parts_grp), d))
    idx, d = idx[sort], d[sort]
    b = np.concatenate(parts_b)[sort]
    table = ent.table.take(pa.array(idx)).append_column("_b", pa.array(b))

    raw_by_drop: dict[int, list[str]] = {}
    for kind, share in ent.raw_broken.items():
        m = int(rng.binomial(len(base), share)) if len(base) else 0
        if m == 0 or ent.raw_fn is None:
            broken[kind] = 0
            continue
        pick = np.sort(rng.choice(base, size=m, replace=False))
        lines = ent.raw_fn(kind, ent.table.take(pa.array(pick)))
        for k, line in zip(drop[pick].tolist(), lines, strict=True):
            raw_by_drop.setdefault(k, []).append(line)
        broken[kind] = m
    stats["broken"] = broken

    bounds = np.searchsorted(d, np.arange(n_drops + 1))
    opts = "FORMAT csv, HEADER true, DELIMITER ','" if ent.fmt == "csv" else "FORMAT json"
    rows_written = []
    for k, day in enumerate(dates):
        folder = out / ent.source / day
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / ent.file
        part = table.slice(int(bounds[k]), int(bounds[k + 1] - bounds[k]))  # noqa: F841 - read by DuckDB
        con.execute(f"COPY (SELECT {ent.select} FROM part) TO '{path}' ({opts})")
        extra = raw_by_drop.get(k, [])
        if extra:
            with path.open("ab") as fh:
                fh.write(("\n".join(extra) + "\n").encode("utf-8"))
        rows_written.append(int(bounds[k + 1] - bounds[k]) + len(extra))
        if k == ent.resend_file_drop and k >= 1:
            # The exporter re-ran yesterday's job too: yesterday's file content, byte for byte, then today's.
            prev = (out / ent.source / dates[k - 1] / ent.file).read_bytes()
            cur = path.read_bytes()
            if ent.fmt == "csv":
                header, _, prev = prev.partition(b"\n")
                _, _, cur = cur.partition(b"\n")
                cur = header + b"\n" + prev + cur
            else:
                cur = prev + cur
            path.write_bytes(cur)
            n_prev = prev.count(b"\n")
            rows_written[-1] += n_prev
            stats["dup_resent_file"] = {"drop": day, "copied_from": dates[k - 1], "rows": n_prev}
    stats["lines_per_drop"] = dict(zip(dates, rows_written, strict=True))
    return stats
