"""Streaming readers: turn a drop file into batches of *string* columns plus line numbers.

Every value is kept as text (null when empty or absent) so CSV and JSONL share one vectorised
validation/typing step (``ingest.validate``). Lines that cannot be parsed at all are handed back
separately, with their line number and text, to be quarantined as ``unparseable line``.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from .contract import Entity, Field

#: Bytes of CSV handed to the parser at a time; bounds memory (a few times this) independent of file size.
CSV_CHUNK_BYTES = 32 << 20
#: JSON lines parsed per batch.
JSONL_BATCH_LINES = 50_000
_HASH_CHUNK = 8 << 20


@dataclass
class ChildBatch:
    """Rows of a nested list (e.g. order lines), aligned to the parent batch by ``parent``."""

    parent: np.ndarray  # int64 index into the parent batch
    position: np.ndarray  # int64, 1-based position in the list
    columns: dict[str, pa.Array]
    nonscalar: dict[str, np.ndarray]
    n_items: np.ndarray  # per parent: number of items, -1 missing/null, -2 not a list
    not_object: list[tuple[int, int]]  # (parent index, position) of items that are not objects


@dataclass
class RawBatch:
    """One batch of parsed rows: string columns by field name, 1-based data line numbers."""

    columns: dict[str, pa.Array]
    lines: np.ndarray
    raw: pa.Array | None = None  # raw line text (JSONL); CSV rebuilds it only for quarantined rows
    nonscalar: dict[str, np.ndarray] = field(default_factory=dict)  # JSON object/array where a scalar was due
    unparseable: list[tuple[int, str]] = field(default_factory=list)
    children: dict[str, ChildBatch] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.lines)


@dataclass(frozen=True)
class FileInfo:
    sha256: str
    bytes: int
    header: tuple[str, ...] | None  # CSV only


class FileProblem(Exception):
    """What is wrong with a file, in words safe to log (no content)."""


def inspect_file(path: Path, fmt: str) -> FileInfo:
    """Check a file is there, non-empty and UTF-8 throughout, and hash it, before anything is landed.

    Checking the whole file up front means a bad last file stops the load before any entity is written.
    """
    if not path.exists():
        raise FileProblem("file is missing")
    if not path.is_file():
        raise FileProblem("not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise FileProblem("file is empty (0 bytes)")
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_HASH_CHUNK):
                digest.update(chunk)
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    raise FileProblem(f"not valid UTF-8 (byte offset {offset + exc.start})") from None
                offset += len(chunk)
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise FileProblem("not valid UTF-8 (truncated character at end of file)") from None
    except OSError as exc:
        raise FileProblem(f"cannot be read ({type(exc).__name__}: {exc.strerror})") from None
    header = _csv_header(path) if fmt == "csv" else None
    return FileInfo(sha256=digest.hexdigest(), bytes=size, header=header)


def _csv_header(path: Path) -> tuple[str, ...]:
    with path.open("rb") as fh:
        first = fh.readline()
    text = first.decode("utf-8-sig").rstrip("\r\n")
    if not text.strip():
        raise FileProblem("first line is blank; expected the CSV header")
    return tuple(next(csv.reader([text])))


def check_header(header: tuple[str, ...], entity: Entity) -> None:
    """The header must name exactly the contract's fields (any order)."""
    expected = [f.name for f in entity.fields]
    missing = [n for n in expected if n not in header]
    unexpected = [n for n in header if n not in expected]
    dupes = sorted({n for n in header if header.count(n) > 1})
    problems = []
    if missing:
        problems.append(f"missing columns {missing}")
    if unexpected:
        problems.append(f"unexpected columns {unexpected}")
    if dupes:
        problems.append(f"duplicate columns {dupes}")
    if problems:
        raise FileProblem("CSV header does not match the contract: " + "; ".join(problems))


# --------------------------------------------------------------------------------------------- CSV


def _csv_chunks(path: Path) -> Iterator[tuple[bytes, int]]:
    """Yield (chunk, first physical line number) cut at record boundaries (outside quotes)."""
    with path.open("rb") as fh:
        header = fh.readline()
        line = 2 if header.endswith(b"\n") else 1
        carry = b""
        while True:
            data = fh.read(CSV_CHUNK_BYTES)
            buf = carry + data if carry else data
            if not data:
                if buf.strip():
                    yield (buf if buf.endswith(b"\n") else buf + b"\n"), line
                return
            pos = buf.rfind(b"\n")
            # A newline ends a record only if it is outside quotes: even number of quote chars before it.
            while pos >= 0 and buf.count(b'"', 0, pos) % 2:
                pos = buf.rfind(b"\n", 0, pos)
            if pos < 0:
                carry = buf
                continue
            chunk, carry = buf[: pos + 1], buf[pos + 1 :]
            yield chunk, line
            line += chunk.count(b"\n")


def _record_lines(chunk: bytes, first_line: int, ncols: int) -> tuple[list[int], list[tuple[int, str]]]:
    """Slow exact path: start line of each well-formed record and (line, text) of malformed ones."""
    text = chunk.decode("utf-8")
    physical: list[str] | None = None
    good: list[int] = []
    bad: list[tuple[int, str]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    consumed = 0
    for record in reader:
        start, consumed = consumed, reader.line_num
        if not record:
            continue
        if len(record) == ncols:
            good.append(first_line + start)
        else:
            if physical is None:
                physical = text.split("\n")
            raw = "\n".join(s.rstrip("\r") for s in physical[start:consumed])
            bad.append((first_line + start, raw))
    return good, bad


def read_csv(path: Path, entity: Entity, header: tuple[str, ...]) -> Iterator[RawBatch]:
    """Stream a CSV drop as string batches; rows with the wrong column count come back unparseable.

    ``lines`` are physical line numbers minus the header line, i.e. 1-based data line numbers.
    The fast path assumes one record per line; a chunk with a malformed row, a blank line or a quoted
    newline is re-scanned with the ``csv`` module to get exact line numbers.
    """
    names = list(header)
    read_opts = pcsv.ReadOptions(column_names=names, use_threads=True, block_size=4 << 20)
    conv = pcsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()),
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        null_values=[""],
    )
    for chunk, first_line in _csv_chunks(path):
        invalid: list[str] = []

        def handler(row, invalid=invalid):
            invalid.append(row.text)
            return "skip"

        parse = pcsv.ParseOptions(newlines_in_values=True, invalid_row_handler=handler)
        table = pcsv.read_csv(
            pa.py_buffer(chunk), read_options=read_opts, parse_options=parse, convert_options=conv
        )
        n = table.num_rows
        if not invalid and chunk.count(b"\n") == n:
            lines = np.arange(first_line - 1, first_line - 1 + n, dtype=np.int64)
            unparseable = []
        else:
            good, bad = _record_lines(chunk, first_line, len(names))
            if len(good) != n or len(bad) != len(invalid):
                last = first_line - 2 + chunk.count(b"\n")
                raise FileProblem(
                    f"CSV parsers disagree on the records between data lines {first_line - 1} and {last}; "
                    "check quoting there"
                )
            lines = np.asarray(good, dtype=np.int64) - 1
            unparseable = [(ln - 1, txt) for ln, txt in bad]
        columns = {name: table.column(name).combine_chunks() for name in names}
        yield RawBatch(columns=columns, lines=lines, unparseable=unparseable)


# -------------------------------------------------------------------------------------------- JSONL


def _to_text(value) -> tuple[str | None, bool]:
    """A JSON scalar as text for the shared string-based validation; (None, True) for objects/arrays."""
    if value is None:
        return None, False
    if isinstance(value, str):
        return (value or None), False
    if isinstance(value, bool):
        return ("true" if value else "false"), False
    if isinstance(value, int):
        return str(value), False
    if isinstance(value, float):
        text = repr(value)
        if "e" in text or "E" in text:
            text = format(Decimal(text), "f")
        return text, False
    return None, True


_MISSING = object()


def _get(obj: dict, path: tuple[str, ...]):
    """Value at a dotted path; _MISSING when absent, ``(bad,)`` when a parent on the path is not an object."""
    value = obj
    for part in path:
        if value is None:
            return None
        if not isinstance(value, dict):
            return _BAD_PARENT
        value = value.get(part, _MISSING)
        if value is _MISSING:
            return None
    return value


_BAD_PARENT = object()


class _Columns:
    """Accumulates text values per field plus a mask of non-scalar values."""

    def __init__(self, fields: tuple[Field, ...]):
        self.fields = fields
        self.values: dict[str, list] = {f.name: [] for f in fields}
        self.bad: dict[str, list[int]] = {f.name: [] for f in fields}
        self.n = 0

        # (key for a top-level field or None, path, value list, bad list): hot loop, keep lookups local
        self._plan = [
            (f.path[0] if len(f.path) == 1 else None, f.path, self.values[f.name], self.bad[f.name])
            for f in fields
        ]

    def add(self, obj: dict) -> None:
        i = self.n
        for key, path, values, bad in self._plan:
            value = obj.get(key) if key is not None else _get(obj, path)
            if value.__class__ is str:
                values.append(value or None)
                continue
            if value is _BAD_PARENT:
                text, nonscalar = None, True
            else:
                text, nonscalar = _to_text(value)
            values.append(text)
            if nonscalar:
                bad.append(i)
        self.n += 1

    def arrays(self) -> tuple[dict[str, pa.Array], dict[str, np.ndarray]]:
        cols = {name: pa.array(vals, pa.string()) for name, vals in self.values.items()}
        masks = {}
        for name, idx in self.bad.items():
            if idx:
                mask = np.zeros(self.n, dtype=bool)
                mask[idx] = True
                masks[name] = mask
        return cols, masks


def read_jsonl(path: Path, entity: Entity) -> Iterator[RawBatch]:
    """Stream a JSON-lines drop in batches; a line that is not a JSON object comes back unparseable.

    Blank lines are not rows (not counted) but still advance the line number.
    """
    scalar = entity.scalar_fields
    lists = [f for f in entity.fields if f.type == "list"]
    with path.open("rb") as fh:
        line_no = 0
        done = False
        while not done:
            cols = _Columns(scalar)
            kids = {f.name: _ChildAcc(c.fields) for f in lists if (c := entity.child_for(f.name))}
            lines: list[int] = []
            raws: list[str] = []
            unparseable: list[tuple[int, str]] = []
            while len(lines) + len(unparseable) < JSONL_BATCH_LINES:
                raw_line = fh.readline()
                if not raw_line:
                    done = True
                    break
                line_no += 1
                text = raw_line.decode("utf-8")
                if line_no == 1:
                    text = text.removeprefix("\ufeff")
                text = text.rstrip("\r\n")
                if not text.strip():
                    continue
                try:
                    obj = json.loads(text)
                except ValueError:
                    obj = None
                if not isinstance(obj, dict):
                    unparseable.append((line_no, text))
                    continue
                cols.add(obj)
                for name, acc in kids.items():
                    acc.add(len(lines), obj.get(name, None))
                lines.append(line_no)
                raws.append(text)
            if not lines and not unparseable:
                continue
            columns, nonscalar = cols.arrays()
            yield RawBatch(
                columns=columns,
                lines=np.asarray(lines, dtype=np.int64),
                raw=pa.array(raws, pa.string()),
                nonscalar=nonscalar,
                unparseable=unparseable,
                children={name: acc.batch(len(lines)) for name, acc in kids.items()},
            )


class _ChildAcc:
    def __init__(self, fields: tuple[Field, ...]):
        self.cols = _Columns(fields)
        self.parent: list[int] = []
        self.position: list[int] = []
        self.n_items: list[int] = []
        self.not_object: list[tuple[int, int]] = []

    def add(self, parent: int, value) -> None:
        if value is None:
            self.n_items.append(-1)
            return
        if not isinstance(value, list):
            self.n_items.append(-2)
            return
        self.n_items.append(len(value))
        for pos, item in enumerate(value, start=1):
            if isinstance(item, dict):
                self.cols.add(item)
                self.parent.append(parent)
                self.position.append(pos)
            else:
                self.not_object.append((parent, pos))

    def batch(self, n_parents: int) -> ChildBatch:
        columns, nonscalar = self.cols.arrays()
        return ChildBatch(
            parent=np.asarray(self.parent, dtype=np.int64),
            position=np.asarray(self.position, dtype=np.int64),
            columns=columns,
            nonscalar=nonscalar,
            n_items=np.asarray(self.n_items, dtype=np.int64),
            not_object=self.not_object,
        )
