"""Vectorised checking and typing of one raw batch against its entity contract.

Values are parsed per *distinct* value (dictionary-encode, parse the dictionary, take back), which
makes timestamps, prices and codes cheap even at millions of rows. Each row gets at most one
quarantine reason: the first failing required field, in contract order.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .contract import QUARANTINE_SCHEMA, Child, Entity, Field
from .readers import UNPARSEABLE, ChildBatch, RawBatch

_INT_RE = r"^[+-]?[0-9]{1,18}(\.0*)?$"
_DEC_RE = r"^[+-]?([0-9]{1,16}(\.[0-9]*)?|\.[0-9]+)$"
_DATE = r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
_DATE_RE = f"^{_DATE}$"
_LOCAL_TS_RE = f"^{_DATE}[T ]{_TIME}$"
_OFFSET_TS_RE = f"^{_DATE}[T ]{_TIME}(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)$"
#: decimal(18, 2), what ingest lands and staging casts to: anything larger cannot be held.
_DECIMAL_TOP = Decimal("9999999999999999.99")
_TRUE = pa.array(["true", "1", "yes", "y"])
_FALSE = pa.array(["false", "0", "no", "n"])


class Reasons:
    """Interned reason strings, so rows carry a small integer until a reason is actually needed."""

    def __init__(self) -> None:
        self.text: list[str] = [""]
        self._ids: dict[str, int] = {}

    def id(self, reason: str) -> int:
        rid = self._ids.get(reason)
        if rid is None:
            rid = self._ids[reason] = len(self.text)
            self.text.append(reason)
        return rid


def _bound_text(value) -> str:
    """A bound as the contract wrote it: a day bound of a timestamp reads as the day."""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() in (time(), time.max) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def reason_text(kind: str, label: str, f: Field) -> str:
    """Reason wording (kept stable: it is counted in manifests and read by people)."""
    if kind == "missing":
        return f"missing required field '{label}'"
    if kind == "type":
        return f"bad {f.type} in '{label}'"
    if kind == "min":
        return f"{label}: below min {_bound_text(f.min if f.min is not None else f.earliest)}"
    if kind == "max":
        return f"{label}: above max {_bound_text(f.max if f.max is not None else f.latest)}"
    if kind == "nonzero":
        return f"{label}: zero not allowed"
    if kind == "allowed":
        return f"{label}: not an allowed value"
    if kind == "pattern":
        return f"{label}: does not match pattern"
    raise ValueError(kind)


def _scalar(value, to: pa.DataType) -> pa.Scalar:
    """A contract constant (min, default) as an Arrow scalar of the field's type."""
    if pa.types.is_decimal(to):
        return pa.scalar(Decimal(str(value)), to)
    if pa.types.is_integer(to):
        return pa.scalar(int(value), to)
    if pa.types.is_timestamp(to):
        return pa.scalar(value, pa.timestamp("us")).cast(to)
    return pa.scalar(value).cast(to)


def _np(mask: pa.Array) -> np.ndarray:
    return mask.fill_null(False).to_numpy(zero_copy_only=False)


def _cast_each(arr: pa.Array, to: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    """Cast, and where Arrow rejects the batch find the offending values by bisection (rare path)."""
    try:
        return arr.cast(to), np.zeros(len(arr), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if len(arr) == 1:
            return pa.nulls(1, to), np.ones(1, dtype=bool)
    half = len(arr) // 2
    left, lbad = _cast_each(arr.slice(0, half), to)
    right, rbad = _cast_each(arr.slice(half), to)
    return pa.concat_arrays([left, right]), np.concatenate([lbad, rbad])


def _regex_ok(text: pa.Array, pattern: str) -> np.ndarray:
    return _np(pc.match_substring_regex(text, pattern))


def _local_to_utc(naive: pa.Array, tz: str) -> pa.Array:
    """Local wall time → UTC (naive). Ambiguous (autumn) → first occurrence (summer time); nonexistent
    (spring gap) → read with the offset in force before the gap, as a till whose clock has not yet
    jumped would print it (02:30 → 01:30 UTC in Europe/Amsterdam)."""
    try:
        aware = pc.assume_timezone(naive, tz, ambiguous="earliest", nonexistent="raise")
        return aware.cast(pa.timestamp("us", "UTC")).cast(pa.timestamp("us"))
    except pa.ArrowInvalid:
        pass
    aware = pc.assume_timezone(naive, tz, ambiguous="earliest", nonexistent="earliest")
    utc = aware.cast(pa.timestamp("us", "UTC")).cast(pa.timestamp("us"))
    back = pc.local_timestamp(aware)
    offset = pc.subtract(back, utc)
    gap = pc.not_equal(back, naive)
    return pc.if_else(gap, pc.subtract(naive, offset), utc)


def _parse_unique(f: Field, u: pa.Array, tz: str | None) -> tuple[pa.Array, np.ndarray]:
    """Parse distinct non-null texts → (typed values, null where bad; bad mask)."""
    if f.type == "string":
        return u, np.zeros(len(u), dtype=bool)
    t = pc.utf8_trim_whitespace(u)
    if f.type == "boolean":
        low = pc.utf8_lower(t)
        is_true, is_false = _np(pc.is_in(low, _TRUE)), _np(pc.is_in(low, _FALSE))
        bad = ~(is_true | is_false)
        values = pa.array(np.where(is_true, True, False), pa.bool_())
        return pc.if_else(pa.array(bad), None, values), bad
    regex = {
        "integer": _INT_RE,
        "decimal": _DEC_RE,
        "date": _DATE_RE,
        "timestamp": _LOCAL_TS_RE if f.local_time else _OFFSET_TS_RE,
    }[f.type]
    ok = _regex_ok(t, regex)
    t = pc.if_else(pa.array(ok), t, None)
    if f.type == "integer":
        t = pc.replace_substring_regex(pc.replace_substring_regex(t, r"^\+", ""), r"\.0*$", "")
        values, cast_bad = _cast_each(t, pa.int64())
    elif f.type == "decimal":
        t = pc.replace_substring_regex(t, r"(\.[0-9]{9})[0-9]+$", r"\1")
        wide, cast_bad = _cast_each(t, pa.decimal128(26, 9))
        rounded = pc.round(wide, 2, round_mode="half_towards_infinity")
        # 16 integer digits pass the pattern but can round up to 17, which decimal(18, 2) cannot hold
        top = pa.scalar(_DECIMAL_TOP, rounded.type)
        overflow = _np(pc.greater(pc.abs(rounded), top))
        if overflow.any():
            rounded = pc.if_else(pa.array(overflow), pa.scalar(None, rounded.type), rounded)
            cast_bad = cast_bad | overflow
        values = rounded.cast(pa.decimal128(18, 2))
    elif f.type == "date":
        values, cast_bad = _cast_each(t, pa.date32())
    elif f.local_time:
        naive, cast_bad = _cast_each(t, pa.timestamp("us"))
        values = _local_to_utc(naive, tz)
    else:
        aware, cast_bad = _cast_each(t, pa.timestamp("us", "UTC"))
        values = aware.cast(pa.timestamp("us"))
    return values, ~ok | cast_bad


def _checks(f: Field, u: pa.Array, typed: pa.Array) -> list[tuple[str, np.ndarray]]:
    out = []
    low = f.min if f.type in ("integer", "decimal") else f.earliest
    high = f.max if f.type in ("integer", "decimal") else f.latest
    if low is not None and f.type in ("integer", "decimal", "date", "timestamp"):
        out.append(("min", _np(pc.less(typed, _scalar(low, f.arrow_type)))))
    if high is not None and f.type in ("integer", "decimal", "date", "timestamp"):
        out.append(("max", _np(pc.greater(typed, _scalar(high, f.arrow_type)))))
    if f.nonzero and f.type in ("integer", "decimal"):
        out.append(("nonzero", _np(pc.equal(typed, _scalar(0, f.arrow_type)))))
    if f.allowed is not None:
        out.append(("allowed", ~_np(pc.is_in(u, pa.array(f.allowed)))))
    if f.pattern is not None:
        out.append(("pattern", ~_regex_ok(u, f.pattern)))
    return out


@dataclass
class Coerced:
    """One field of a batch: typed values (null where missing/bad) and per-row problem masks."""

    values: pa.Array
    missing: np.ndarray
    problems: list[tuple[str, np.ndarray]]  # (kind, row mask) in priority order; only kinds that occur

    def any_bad(self) -> np.ndarray | None:
        if not self.problems:
            return None
        return np.logical_or.reduce([m for _, m in self.problems])


def coerce(f: Field, s: pa.Array, nonscalar: np.ndarray | None, tz: str | None) -> Coerced:
    """Type one string column and find its problems; parsing works on distinct values only."""
    n = len(s)
    valid = _np(s.is_valid())
    missing = ~valid if nonscalar is None else ~valid & ~nonscalar
    plain_string = f.type == "string" and f.allowed is None and f.pattern is None
    problems: list[tuple[str, np.ndarray]] = []
    if nonscalar is not None and nonscalar.any():
        problems.append(("type", nonscalar))
    if plain_string or not valid.any():
        values = s if f.type == "string" else pa.nulls(n, f.arrow_type)
    else:
        enc = s.dictionary_encode()
        uniq = enc.dictionary
        idx = enc.indices.fill_null(0).to_numpy(zero_copy_only=False)
        typed_u, bad_u = _parse_unique(f, uniq, tz)
        values = typed_u.take(enc.indices)
        if bad_u.any():
            mask = bad_u[idx] & valid
            problems = [("type", mask | problems[0][1])] if problems else [("type", mask)]
        for kind, mask_u in _checks(f, uniq, typed_u):
            mask_u = mask_u & ~bad_u
            if mask_u.any():
                problems.append((kind, mask_u[idx] & valid))
    if f.default is not None:
        values = values.fill_null(_scalar(f.default, f.arrow_type))
    return Coerced(values=values, missing=missing, problems=problems)


def _null_where(values: pa.Array, mask: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(mask), pa.nulls(1, values.type)[0], values)


def _flags_column(n: int, flagged: list[tuple[str, np.ndarray]]) -> pa.Array:
    """Comma-separated names of nulled optional fields; built in Python only for flagged rows."""
    if not flagged:
        return pa.nulls(n, pa.string())
    any_flag = np.logical_or.reduce([m for _, m in flagged])
    out = np.full(n, None, dtype=object)
    for i in np.flatnonzero(any_flag):
        out[i] = ",".join(name for name, m in flagged if m[i])
    return pa.array(out, pa.string())


@dataclass
class Validated:
    """Result for one batch: landed table(s), quarantined rows, counts."""

    landed: pa.Table
    quarantine: pa.Table
    landed_spans: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # lines per row
    reasons: Counter = field(default_factory=Counter)
    flagged: Counter = field(default_factory=Counter)
    children: dict[str, tuple[pa.Table, Counter]] = field(default_factory=dict)


def _typed_fields(
    fields: tuple[Field, ...],
    columns: dict[str, pa.Array],
    nonscalar: dict[str, np.ndarray],
    tz: str | None,
    n: int,
    reasons: Reasons,
    reason_id: np.ndarray,
    label=lambda f: f.name,
) -> tuple[dict[str, pa.Array], list[tuple[str, np.ndarray]]]:
    """Coerce every field; required problems set ``reason_id`` (first wins), optional ones are nulled."""
    values: dict[str, pa.Array] = {}
    flagged: list[tuple[str, np.ndarray]] = []
    for f in fields:
        column = columns.get(f.name)
        if column is None:  # an optional column the CSV header does not have: null, as if empty
            column = pa.nulls(n, pa.string())
        c = coerce(f, column, nonscalar.get(f.name), tz)
        if f.required:
            checks = [("missing", c.missing), *c.problems]
            for kind, mask in checks:
                hit = mask & (reason_id == 0)
                if hit.any():
                    reason_id[hit] = reasons.id(reason_text(kind, label(f), f))
            values[f.name] = c.values
        else:
            bad = c.any_bad()
            if bad is not None:
                values[f.name] = _null_where(c.values, bad)
                flagged.append((f.name, bad))
            else:
                values[f.name] = c.values
    return values, flagged


def _meta(
    table_cols: dict, schema: pa.Schema, source_file: str, lines: np.ndarray, flags: pa.Array
) -> pa.Table:
    n = len(lines)
    table_cols["_source_file"] = pa.repeat(pa.scalar(source_file, pa.string()), n)
    table_cols["_source_line"] = pa.array(lines, pa.int64())
    table_cols["_flags"] = flags
    return pa.table([table_cols[f.name] for f in schema], schema=schema)


def _csv_raw(columns: dict[str, pa.Array], rows: np.ndarray) -> list[str]:
    """Rebuild the CSV text of quarantined rows (quoting as needed); only they need it."""
    take = pa.array(rows, pa.int64())
    cols = [columns[name].take(take).to_pylist() for name in columns]
    out = []
    for values in zip(*cols, strict=True):
        parts = []
        for v in values:
            v = "" if v is None else v
            if any(ch in v for ch in ',"\n\r'):
                v = '"' + v.replace('"', '""') + '"'
            parts.append(v)
        out.append(",".join(parts))
    return out


def _child_problems(
    child: Child, cb: ChildBatch, tz: str | None, list_field: Field
) -> tuple[dict[str, pa.Array], list[tuple[str, np.ndarray]], dict[int, tuple[int, str]]]:
    """Type child rows; return values, flags and per-parent (position, reason) of the first bad item."""
    n = len(cb.parent)
    local = Reasons()
    rid = np.zeros(n, dtype=np.int32)
    values, flagged = _typed_fields(
        child.fields,
        cb.columns,
        cb.nonscalar,
        tz,
        n,
        local,
        rid,
        label=lambda f: f"{list_field.name}[#].{f.name}",
    )
    first: dict[int, tuple[int, str]] = {}
    for i in np.flatnonzero(rid):
        p, pos = int(cb.parent[i]), int(cb.position[i])
        if p not in first or pos < first[p][0]:
            first[p] = (pos, local.text[rid[i]].replace("#", str(pos), 1))
    for p, pos in cb.not_object:
        if p not in first or pos < first[p][0]:
            first[p] = (pos, f"{list_field.name}[{pos}]: not an object")
    return values, flagged, first


def validate(
    entity: Entity, batch: RawBatch, source_file: str, tz: str | None, reasons: Reasons
) -> Validated:
    """Split a raw batch into landed rows (typed, flagged) and quarantined rows (with reason and raw)."""
    n = len(batch)
    reason_id = np.zeros(n, dtype=np.int32)
    child_state = {}
    values: dict[str, pa.Array] = {}
    flagged: list[tuple[str, np.ndarray]] = []
    for f in entity.fields:
        if f.type != "list":
            v, fl = _typed_fields((f,), batch.columns, batch.nonscalar, tz, n, reasons, reason_id)
            values.update(v)
            flagged += fl
            continue
        child = entity.child_for(f.name)
        cb = batch.children[f.name]
        n_items = cb.n_items
        checks = [("missing", n_items == -1), ("type", n_items == -2)]
        if f.min_items is not None:
            checks.append(("min_items", (n_items >= 0) & (n_items < f.min_items)))
        for kind, mask in checks:
            if kind == "missing" and not f.required:
                continue
            hit = mask & (reason_id == 0)
            if hit.any():
                text = (
                    f"{f.name}: fewer than {f.min_items} items"
                    if kind == "min_items"
                    else reason_text(kind, f.name, f)
                )
                reason_id[hit] = reasons.id(text)
        cvalues, cflagged, first = _child_problems(child, cb, tz, f)
        for p, (_, text) in sorted(first.items()):
            if reason_id[p] == 0:
                reason_id[p] = reasons.id(text)
        child_state[child.name] = (child, cb, cvalues, cflagged)

    quarantined = reason_id > 0
    keep = ~quarantined
    keep_idx = pa.array(np.flatnonzero(keep), pa.int64())
    all_kept = bool(keep.all())
    cols = {name: (arr if all_kept else arr.take(keep_idx)) for name, arr in values.items()}
    kept_flags = [(name, m[keep]) for name, m in flagged if m[keep].any()]
    landed = _meta(
        cols, entity.schema(), source_file, batch.lines[keep], _flags_column(int(keep.sum()), kept_flags)
    )
    flag_counts = Counter({name: int(m.sum()) for name, m in kept_flags})

    # Quarantine: rows failing the contract, then what could not be read as a row, in line order.
    spans = batch.row_spans
    q_rows = np.flatnonzero(quarantined)
    q_reasons = [reasons.text[i] for i in reason_id[q_rows]]
    if batch.raw is not None:
        q_raw = batch.raw.take(pa.array(q_rows, pa.int64())).to_pylist()
    elif batch.record_text is not None:
        q_raw = batch.record_text(q_rows)
    else:
        q_raw = _csv_raw(batch.columns, q_rows)
    q_lines = batch.lines[q_rows].tolist()
    q_ends = (batch.lines[q_rows] + spans[q_rows] - 1).tolist()
    for item in batch.unparseable:
        q_lines.append(item.line)
        q_ends.append(item.line_end)
        q_reasons.append(item.reason or UNPARSEABLE)
        q_raw.append(item.text)
    order = np.argsort(np.asarray(q_lines, dtype=np.int64), kind="stable")
    quarantine = pa.table(
        {
            "_source_file": pa.array([source_file] * len(q_lines), pa.string()),
            "_source_line": pa.array(np.asarray(q_lines, dtype=np.int64)[order], pa.int64()),
            "_source_line_end": pa.array(np.asarray(q_ends, dtype=np.int64)[order], pa.int64()),
            "_reason": pa.array([q_reasons[i] for i in order], pa.string()),
            "_raw": pa.array([q_raw[i] for i in order], pa.string()),
        },
        schema=QUARANTINE_SCHEMA,
    )
    result = Validated(
        landed=landed,
        quarantine=quarantine,
        landed_spans=spans[keep],
        reasons=Counter(q_reasons),
        flagged=flag_counts,
    )

    for name, (child, cb, cvalues, cflagged) in child_state.items():
        ckeep = keep[cb.parent] if len(cb.parent) else np.zeros(0, dtype=bool)
        ckeep_idx = pa.array(np.flatnonzero(ckeep), pa.int64())
        parents = pa.array(cb.parent[ckeep], pa.int64())
        ccols = {pk.name: values[pk.name].take(parents) for pk in child.parent_key}
        ccols["line_no"] = pa.array(cb.position[ckeep], pa.int64())
        ccols.update({k: v.take(ckeep_idx) for k, v in cvalues.items()})
        kf = [(fname, m[ckeep]) for fname, m in cflagged if m[ckeep].any()]
        table = _meta(
            ccols,
            child.schema(),
            source_file,
            batch.lines[cb.parent[ckeep]],
            _flags_column(int(ckeep.sum()), kf),
        )
        result.children[name] = (table, Counter({fname: int(m.sum()) for fname, m in kf}))
    return result
