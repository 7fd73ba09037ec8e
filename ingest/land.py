"""Land one source's drop for one date: check every file, stream → validate → Parquet, publish, manifest.

All output is staged on local disk (``<lake>/.tmp/``, or the home's cache for an object-store lake) and
only put into place once every entity of the source has been written, so a failure while reading
leaves the lake exactly as it was. Each partition file is published atomically (a rename in a local
lake, one whole-object upload on an object store: :mod:`cdp.lake`), replacing the previous one for
that date; the manifest is written last, so readers that go by manifests never see a half-landed date.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import shutil
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cdp import lake
from cdp.config import Settings
from ingest.erasure import Eraser

from . import derive
from .contract import QUARANTINE_SCHEMA, Contract, Entity, load_contract
from .errors import IngestError
from .readers import (
    FileInfo,
    FileProblem,
    HeaderPlan,
    check_header,
    inspect_file,
    read_csv,
    read_jsonl,
)
from .validate import Reasons, validate

log = logging.getLogger("ingest")

_NOT_IN_MANIFEST = ("entity", "landed_path", "quarantine_path")


@dataclass
class EntityReport:
    """Counts for one landed entity; ``rows_read == rows_landed + rows_quarantined + rows_erased``.

    ``rows_erased``: rows of forgotten people (``cdp forget`` tombstones), dropped at landing and never
    quarantined (their raw text is not kept anywhere).

    Rows are records; ``lines_*`` count the physical lines of the file (header excluded) the same way,
    plus ``lines_blank``, so a record that swallowed lines shows (``lines_read`` is also checked against
    the newlines counted in the file's bytes before it is read). Child entities have no line counts
    (None): their lines are their parent's.
    """

    entity: str
    file: str
    sha256: str | None
    bytes: int
    rows_read: int = 0
    rows_landed: int = 0
    rows_quarantined: int = 0
    rows_erased: int = 0
    lines_read: int | None = 0
    lines_landed: int | None = 0
    lines_quarantined: int | None = 0
    lines_erased: int | None = 0
    lines_blank: int | None = 0
    configured: bool = True  # False: the settings file leaves this entity out (empty partitions)
    delivered: bool = True  # False: an optional entity's file was not in the drop (empty partitions)
    encoding: str = "utf-8"
    missing_optional_columns: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    flagged: dict[str, int] = field(default_factory=dict)
    schema_version: int = 1
    derived_from: str | None = None  # child entities: the parent entity whose rows they come from
    landed_path: str = ""
    quarantine_path: str | None = None

    @property
    def reconciles(self) -> bool:
        rows = self.rows_read == self.rows_landed + self.rows_quarantined + self.rows_erased
        if self.lines_read is None:
            return rows
        parts = (self.lines_landed, self.lines_quarantined, self.lines_erased, self.lines_blank)
        return rows and self.lines_read == sum(parts)


@dataclass
class LoadReport:
    """What one ``land_source`` call did; ``entities`` is keyed by entity name (children included)."""

    source: str
    load_date: date
    entities: dict[str, EntityReport]
    manifest_path: Path

    @property
    def rows_read(self) -> int:
        return sum(e.rows_read for e in self.entities.values() if e.derived_from is None)

    @property
    def rows_quarantined(self) -> int:
        return sum(e.rows_quarantined for e in self.entities.values() if e.derived_from is None)

    @property
    def rows_erased(self) -> int:
        return sum(e.rows_erased for e in self.entities.values() if e.derived_from is None)

    def to_dict(self) -> dict:
        """JSON-ready summary (pipeline step output); totals count parent entities only."""
        return {
            "source": self.source,
            "load_date": self.load_date.isoformat(),
            "manifest": str(self.manifest_path),
            "rows_read": self.rows_read,
            "rows_quarantined": self.rows_quarantined,
            "rows_erased": self.rows_erased,
            "entities": {
                name: {k: v for k, v in asdict(e).items() if k != "entity"}
                for name, e in self.entities.items()
            },
        }


def drop_dir(settings: Settings, source: str, load_date: date) -> Path:
    return Path(settings.raw) / source / load_date.isoformat()


def _error(source: str, entity: str, path: Path, load_date: date, what: str) -> IngestError:
    return IngestError(f"{source}/{entity} ({path}) for load date {load_date.isoformat()}: {what}")


def _inspect_all(
    contract: Contract,
    folder: Path,
    load_date: date,
    entities: list[Entity],
    encoding: str,
    may_lack: frozenset[str] = frozenset(),
) -> dict[str, tuple[FileInfo, HeaderPlan | None]]:
    """Check every file of the drop (the configured entities) before anything is landed. An entity of
    ``may_lack`` (optional in the contract, not listed by name in the settings file) whose file is not
    there is left out: it lands empty."""
    infos = {}
    for entity in entities:
        path = folder / entity.file
        if entity.name in may_lack and not path.exists():
            continue
        try:
            if not path.exists():
                raise FileProblem(f"{contract.source}/{load_date.isoformat()}/{entity.file} is missing")
            info = inspect_file(path, contract.format, encoding)
            plan = check_header(info.header, entity) if info.header is not None else None
        except FileProblem as exc:
            raise _error(contract.source, entity.name, path, load_date, str(exc)) from None
        infos[entity.name] = (info, plan)
    return infos


def configured_entities(settings: Settings, contract: Contract) -> tuple[list[Entity], str, frozenset[str]]:
    """The entities the settings file says this retailer's source delivers, their encoding, and those
    of them the drop may lack (optional in the contract and not listed by name in the settings file)."""
    site = settings.site
    config = site.sources.get(contract.source)
    where = site.path or "the default settings"
    if config is None:
        raise IngestError(
            f"source {contract.source!r} is not configured in {where} (configured: {', '.join(site.sources)})"
        )
    names = [e.name for e in contract.entities]
    wanted = list(config.entities) if config.entities is not None else names
    unknown = [n for n in wanted if n not in names]
    if unknown:
        raise IngestError(
            f"{where}: sources.{contract.source}.entities names {', '.join(map(repr, unknown))}, "
            f"not in the contract (entities: {', '.join(names)})"
        )
    may_lack = frozenset(
        e.name for e in contract.entities if e.optional and config.entities is None
    )
    return [e for e in contract.entities if e.name in wanted], config.encoding, may_lack


def _land_entity(
    contract: Contract,
    entity: Entity,
    path: Path,
    info: FileInfo | None,
    stage: Path,
    load_date: date,
    eraser: Eraser | None = None,
    plan: HeaderPlan | None = None,
) -> list[EntityReport]:
    """Stream one file into staged landing/quarantine Parquet files; returns its (and children's) reports.

    ``info`` None: the entity is not configured; it gets empty partitions (downstream globs need one).
    """
    tz = contract.local_timezone
    reasons = Reasons()
    encoding = info.encoding if info is not None else "utf-8"
    report = EntityReport(
        entity=entity.name,
        file=entity.file,
        sha256=info.sha256 if info is not None else None,
        bytes=info.bytes if info is not None else 0,
        schema_version=contract.schema_version,
        configured=info is not None,
        encoding=encoding,
        missing_optional_columns=list(plan.missing_optional) if plan else [],
        extra_columns=list(plan.extra) if plan else [],
    )
    child_reports = {
        c.name: EntityReport(
            entity=c.name,
            file=entity.file,
            sha256=report.sha256,
            bytes=report.bytes,
            schema_version=contract.schema_version,
            derived_from=entity.name,
            lines_read=None,
            lines_landed=None,
            lines_quarantined=None,
            lines_erased=None,
            lines_blank=None,
            configured=report.configured,
            encoding=encoding,
        )
        for c in entity.children
    }
    for column in report.extra_columns:
        log.warning(
            "%s/%s %s: %s has column %r that is not in the contract; ignored",
            contract.source, entity.name, load_date.isoformat(), entity.file, column,
        )
    reason_counts: Counter = Counter()
    flag_counts: Counter = Counter()
    child_flags: dict[str, Counter] = {c.name: Counter() for c in entity.children}

    def staged(zone: str, name: str) -> Path:
        target = stage / zone / name / lake.PART
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    writers = {
        (lake.LANDING, entity.name): pq.ParquetWriter(
            staged(lake.LANDING, entity.name), entity.schema(), **lake.PARQUET_OPTIONS
        )
    }
    writers[(lake.QUARANTINE, entity.name)] = pq.ParquetWriter(
        staged(lake.QUARANTINE, entity.name), QUARANTINE_SCHEMA, **lake.PARQUET_OPTIONS
    )
    for c in entity.children:
        writers[(lake.LANDING, c.name)] = pq.ParquetWriter(
            staged(lake.LANDING, c.name), c.schema(), **lake.PARQUET_OPTIONS
        )
    limits = contract.limits
    if info is None:
        batches = iter(())
    elif contract.format == "jsonl":
        batches = read_jsonl(path, entity, limits, encoding)
    else:
        batches = read_csv(path, entity, info.header, limits, encoding)
    try:
        for batch in _prefetch(batches):
            result = validate(entity, batch, entity.file, tz, reasons)
            report.rows_read += len(batch) + len(batch.unparseable)
            unread = sum(u.line_end - u.line + 1 for u in batch.unparseable)
            report.lines_read += int(batch.row_spans.sum()) + unread + batch.blank
            report.lines_blank += batch.blank
            landed_lines, quarantined_lines = int(result.landed_spans.sum()), _lines(result.quarantine)
            if eraser is not None:  # forgotten people: dropped before anything is written
                before = result.landed.column("_source_line").to_numpy()
                erased = eraser.apply(contract.source, entity, result)
                report.rows_erased += erased[entity.name]
                for cname in child_reports:
                    child_reports[cname].rows_read += erased[cname]
                    child_reports[cname].rows_erased += erased[cname]
                if erased[entity.name]:
                    kept = np.isin(before, result.landed.column("_source_line").to_numpy())
                    after = int(result.landed_spans[kept].sum()), _lines(result.quarantine)
                    report.lines_erased += landed_lines + quarantined_lines - sum(after)
                    landed_lines, quarantined_lines = after
            report.lines_landed += landed_lines
            report.lines_quarantined += quarantined_lines
            report.rows_landed += result.landed.num_rows
            report.rows_quarantined += result.quarantine.num_rows
            reason_counts.update(result.reasons)
            flag_counts.update(result.flagged)
            if result.landed.num_rows:
                writers[(lake.LANDING, entity.name)].write_table(result.landed)
            if result.quarantine.num_rows:
                writers[(lake.QUARANTINE, entity.name)].write_table(result.quarantine)
            for cname, (table, flags) in result.children.items():
                child_reports[cname].rows_read += table.num_rows
                child_reports[cname].rows_landed += table.num_rows
                child_flags[cname].update(flags)
                if table.num_rows:
                    writers[(lake.LANDING, cname)].write_table(table)
    except FileProblem as exc:
        raise _error(contract.source, entity.name, path, load_date, str(exc)) from None
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        # Arrow's messages quote the offending value, which may be personal data: report the type only.
        raise _error(
            contract.source, entity.name, path, load_date, f"cannot be parsed ({type(exc).__name__})"
        ) from None
    finally:
        for w in writers.values():
            w.close()
    report.reasons = dict(sorted(reason_counts.items()))
    report.flagged = dict(sorted(flag_counts.items()))
    for cname, counts in child_flags.items():
        child_reports[cname].flagged = dict(sorted(counts.items()))
    if not report.reconciles:  # would be a bug in this package; never publish a load that loses rows
        raise _error(contract.source, entity.name, path, load_date, "row counts do not reconcile")
    if info is not None:
        physical = info.lines - (1 if info.header is not None else 0)
        if report.lines_read != physical:  # the independent count: newlines in the file's bytes
            raise _error(
                contract.source,
                entity.name,
                path,
                load_date,
                f"read {report.lines_read} lines but the file holds {physical}",
            )
    return [report, *child_reports.values()]


def _lines(quarantine: pa.Table) -> int:
    """Physical lines a quarantine table covers (``_source_line`` .. ``_source_line_end``)."""
    if not quarantine.num_rows:
        return 0
    start = quarantine.column("_source_line").to_numpy()
    end = quarantine.column("_source_line_end").to_numpy()
    return int((end - start + 1).sum())


def _prefetch(batches: Iterator, depth: int = 1) -> Iterator:
    """Parse the next batch in a thread while this one is validated and written (Arrow drops the GIL)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in batches:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((done, None))
        except BaseException as exc:  # handed to the consumer, re-raised there
            q.put((done, exc))

    worker = threading.Thread(target=produce, name="ingest-reader", daemon=True)
    worker.start()
    try:
        while True:
            item, exc = q.get()
            if exc is not None:
                raise exc
            if item is done:
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            with contextlib.suppress(queue.Empty):
                q.get(timeout=0.1)
        worker.join()


def _rel(path: str | None, settings: Settings) -> str | None:
    """Manifest paths are relative to the lake, so a moved home folder (or bucket) stays consistent."""
    return None if path is None else lake.relative(path, settings.lake)


def land_source(settings: Settings, source: str, load_date: date, absent: bool = False) -> LoadReport:
    """Land every entity of ``<raw>/<source>/<YYYY-MM-DD>/`` into the lake and write its manifest.

    Re-running a date replaces that date's partitions with byte-identical files. Raises IngestError
    (nothing written) when a file is missing, empty, not UTF-8 or has the wrong CSV header.

    ``absent``: a shipped source this retailer does not have (not in its settings file): every entity
    gets an empty partition with the contract's schema and the manifest says it is not configured, so
    the models that read it see no rows instead of a missing folder. Nobody has to fabricate files.
    """

    contract = derive.for_market(settings, load_contract(source))  # the home's market: local time zone
    entities, encoding, may_lack = (
        ([], "utf-8", frozenset()) if absent else configured_entities(settings, contract)
    )
    folder = drop_dir(settings, source, load_date)
    infos = _inspect_all(contract, folder, load_date, entities, encoding, may_lack)
    undelivered = {e.name for e in entities} - set(infos)
    for name in sorted(undelivered):
        log.info("%s/%s %s: no file in the drop (optional entity): landed empty", source, name,
                 load_date.isoformat())
    eraser = Eraser.load(settings)

    tmp_root = lake.staging_root(settings.lake, settings.cache)
    stage = tmp_root / f"{source}-{load_date.isoformat()}-{uuid.uuid4().hex[:12]}"
    stage.mkdir(parents=True)
    try:
        reports: dict[str, EntityReport] = {}
        for entity in contract.entities:
            info, plan = infos.get(entity.name, (None, None))
            for rep in _land_entity(
                contract, entity, folder / entity.file, info, stage, load_date, eraser, plan
            ):
                if entity.name in undelivered:  # configured, but the drop did not carry the file
                    rep.configured, rep.delivered = True, False
                reports[rep.entity] = rep
        derive.add_derived_columns(settings, contract, stage)  # E.164 columns next to phone fields
        for name, rep in reports.items():
            dest = lake.partition(settings, lake.LANDING, source, name, load_date) / lake.PART
            lake.publish_file(stage / lake.LANDING / name / lake.PART, dest)
            rep.landed_path = str(dest)
            if rep.derived_from is None:
                qdest = lake.partition(settings, lake.QUARANTINE, source, name, load_date) / lake.PART
                lake.publish_file(stage / lake.QUARANTINE / name / lake.PART, qdest)
                rep.quarantine_path = str(qdest)
        mpath = lake.manifest_path(settings, source, load_date)
        doc = {
            "source": source,
            "load_date": load_date.isoformat(),
            "schema_version": contract.schema_version,
            "drop": None if absent else str(folder),
            "configured": not absent,
            "entities": {
                name: {k: v for k, v in asdict(rep).items() if k not in _NOT_IN_MANIFEST}
                | {
                    "landed": _rel(rep.landed_path, settings),
                    "quarantine": _rel(rep.quarantine_path, settings),
                }
                for name, rep in reports.items()
            },
        }
        lake.write_text(mpath, json.dumps(doc, indent=2, sort_keys=False) + "\n")
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        with contextlib.suppress(OSError):  # other loads may be staging there too
            tmp_root.rmdir()
    for rep in reports.values():
        log.info(
            "landed %s/%s %s: read=%d landed=%d quarantined=%d erased=%d flagged=%d",
            source,
            rep.entity,
            load_date.isoformat(),
            rep.rows_read,
            rep.rows_landed,
            rep.rows_quarantined,
            rep.rows_erased,
            sum(rep.flagged.values()),
        )
    return LoadReport(source=source, load_date=load_date, entities=reports, manifest_path=mpath)
