"""Streaming readers: turn a drop file into batches of *string* columns plus line numbers.

Every value is kept as text (null when empty or absent) so CSV and JSONL share one vectorised
validation/typing step (``ingest.validate``). What cannot be read as a row (a line that is not a
record, a runaway quote, a field over the contract's size limit, broken unicode, JSON nested too deep)
is handed back separately with its first and last physical line and a reason, to be quarantined; one
hostile line never stops the source.

CSV is split into records by this module (``_scan``), not by the parser, so that a piece handed to
pyarrow always ends at a record boundary and every record's physical lines are known: reconciliation
then counts what the file holds (lines as well as records), and a merged or cut record cannot hide.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from .contract import Entity, Field, Limits

#: Bytes of CSV scanned and handed to the parser at a time; bounds memory (a few times this, plus one
#: record) independent of file size.
CSV_CHUNK_BYTES = 32 << 20
#: JSON lines parsed per batch.
JSONL_BATCH_LINES = 50_000
_HASH_CHUNK = 8 << 20
#: Reasons given by the readers (``ingest.validate`` adds the contract ones).
UNPARSEABLE = "unparseable line"
NESTED_TOO_DEEP = "unparseable line (nested too deep)"
LONE_SURROGATE = "invalid unicode (lone surrogate)"
NUL_BYTE = "NUL byte in line"

_NL, _CR, _QUOTE, _COMMA, _NUL = 10, 13, 34, 44, 0


def runaway_reason(limits: Limits) -> str:
    return f"quoted field runs over more than {limits.max_record_lines} lines (unbalanced quote)"


def long_field_reason(limits: Limits) -> str:
    return f"field longer than {limits.max_field_bytes} bytes"


@dataclass
class ChildBatch:
    """Rows of a nested list (e.g. order lines), aligned to the parent batch by ``parent``."""

    parent: np.ndarray  # int64 index into the parent batch
    position: np.ndarray  # int64, 1-based position in the list
    columns: dict[str, pa.Array]
    nonscalar: dict[str, np.ndarray]
    n_items: np.ndarray  # per parent: number of items, -1 missing/null, -2 not a list
    not_object: list[tuple[int, int]]  # (parent index, position) of items that are not objects


@dataclass(frozen=True)
class Unreadable:
    """A piece of the file that is not a row: first and last data line, reason, raw text."""

    line: int
    line_end: int
    reason: str
    text: str


@dataclass
class RawBatch:
    """One batch of parsed rows: string columns by field name, 1-based data line numbers.

    ``spans``: physical lines each row covers (a quoted newline makes a CSV record span lines).
    ``blank``: blank lines met in this part of the file (not rows, but lines the file holds).
    """

    columns: dict[str, pa.Array]
    lines: np.ndarray
    raw: pa.Array | None = None  # raw line text (JSONL)
    nonscalar: dict[str, np.ndarray] = field(default_factory=dict)  # JSON object/array where a scalar was due
    unparseable: list[Unreadable] = field(default_factory=list)
    children: dict[str, ChildBatch] = field(default_factory=dict)
    spans: np.ndarray | None = None
    blank: int = 0
    record_text: Callable[[np.ndarray], list[str]] | None = None  # CSV: exact text of rows by index

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def row_spans(self) -> np.ndarray:
        return np.ones(len(self.lines), dtype=np.int64) if self.spans is None else self.spans


@dataclass(frozen=True)
class FileInfo:
    sha256: str
    bytes: int
    lines: int  # physical lines, counted from the bytes (newlines, plus an unterminated last line)
    header: tuple[str, ...] | None  # CSV only
    encoding: str = "utf-8"


@dataclass(frozen=True)
class HeaderPlan:
    """How a CSV header maps onto the contract: tolerated drift is recorded, not fatal."""

    columns: tuple[str, ...]  # the header as sent
    missing_optional: tuple[str, ...]
    extra: tuple[str, ...]


class FileProblem(Exception):
    """What is wrong with a file, in words safe to log (no content)."""


def inspect_file(path: Path, fmt: str, encoding: str = "utf-8") -> FileInfo:
    """Check a file is there, non-empty and decodes in its declared encoding throughout, hash it and
    count its lines, before anything is landed.

    Checking the whole file up front means a bad last file stops the load before any entity is written.
    A file that does not decode is refused whole (not line by line): it is almost always exported in
    another encoding than configured, and landing only its ASCII lines would silently drop every
    customer with an accented or Chinese name.
    """
    if not path.exists():
        raise FileProblem("file is missing")
    if not path.is_file():
        raise FileProblem("not a regular file")
    size = path.stat().st_size
    if size == 0 and fmt == "csv":  # JSON lines with no record is a night without changes: 0 bytes
        raise FileProblem("file is empty (0 bytes; a CSV drop has at least its header row)")
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(encoding)()
    newlines = 0
    last = b""
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_HASH_CHUNK):
                digest.update(chunk)
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    at = max(exc.start - pending, 0)
                    line = newlines + chunk.count(b"\n", 0, at) + 1
                    raise FileProblem(f"not valid {encoding.upper()} (line {line})") from None
                newlines += chunk.count(b"\n")
                last = chunk[-1:]
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise FileProblem(
                    f"not valid {encoding.upper()} (truncated character at end of file)"
                ) from None
    except OSError as exc:
        raise FileProblem(f"cannot be read ({type(exc).__name__}: {exc.strerror})") from None
    lines = newlines + (0 if last in (b"\n", b"") else 1)  # b"": an empty file holds no line
    header = _csv_header(path, encoding) if fmt == "csv" else None
    return FileInfo(sha256=digest.hexdigest(), bytes=size, lines=lines, header=header, encoding=encoding)


def _csv_header(path: Path, encoding: str) -> tuple[str, ...]:
    with path.open("rb") as fh:
        first = fh.readline(1 << 20)
    text = first.decode(encoding).removeprefix("\ufeff").rstrip("\r\n")
    if not text.strip():
        raise FileProblem("first line is blank; expected the CSV header")
    return tuple(next(csv.reader([text])))


def _name(column: str) -> str:
    """A header name fit for logs and manifests (a headerless file's first row is data)."""
    return column if len(column) <= 64 else column[:61] + "..."


def check_header(header: tuple[str, ...], entity: Entity) -> HeaderPlan:
    """A CSV header must name every required field once; optional fields may be absent (landed null),
    unknown columns are ignored and reported. Anything else refuses the file in one line."""
    dupes = sorted({n for n in header if header.count(n) > 1})
    if dupes:
        raise FileProblem(f"CSV header repeats column(s) {', '.join(repr(_name(n)) for n in dupes)}")
    lacking = [f.name for f in entity.scalar_fields if f.required and f.name not in header]
    if lacking:
        raise FileProblem(f"CSV header lacks required column(s) {', '.join(repr(n) for n in lacking)}")
    known = {f.name for f in entity.fields}
    return HeaderPlan(
        columns=header,
        missing_optional=tuple(f.name for f in entity.scalar_fields if f.name not in header),
        extra=tuple(_name(n) for n in header if n not in known),
    )


# --------------------------------------------------------------------------------------------- CSV


@dataclass
class _Records:
    """Records of one piece (UTF-8 bytes) of a CSV file, as offsets into the piece."""

    start: np.ndarray  # first byte
    end: np.ndarray  # end of the text, line terminator excluded
    line: np.ndarray  # first physical line (of the file)
    span: np.ndarray  # physical lines covered
    bad: list[tuple[int, str]]  # (record index, reason) of records that are not rows
    blank: int
    opens: np.ndarray  # quoted fields (opening and closing quote positions), for counting fields
    closes: np.ndarray

    def field_counts(self, a: np.ndarray, cut: int) -> np.ndarray:
        """Fields per record: commas outside quotes, plus one. Only needed when the parser finds a
        record with the wrong number of columns, so it is not computed for every piece."""
        c = np.flatnonzero(a[:cut] == _COMMA)
        commas = np.searchsorted(c, self.end) - np.searchsorted(c, self.start)
        if len(self.opens):
            quoted = np.searchsorted(c, self.closes) - np.searchsorted(c, self.opens)
            owner = np.searchsorted(self.end, self.opens)
            commas = commas - np.bincount(owner, weights=quoted, minlength=len(self.end))[: len(self.end)]
        return commas.astype(np.int64) + 1


def _inside(x: np.ndarray, opens: np.ndarray, closes: np.ndarray) -> np.ndarray:
    """True where a position lies inside a quoted field (between an opening and its closing quote)."""
    if not len(opens) or not len(x):
        return np.zeros(len(x), dtype=bool)
    i = np.searchsorted(opens, x, side="right") - 1
    return (i >= 0) & (x < closes[np.maximum(i, 0)])


def _quotes_well_formed(a: np.ndarray, q: np.ndarray) -> bool:
    """Vectorised check that quote parity alone gives the quoting (the common, fast case): every opening
    quote starts a field and every closing one ends it or is doubled. Otherwise (an inch mark ``12"``
    in an unquoted field, text after a closing quote) the quotes are walked one by one."""
    if len(q) % 2:
        return False
    last = len(a) - 1
    prev = np.where(q > 0, a[np.maximum(q - 1, 0)], _NL)
    nxt = a[np.minimum(q + 1, last)]
    nxt2 = a[np.minimum(q + 2, last)]
    adjacent = np.zeros(len(q), dtype=bool)
    adjacent[1:] = q[1:] == q[:-1] + 1
    opening_ok = (prev == _COMMA) | (prev == _NL) | adjacent
    closing_ok = (nxt == _COMMA) | (nxt == _NL) | (nxt == _QUOTE) | ((nxt == _CR) & (nxt2 == _NL))
    odd = (np.arange(len(q)) % 2) == 1
    return bool(np.where(odd, closing_ok, opening_ok).all())


def _walk_quotes(
    a: np.ndarray, q: np.ndarray, nl: np.ndarray, max_lines: int, final: bool
) -> tuple[np.ndarray, np.ndarray, list[int], int | None]:
    """Quote state the way RFC 4180 readers leniently apply it (pyarrow and Python's ``csv`` alike): a
    quote opens a quoted field only at the start of a field, ``""`` inside is a literal quote, any other
    quote is literal. A quoted field that would make its record span more than ``max_lines`` lines is
    taken for a stray quote: the lines from the record's start to that quote are given up (one bad
    record) and reading starts afresh on the next line, so the lines after it are not swallowed.

    Returns (opens, closes, first line index of each given-up record, cut): ``cut`` is where an
    unfinished record starts when more of the file is needed to finish it, else None.
    """
    n_lines = len(nl)
    prev = a[np.maximum(q - 1, 0)]
    at_field_start = ((prev == _COMMA) | (prev == _NL) | (q == 0)).tolist()
    qline = np.searchsorted(nl, q).tolist()  # line index (into nl) of each quote
    qpos = q.tolist()
    opens: list[int] = []
    closes: list[int] = []
    runaways: list[int] = []
    record_line = 0  # line index where the record being read started
    last_line = -1  # line of the last position known to be outside quotes
    i, nq = 0, len(qpos)
    while i < nq:
        ln = qline[i]
        if ln > last_line:  # newlines outside quotes were passed: the record started on this line
            record_line = ln
        if not at_field_start[i]:
            last_line = ln  # a literal quote
            i += 1
            continue
        limit = record_line + max_lines - 1  # the record must end on this line at the latest
        j = i + 1
        while j < nq and qline[j] <= limit:
            if j + 1 < nq and qpos[j + 1] == qpos[j] + 1:
                j += 2  # "" inside a quoted field
                continue
            break
        if j < nq and qline[j] <= limit:
            opens.append(qpos[i])
            closes.append(qpos[j])
            last_line = qline[j]
            i = j + 1
            continue
        if not final and j >= nq and limit >= n_lines:
            cut = 0 if record_line == 0 else int(nl[record_line - 1]) + 1
            return np.asarray(opens, np.int64), np.asarray(closes, np.int64), runaways, cut
        runaways.append(record_line)
        last_line = ln  # reading starts afresh on the next line
        i = int(np.searchsorted(q, nl[ln], side="right")) if ln < n_lines else nq
    return np.asarray(opens, np.int64), np.asarray(closes, np.int64), runaways, None


def _quoting(
    a: np.ndarray, q: np.ndarray, nl: np.ndarray, max_lines: int, final: bool
) -> tuple[np.ndarray, np.ndarray, list[int], int]:
    """Quoted fields of a piece (opening and closing quote positions), the records given up for a
    runaway quote, and the cut (bytes of the piece that hold complete records). Quote parity when the
    quotes are well formed (vectorised), else the walk."""
    size = len(a)
    if not len(q):
        cut = size if final else (int(nl[-1]) + 1 if len(nl) else 0)
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, [], cut
    parity = np.searchsorted(q, nl) & 1  # quotes before each newline, odd = inside a quoted field
    even = np.flatnonzero(parity == 0)
    if final:
        usable = len(even) > 0 and even[-1] == len(nl) - 1
    else:
        usable = len(even) > 0 and len(nl) - 1 - even[-1] <= max_lines
    if usable:
        region = int(nl[even[-1]]) + 1
        qq = q[q < region]
        if _quotes_well_formed(a[:region], qq):
            spans = np.diff(np.concatenate(([-1], even)))
            if (spans <= max_lines).all():
                return qq[0::2], qq[1::2], [], region
    opens, closes, runaways, cut = _walk_quotes(a, q, nl, max_lines, final)
    if cut is None:
        if final:
            cut = size
        else:
            outside = nl[~_inside(nl, opens, closes)]
            cut = int(outside[-1]) + 1 if len(outside) else 0
    return opens, closes, runaways, cut


def _scan(buf: bytes, first_line: int, limits: Limits, final: bool) -> tuple[_Records, int]:
    """Split a piece into records (never cutting one) and find those that are not rows.

    ``buf`` starts at a record boundary; the final piece ends with a newline. Returns the records and
    the number of bytes consumed (the rest, an unfinished record, belongs to the next piece). Work is
    in numpy over the positions of newlines, quotes and commas, never per byte in Python.
    """
    a = np.frombuffer(buf, dtype=np.uint8)
    nl = np.flatnonzero(a == _NL)
    q = np.flatnonzero(a == _QUOTE)
    opens, closes, runaways, cut = _quoting(a, q, nl, limits.max_record_lines, final)
    line_nl = nl[nl < cut]
    outside = ~_inside(line_nl, opens, closes)
    ends_nl = line_nl[outside]
    end_line_idx = np.flatnonzero(outside)
    nrec = len(ends_nl)
    start = np.zeros(nrec, dtype=np.int64)
    start_line_idx = np.zeros(nrec, dtype=np.int64)
    if nrec:
        start[1:] = ends_nl[:-1] + 1
        start_line_idx[1:] = end_line_idx[:-1] + 1
    end = ends_nl.astype(np.int64)
    nonempty = end > start
    has_cr = np.zeros(nrec, dtype=bool)
    has_cr[nonempty] = a[end[nonempty] - 1] == _CR
    end = end - has_cr
    line = first_line + start_line_idx
    span = end_line_idx - start_line_idx + 1
    blank_mask = end == start
    reasons: dict[int, str] = {}
    inside_cut = opens < cut
    opens, closes = opens[inside_cut], closes[: int(inside_cut.sum())]
    # a carriage return outside quotes that does not end the line splits a record for other readers
    cr = np.flatnonzero(a[:cut] == _CR) if buf.find(b"\r", 0, cut) >= 0 else None
    if cr is not None:
        cr = cr[~_inside(cr, opens, closes)]
        nxt = a[np.minimum(cr + 1, len(a) - 1)]
        for r in np.unique(np.searchsorted(ends_nl, cr[nxt != _NL])):
            reasons.setdefault(int(r), UNPARSEABLE)
    if buf.find(b"\0", 0, cut) >= 0:
        for r in np.unique(np.searchsorted(ends_nl, np.flatnonzero(a[:cut] == _NUL))):
            reasons[int(r)] = NUL_BYTE
    too_long = long_field_reason(limits)
    for r in np.flatnonzero(end - start > limits.max_field_bytes):
        commas = np.flatnonzero(a[start[r] : end[r]] == _COMMA) + start[r]
        commas = commas[~_inside(commas, opens, closes)]
        bounds = np.concatenate(([start[r] - 1], commas, [end[r]]))
        if (np.diff(bounds) - 1).max() > limits.max_field_bytes:
            reasons[int(r)] = too_long
    if runaways:
        runaway = runaway_reason(limits)
        by_start = {int(s): i for i, s in enumerate(start_line_idx)}
        for first in runaways:
            if (r := by_start.get(first)) is not None:
                reasons[r] = runaway
    blank = int(blank_mask.sum())
    if blank:
        keep = ~blank_mask
        index = np.cumsum(keep) - 1
        reasons = {int(index[r]): why for r, why in reasons.items() if keep[r]}
        start, end, line, span = start[keep], end[keep], line[keep], span[keep]
    return _Records(start, end, line, span, sorted(reasons.items()), blank, opens, closes), cut


def _unquote(text: str) -> str:
    """One raw CSV field as lenient RFC 4180 readers read it."""
    if not text.startswith('"'):
        return text
    close = 1
    while True:
        close = text.find('"', close)
        if close < 0:
            return text[1:].replace('""', '"')
        if text.startswith('""', close):
            close += 2
            continue
        return text[1:close].replace('""', '"') + text[close + 1 :]


_FIELD = re.compile(r'"(?:[^"]|"")*"[^,]*|[^,]*')


def _split_fields(text: str) -> list[str]:
    """Fields of one well-formed record (the slow path, used only if pyarrow disagrees)."""
    fields, pos = [], 0
    while True:
        m = _FIELD.match(text, pos)
        fields.append(_unquote(m.group()))
        pos = m.end()
        if pos >= len(text) or text[pos] != ",":
            return fields
        pos += 1


def _utf8_pieces(fh, encoding: str) -> Iterator[bytes]:
    """The rest of the file in blocks of UTF-8, whatever it was written in (newlines, quotes and commas
    are single bytes in UTF-8, GBK/GB18030 and latin-1 alike, so line counts do not change)."""
    if encoding == "utf-8":
        while data := fh.read(CSV_CHUNK_BYTES):
            yield data
        return
    decoder = codecs.getincrementaldecoder(encoding)()
    while data := fh.read(CSV_CHUNK_BYTES):
        yield decoder.decode(data).encode("utf-8")
    yield decoder.decode(b"", final=True).encode("utf-8")


def _text(buf: bytes, start: int, end: int, limit: int | None = None) -> str:
    piece = buf[start:end] if limit is None else buf[start : min(end, start + limit)]
    return piece.decode("utf-8", errors="replace")


def read_csv(
    path: Path, entity: Entity, header: tuple[str, ...], limits: Limits | None = None, encoding: str = "utf-8"
) -> Iterator[RawBatch]:
    """Stream a CSV drop as string batches; records that are not rows come back unparseable.

    ``lines`` are physical line numbers minus the header line, i.e. 1-based data line numbers. The
    file is cut into pieces only at record boundaries found by ``_scan``; each piece's good records go
    to pyarrow, whose row count must match (if it ever does not, the piece is split here instead).
    Memory stays bounded by the piece size: an unfinished record carried to the next piece spans at
    most ``max_record_lines`` lines, and a single line too long to be a record is given up as it streams.
    """
    limits = limits or Limits()
    names = list(header)
    wanted = [f.name for f in entity.scalar_fields if f.name in header]
    ncols = len(names)
    # a record longer than this has a field over the limit whatever its quoting
    record_cap = max(ncols * (limits.max_field_bytes + 3), 1 << 16)
    too_long = long_field_reason(limits)
    conv = pcsv.ConvertOptions(
        column_types=dict.fromkeys(wanted, pa.string()),
        include_columns=wanted,
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        null_values=[""],
    )
    with path.open("rb") as fh:
        head = fh.readline(1 << 20)
        line = 2 if head.endswith(b"\n") else 1  # physical line where the next piece starts
        carry = b""
        skipping: list | None = None  # [first line, text kept] of a line too long to be a record
        pieces = _utf8_pieces(fh, encoding)
        done = False
        while not done:
            data = next(pieces, None)
            done = data is None
            if skipping is not None and data is not None:
                at = data.find(b"\n")
                if at < 0:
                    continue
                data = data[at + 1 :]
                yield _batch_of_unreadable(
                    Unreadable(skipping[0] - 1, skipping[0] - 1, too_long, skipping[1])
                )
                line, skipping = skipping[0] + 1, None
            buf = carry + data if data is not None else carry
            if done:
                if skipping is not None:
                    yield _batch_of_unreadable(
                        Unreadable(skipping[0] - 1, skipping[0] - 1, too_long, skipping[1])
                    )
                    return
                if not buf:
                    return
                if not buf.endswith(b"\n"):
                    buf += b"\n"
            records, cut = _scan(buf, line, limits, final=done)
            if records.start.size or records.blank:
                yield _parse(buf, cut, records, names, wanted, conv, limits)
            line += buf.count(b"\n", 0, cut)
            carry = buf[cut:]
            if len(carry) > record_cap:
                first_nl = carry.find(b"\n")
                if first_nl < 0:  # one giant line: give it up and skip to its end as it streams
                    skipping = [line, _text(carry, 0, len(carry), limits.max_field_bytes)]
                    carry = b""
                else:  # an unfinished record this long holds an over-long field: give up its first line
                    end = first_nl - (1 if carry[first_nl - 1 : first_nl] == b"\r" else 0)
                    yield _batch_of_unreadable(
                        Unreadable(line - 1, line - 1, too_long, _text(carry, 0, end, limits.max_field_bytes))
                    )
                    carry = carry[first_nl + 1 :]
                    line += 1


def _batch_of_unreadable(item: Unreadable) -> RawBatch:
    return RawBatch(columns={}, lines=np.zeros(0, dtype=np.int64), unparseable=[item])


def _parse(
    buf: bytes,
    cut: int,
    rec: _Records,
    names: list[str],
    wanted: list[str],
    conv: pcsv.ConvertOptions,
    limits: Limits,
) -> RawBatch:
    """Parse the good records of one scanned piece with pyarrow; the others become ``Unreadable``.

    Records with the wrong number of fields are looked for only when pyarrow meets one (it then skips
    it and the row count falls short); the piece is then parsed again without them.
    A record with an over-long field keeps only its first ``max_field_bytes`` as raw text: the
    quarantine is for reading what went wrong, not a second copy of a runaway value.
    """
    bad = dict(rec.bad)
    columns, gi = _parse_good(buf, cut, rec, bad, names, wanted, conv)
    if columns is None:
        counts = rec.field_counts(np.frombuffer(buf, dtype=np.uint8), cut)
        for r in np.flatnonzero(counts != len(names)):
            bad.setdefault(int(r), UNPARSEABLE)
        columns, gi = _parse_good(buf, cut, rec, bad, names, wanted, conv)
        if columns is None:
            columns = _python_columns(buf, rec, gi, names, wanted)
    too_long, keep = long_field_reason(limits), limits.max_field_bytes
    unparseable = [
        Unreadable(
            int(rec.line[r]) - 1,
            int(rec.line[r] + rec.span[r]) - 2,
            why,
            _text(buf, int(rec.start[r]), int(rec.end[r]), keep if why == too_long else None),
        )
        for r, why in sorted(bad.items())
    ]
    starts, ends = rec.start[gi], rec.end[gi]

    def record_text(rows: np.ndarray) -> list[str]:
        return [_text(buf, int(starts[i]), int(ends[i])) for i in rows]

    return RawBatch(
        columns=columns,
        lines=rec.line[gi] - 1,
        spans=rec.span[gi],
        unparseable=unparseable,
        blank=rec.blank,
        record_text=record_text,
    )


def _parse_good(
    buf: bytes,
    cut: int,
    rec: _Records,
    bad: dict[int, str],
    names: list[str],
    wanted: list[str],
    conv: pcsv.ConvertOptions,
) -> tuple[dict[str, pa.Array] | None, np.ndarray]:
    """pyarrow on the records not in ``bad``; None if it does not return exactly one row for each."""
    good = np.ones(len(rec.start), dtype=bool)
    if bad:
        good[list(bad)] = False
    gi = np.flatnonzero(good)
    if not len(gi):
        return {name: pa.nulls(0, pa.string()) for name in wanted}, gi
    if not bad:
        body = pa.py_buffer(buf).slice(0, cut)
    else:  # contiguous runs of good records, so most of the piece is sliced, not copied row by row
        runs = np.split(gi, np.flatnonzero(np.diff(gi) != 1) + 1)
        body = pa.py_buffer(b"\n".join(buf[rec.start[run[0]] : rec.end[run[-1]]] for run in runs) + b"\n")
    longest = int((rec.end[gi] - rec.start[gi]).max())
    block = max(4 << 20, 1 << (2 * longest + 2).bit_length())
    return _pyarrow_columns(body, names, wanted, conv, block, len(gi)), gi


def _pyarrow_columns(
    body: pa.Buffer, names: list[str], wanted: list[str], conv: pcsv.ConvertOptions, block: int, n: int
) -> dict[str, pa.Array] | None:
    invalid: list[int] = []

    def handler(row) -> str:
        invalid.append(1)
        return "skip"

    try:
        table = pcsv.read_csv(
            body,
            read_options=pcsv.ReadOptions(column_names=names, use_threads=True, block_size=block),
            parse_options=pcsv.ParseOptions(newlines_in_values=True, invalid_row_handler=handler),
            convert_options=conv,
        )
    except pa.ArrowInvalid:
        return None
    if invalid or table.num_rows != n:
        return None
    return {name: table.column(name).combine_chunks() for name in wanted}


def _python_columns(
    buf: bytes, rec: _Records, gi: np.ndarray, names: list[str], wanted: list[str]
) -> dict[str, pa.Array]:
    """Exact but slow: split each good record here (only if pyarrow and ``_scan`` ever disagree)."""
    index = [names.index(w) for w in wanted]
    values: list[list[str | None]] = [[] for _ in wanted]
    for r in gi:
        fields = _split_fields(_text(buf, int(rec.start[r]), int(rec.end[r])))
        for out, i in zip(values, index, strict=True):
            out.append(fields[i] or None)
    return {w: pa.array(v, pa.string()) for w, v in zip(wanted, values, strict=True)}


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


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _longest_string(value, limit: int) -> bool:
    """True if any string (key or value) in a parsed JSON value is longer than ``limit`` UTF-8 bytes."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if len(v) > limit // 4 and len(v.encode("utf-8", "surrogatepass")) > limit:
                return True
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def _json_object(text: str, limits: Limits) -> tuple[dict | None, str | None]:
    """One JSON line as an object, or the reason it is not a row."""
    try:
        obj = json.loads(text)
    except RecursionError:
        return None, NESTED_TOO_DEEP
    except ValueError:
        return None, UNPARSEABLE
    if not isinstance(obj, dict):
        return None, UNPARSEABLE
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        try:  # a valid pair decodes to one character; a lone half cannot be written as UTF-8
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return None, LONE_SURROGATE
    if len(text) > limits.max_field_bytes // 4 and _longest_string(obj, limits.max_field_bytes):
        return None, long_field_reason(limits)
    return obj, None


def read_jsonl(
    path: Path, entity: Entity, limits: Limits | None = None, encoding: str = "utf-8"
) -> Iterator[RawBatch]:
    """Stream a JSON-lines drop in batches; a line that is not a JSON object comes back unparseable.

    Blank lines are not rows (not counted as rows, counted as blank lines) but still advance the line
    number. A line too long to hold an object within the limits is given up as it streams.
    """
    limits = limits or Limits()
    line_cap = 16 * limits.max_field_bytes
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
            unparseable: list[Unreadable] = []
            blank = 0
            while len(lines) + len(unparseable) < JSONL_BATCH_LINES:
                raw_line = fh.readline(line_cap + 1)
                if not raw_line:
                    done = True
                    break
                line_no += 1
                if len(raw_line) > line_cap and not raw_line.endswith(b"\n"):
                    head = raw_line[: limits.max_field_bytes].decode(encoding, errors="replace")
                    while (rest := fh.readline(line_cap)) and not rest.endswith(b"\n"):
                        pass
                    why = f"line longer than {line_cap} bytes"
                    unparseable.append(Unreadable(line_no, line_no, why, head))
                    continue
                text = raw_line.decode(encoding)
                if line_no == 1:
                    text = text.removeprefix("\ufeff")
                text = text.rstrip("\r\n")
                if not text.strip():
                    blank += 1
                    continue
                obj, why = _json_object(text, limits)
                if why is not None:
                    if why == long_field_reason(limits):  # the start is enough to see what went wrong
                        text = text[: limits.max_field_bytes]
                    unparseable.append(Unreadable(line_no, line_no, why, text))
                    continue
                cols.add(obj)
                for name, acc in kids.items():
                    acc.add(len(lines), obj.get(name, None))
                lines.append(line_no)
                raws.append(text)
            if not lines and not unparseable and not blank:
                continue
            columns, nonscalar = cols.arrays()
            yield RawBatch(
                columns=columns,
                lines=np.asarray(lines, dtype=np.int64),
                raw=pa.array(raws, pa.string()),
                nonscalar=nonscalar,
                unparseable=unparseable,
                children={name: acc.batch(len(lines)) for name, acc in kids.items()},
                blank=blank,
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

