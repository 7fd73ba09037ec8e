"""The right to be forgotten: ``cdp forget``.

:func:`forget` resolves a person (email, phone or customer_id) to their source records
through ``marts.customer_identity_map``, then

1. appends salted SHA-256 *tombstones* to ``<home>/privacy/tombstones.parquet``: hashes of the
   person's normalised emails (and their match keys: identity's reading of the address, so any
   spelling of it is erased), phones and record keys (``source:entity:source_record_id``);
   the salt is generated once (``<home>/privacy/salt``). No plain identifier is stored anywhere;
2. rewrites every landed and quarantined Parquet partition that holds a row matching a tombstone
   (atomically, per partition) and moves those rows to the manifest's ``rows_erased``, so
   ``rows_read == rows_landed + rows_quarantined + rows_erased`` still holds;
3. deletes the person's rows from the warehouse (every marts/restricted/ops/snapshots table with a
   ``customer_id``, history and profile snapshot versions included; intermediate tables by record key
   and identifiers) and from published export files;
4. ingest applies the same tombstones at landing (:class:`ingest.erasure.Eraser`), so a re-sent old
   file cannot bring the person back.

Identifier normalisation is :mod:`cdp.identifiers` (one implementation per kind; emails equal to the
dbt macros, phones the very function ingest derives the warehouse's E.164 columns with), so a hash
computed here from raw text equals one computed from warehouse values. A request that matches nobody
raises :class:`ForgetNoMatch` and erases nothing. Nothing here logs or returns an identifier: results
are counts.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from cdp import identifiers, lake, publish
from cdp.config import Settings
from cdp.dbt_runner import forget_built, personal_columns
from cdp.engines import connect, warehouse_exists
from cdp.identifiers import email_match_key, normalize_email, normalize_phone
from cdp.lock import home_lock
from exports.publish import remove_staging
from ingest.contract import load_contract
from ingest.erasure import (
    IDENTIFIERS,
    TOMBSTONE_SCHEMA,
    TOMBSTONES_FILE,
    Eraser,
    digest,
    drop_children,
    flag_counts,
    load_salt,
    phone_region,
    read_tombstones,
)

if TYPE_CHECKING:
    from cdp.engines import Warehouse

log = logging.getLogger(__name__)

class ForgetError(ValueError):
    """The request cannot be resolved (unknown customer, ambiguous address, bad input)."""



# --------------------------------------------------------------------------------------------------
# Forget
# --------------------------------------------------------------------------------------------------


@dataclass
class ForgetResult:
    """Counts only: nothing here identifies the person."""

    request_id: str
    customers: int = 0
    records: int = 0
    tombstones: dict[str, int] = field(default_factory=dict)
    lake_rows_erased: dict[str, int] = field(default_factory=dict)  # 'zone/source/entity' -> rows
    partitions_rewritten: int = 0
    warehouse_rows_deleted: dict[str, int] = field(default_factory=dict)
    # Tables declaring personal data but no column that can find a person (none in the shipped project).
    unerasable_tables: list[str] = field(default_factory=list)
    export_rows_removed: int = 0
    export_files_rewritten: int = 0

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


@dataclass
class _Person:
    customer_ids: set[str] = field(default_factory=set)
    record_keys: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    # Match keys of the emails (cdp.identifiers.email_match_key): how identity compares addresses, so
    # how a request finds the person and what a tombstone covers ('anna.hendriks+news@gmail.com').
    email_keys: set[str] = field(default_factory=set)


class ForgetNoMatch(ForgetError):
    """Nobody in the warehouse or the lake holds the identifier: nothing was erased."""


def forget(
    settings: Settings,
    email: str | None = None,
    phone: str | None = None,
    customer_id: str | None = None,
    reason: str = "erasure request",
) -> ForgetResult:
    """Erase one person everywhere (lake, warehouse, exports) and keep them out of future loads.

    Exactly one of ``email``, ``phone``, ``customer_id``. Raises :class:`ForgetError` when the request
    cannot be resolved; messages never contain the identifier.
    """
    given = [v for v in (email, phone, customer_id) if v]
    if len(given) != 1:
        raise ForgetError("give exactly one of email, phone or customer_id")

    # Under the home's lock: a run that had read the tombstones before this forget wrote them would
    # land the person again (cdp.lock).
    with home_lock(settings.home, "cdp forget"):
        return _forget(settings, email, phone, customer_id, reason)


def _forget(
    settings: Settings, email: str | None, phone: str | None, customer_id: str | None, reason: str
) -> ForgetResult:

    forget_built(settings)  # warehouse rows are deleted below: no table stays claimed current
    person = _Person()
    if email is not None:
        value = normalize_email(email)
        if value is None:
            raise ForgetError("the email is not a valid address (one '@', no spaces)")
        person.emails.add(value)
        person.email_keys.add(email_match_key(value) or value)
    if phone is not None:
        value = normalize_phone(phone, phone_region(settings))
        if value is None:
            raise ForgetError("the phone number cannot be read as a phone number of this market")
        person.phones.add(value)
    if customer_id is not None:
        person.customer_ids.add(customer_id.strip())

    settings.ensure()
    result = ForgetResult(request_id=uuid.uuid4().hex)
    _resolve(settings, person)
    if customer_id is not None and not person.record_keys:
        raise ForgetError("no such customer_id in the warehouse")
    result.customers, result.records = len(person.customer_ids), len(person.record_keys)

    salt = load_salt(settings, create=True)
    assert salt is not None
    if not person.record_keys and not _lake_holds(settings, salt, person):
        # Nobody to erase: saying "done" would leave the requester believing they were forgotten.
        raise ForgetNoMatch(
            f"nobody in the warehouse or the lake holds this {'email' if email else 'phone number'} "
            "(in any spelling identity reads as the same): nothing was erased; check it or forget "
            "by --customer-id"
        )
    result.tombstones = _write_tombstones(settings, salt, person, result.request_id, reason)
    eraser = Eraser.load(settings)
    assert eraser is not None
    _scrub_lake(settings, eraser, result)
    # The published warehouse is changed in a copy renamed into place (readers are not disturbed);
    # a night's build not yet published is scrubbed too, or publishing it would bring the person back.
    with publish.rewrite(settings) as published:
        _scrub_warehouse(published, person, result)
        _scrub_exports(published, person, result)
    building = publish.in_progress(settings)
    if building is not None:
        _scrub_warehouse(building, person, ForgetResult(request_id=result.request_id))
    log.info(
        "forget %s: %d customer(s), %d record(s), %d lake row(s) erased, %d warehouse row(s), "
        "%d export row(s) removed",
        result.request_id, result.customers, result.records, sum(result.lake_rows_erased.values()),
        sum(result.warehouse_rows_deleted.values()), result.export_rows_removed,
    )
    _write_audit(settings, result, reason)
    return result


def _resolve(settings: Settings, person: _Person) -> None:
    """Customer ids, records and identifiers of the person, from the warehouse (if built).

    The identifiers reach the engine as registered tables, never as SQL text (engines log statements).
    """

    if not warehouse_exists(settings):
        return
    with connect(settings, read_only=True) as warehouse:
        if "customer_identity_map" not in warehouse.tables("marts") or (
            "int_identity_records_unioned" not in warehouse.tables("intermediate")
        ):
            return
        _resolve_in(warehouse, person)


def _values(warehouse: Warehouse, name: str, values: Iterable[str]) -> str:
    """Register ``values`` as a one-column (``v``) view and return its name."""
    warehouse.register(name, pa.table({"v": pa.array(sorted(values), pa.string())}))
    return name


def _resolve_in(warehouse: Warehouse, person: _Person) -> None:
    # The match key is the warehouse's own (int_identity_records_standardised.email_key, the macro
    # email_match_key, proven equal to cdp.identifiers by tests/test_forget_spellings.py); stub
    # records carry no email, so the left join loses nothing.
    std = "intermediate.int_identity_records_standardised"
    has_keys = "int_identity_records_standardised" in warehouse.tables("intermediate")
    key_column = "std.email_key" if has_keys else "cast(null as string)"
    key_join = f"left join {std} as std on std.record_key = rec.record_key " if has_keys else ""
    warehouse.temp_table(
        "forget_person_records",
        f"select map.customer_id, rec.record_key, rec.email_normalized, rec.phone_e164, "
        f"{key_column} as email_key "
        "from marts.customer_identity_map as map "
        "inner join intermediate.int_identity_records_unioned as rec on rec.source = map.source "
        f"and rec.entity = map.entity and rec.source_record_id = map.source_record_id {key_join}",
    )
    try:
        found = set(person.customer_ids)
        for column, values in (
            ("email_normalized", person.emails),
            ("email_key", person.email_keys),
            ("phone_e164", person.phones),
        ):
            if values:
                view = _values(warehouse, "forget_given", values)
                rows = warehouse.rows(
                    f"select distinct customer_id from forget_person_records "
                    f"where {column} in (select v from {view})"
                )
                found |= {r[0] for r in rows}
        if not person.customer_ids and len(found) > 1:
            raise ForgetError(
                f"the address belongs to {len(found)} different customers (a shared or placeholder "
                "address); forget them by --customer-id instead"
            )
        ids = _values(warehouse, "forget_found_ids", found)
        rows = warehouse.rows(
            "select customer_id, record_key, email_normalized, phone_e164, email_key "
            f"from forget_person_records where customer_id in (select v from {ids})"
        )
        person.customer_ids = {r[0] for r in rows} or person.customer_ids
        person.record_keys = {r[1] for r in rows}
        ids = _values(warehouse, "forget_found_ids", person.customer_ids)
        # Only identifiers no other customer holds: tombstoning a shared address (info@shop) would
        # erase other people's records at every future load.
        for column, candidates, target in (
            ("email_normalized", {r[2] for r in rows if r[2]}, person.emails),
            ("email_key", {r[4] for r in rows if r[4]}, person.email_keys),
            ("phone_e164", {r[3] for r in rows if r[3]}, person.phones),
        ):
            if not candidates:
                continue
            view = _values(warehouse, "forget_candidates", candidates)
            shared = warehouse.rows(
                f"select distinct {column} from forget_person_records where {column} in "
                f"(select v from {view}) and customer_id not in (select v from {ids})"
            )
            shared_values = {r[0] for r in shared}
            target |= candidates - shared_values
            if column == "email_key":  # a given key someone else holds is no tombstone either
                target -= shared_values
    finally:
        warehouse.drop_temp_table("forget_person_records")


def _write_tombstones(
    settings: Settings, salt: bytes, person: _Person, request_id: str, reason: str
) -> dict[str, int]:
    # Emails in both forms, under one kind: the eraser checks a value's normalised form and its key.
    emails = person.emails | person.email_keys
    rows = [("email", v) for v in sorted(emails)] + [("phone", v) for v in sorted(person.phones)]
    rows += [("record", v) for v in sorted(person.record_keys)]
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    new = pa.table(
        {
            "kind": [k for k, _ in rows],
            "hash": [digest(salt, k, v) for k, v in rows],
            "request_id": [request_id] * len(rows),
            "reason": [reason] * len(rows),
            "erased_at": [now] * len(rows),
        },
        schema=TOMBSTONE_SCHEMA,
    )
    existing = read_tombstones(settings)
    known = set(existing.column("hash").to_pylist())
    new = new.filter(pa.array([h not in known for h in new.column("hash").to_pylist()], pa.bool_()))
    if new.num_rows:
        path = settings.privacy_dir / TOMBSTONES_FILE
        tmp = path.with_name(f".{TOMBSTONES_FILE}.{uuid.uuid4().hex}.tmp")
        pq.write_table(pa.concat_tables([existing, new]), tmp, compression="zstd")
        os.replace(tmp, path)
    return dict(Counter(k for k, _ in rows))


def _lake_holds(settings: Settings, salt: bytes, person: _Person) -> bool:
    """Does any landed row carry the person's identifiers? (A home whose warehouse is not built yet
    may still hold them in the lake.) Reads only the identifier columns; writes nothing."""

    rows = [("email", v) for v in person.emails | person.email_keys] + [("phone", v) for v in person.phones]
    eraser = Eraser(salt, frozenset(digest(salt, k, v) for k, v in rows), phone_region(settings))
    for source in _landed_sources(settings):
        for entity in load_contract(source).entities:
            columns = _identifier_columns(source, entity.name)
            if not columns:
                continue
            root = lake.entity_root(settings, lake.LANDING, source, entity.name)
            for folder in sorted(root.glob("load_date=*")):
                if (folder / lake.PART).exists():
                    table = lake.read_table(folder / lake.PART, columns=columns)
                    if eraser.landed_mask(source, entity.name, table).any():
                        return True
    return False


def _scrub_lake(settings: Settings, eraser: Eraser, result: ForgetResult) -> None:
    """Rewrite every landed/quarantined partition holding a tombstoned row; update its manifest."""

    for source in _landed_sources(settings):
        contract = load_contract(source)
        for entity in contract.entities:
            root = lake.entity_root(settings, lake.LANDING, source, entity.name)
            for folder in sorted(root.glob("load_date=*")):
                day = folder.name.removeprefix("load_date=")
                changes: dict[str, dict[str, Any]] = {}
                landed_file = folder / lake.PART
                if landed_file.exists():
                    # Only the identifier columns to find matches; the whole partition only if one does.
                    table = lake.read_table(landed_file, columns=_identifier_columns(source, entity.name))
                    mask = eraser.landed_mask(source, entity.name, table)
                    if mask.any():
                        table = lake.read_table(landed_file)
                        gone = table.filter(pa.array(mask))
                        kept = table.filter(pa.array(~mask))
                        lake.write_table(landed_file, kept, **lake.PARQUET_OPTIONS)
                        changes[entity.name] = {"landed": int(mask.sum()), "flagged": flag_counts(kept)}
                        for child in entity.children:
                            child_file = lake.partition_file(
                                settings, lake.LANDING, source, child.name, date.fromisoformat(day)
                            )
                            if not child_file.exists():
                                continue
                            ctable = lake.read_table(child_file)
                            ckept, n = drop_children(child, ctable, gone)
                            if n:
                                lake.write_table(child_file, ckept, **lake.PARQUET_OPTIONS)
                                changes[child.name] = {"landed": n, "flagged": flag_counts(ckept)}
                q_file = lake.partition_file(
                    settings, lake.QUARANTINE, source, entity.name, date.fromisoformat(day)
                )
                if q_file.exists():
                    qtable = lake.read_table(q_file)
                    qmask = eraser.quarantine_mask(source, qtable)
                    if qmask.any():
                        qkept = qtable.filter(pa.array(~qmask))
                        lake.write_table(q_file, qkept, **lake.PARQUET_OPTIONS)
                        changes.setdefault(entity.name, {})["quarantined"] = int(qmask.sum())
                        changes[entity.name]["reasons"] = Counter(qkept.column("_reason").to_pylist())
                for name, change in changes.items():
                    if change.get("landed"):
                        result.lake_rows_erased[f"landing/{source}/{name}"] = (
                            result.lake_rows_erased.get(f"landing/{source}/{name}", 0) + change["landed"]
                        )
                        result.partitions_rewritten += 1
                    if change.get("quarantined"):
                        result.lake_rows_erased[f"quarantine/{source}/{name}"] = (
                            result.lake_rows_erased.get(f"quarantine/{source}/{name}", 0)
                            + change["quarantined"]
                        )
                        result.partitions_rewritten += 1
                if changes:
                    _update_manifest(lake.manifest_path(settings, source, date.fromisoformat(day)), changes)


def _identifier_columns(source: str, entity: str) -> list[str]:
    return sorted({c for ident in IDENTIFIERS.get((source, entity), ()) for c in ident.columns})


def _landed_sources(settings: Settings) -> list[str]:
    root = settings.lake / lake.LANDING
    known = {s for s, _ in IDENTIFIERS}
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name in known) if root.exists() else []


def _update_manifest(path: Path, changes: dict[str, dict[str, Any]]) -> None:
    if not path.exists():
        return
    doc = json.loads(path.read_text(encoding="utf-8"))
    entities = doc.get("entities", {})
    for name, change in changes.items():
        stats = entities.get(name)
        if stats is None:
            continue
        landed, quarantined = change.get("landed", 0), change.get("quarantined", 0)
        stats["rows_landed"] = stats.get("rows_landed", 0) - landed
        stats["rows_quarantined"] = stats.get("rows_quarantined", 0) - quarantined
        stats["rows_erased"] = stats.get("rows_erased", 0) + landed + quarantined
        if "flagged" in change:
            stats["flagged"] = dict(sorted(change["flagged"].items()))
        if "reasons" in change:
            stats["reasons"] = dict(sorted(change["reasons"].items()))
        entities[name] = _ordered(stats)
    lake.write_text(path, json.dumps(doc, indent=2, sort_keys=False) + "\n")


def _ordered(stats: dict[str, Any]) -> dict[str, Any]:
    """Keep the manifest's key order (rows_erased right after rows_quarantined) as ingest writes it."""
    out: dict[str, Any] = {}
    for key, value in stats.items():
        if key == "rows_erased":
            continue
        out[key] = value
        if key == "rows_quarantined":
            out["rows_erased"] = stats.get("rows_erased", 0)
    out.setdefault("rows_erased", stats.get("rows_erased", 0))
    return out


def _scrub_warehouse(settings: Settings, person: _Person, result: ForgetResult) -> None:
    """Delete the person's rows from every warehouse table that declares personal data in the dbt
    catalogue (:func:`cdp.dbt_runner.personal_columns`): by the columns it declares as customer key,
    record key, source id, email, phone, handle or contact point (:func:`erasure_predicates`).
    Intermediate tables included (the next build would rebuild them from the scrubbed lake anyway);
    views read the lake, scrubbed before. One transaction on DuckDB; on Spark table by table (a
    failed run is completed by running the same request again: the tombstones stay)."""
    if not warehouse_exists(settings):
        return
    catalogue = personal_columns(settings)
    keys = sorted(person.record_keys)
    profiles = [k.removeprefix("social:profiles:") for k in keys if k.startswith("social:profiles:")]
    values = {
        "customer_ids": sorted(person.customer_ids),
        "record_keys": keys,
        "source_ids": sorted({key.split(":", 2)[2] for key in keys if key.count(":") >= 2}),
        "emails": sorted(person.emails),
        "email_hashes": sorted(hashlib.sha256(e.encode()).hexdigest() for e in person.emails),
        "phones": sorted(person.phones),
        "phone_hashes": sorted(hashlib.sha256(p.encode()).hexdigest() for p in person.phones),
        "profiles": sorted(profiles),
        "handles": sorted(profile.split(":", 1)[-1] for profile in profiles),
    }
    with connect(settings, read_only=False) as warehouse:
        present = {
            f"{schema}.{table}": set(warehouse.columns(f"{schema}.{table}"))
            for schema in sorted({name.split(".", 1)[0] for name in catalogue})
            for table in warehouse.tables(schema, views=False)
        }
        for name, vals in values.items():
            _values(warehouse, f"forget_{name}", vals)
        where = {}
        for table, declared in sorted(catalogue.items()):
            if table not in present:
                continue
            predicates = erasure_predicates({c: m for c, m in declared.items() if c in present[table]},
                                            present[table])
            if predicates:
                where[table] = " or ".join(predicates)
            elif declared:
                result.unerasable_tables.append(table)
        # Which tables hold the person, in one query: a statement per table costs Spark ~0.5 s each.
        holding = {
            name: int(count)
            for name, count in warehouse.rows(
                " union all ".join(
                    f"select '{name}' as name, count(*) as n from {name} where {predicate}"
                    for name, predicate in where.items()
                )
            )
            if count
        } if where else {}
        with warehouse.transaction():
            for name, count in sorted(holding.items()):
                result.warehouse_rows_deleted[name] = warehouse.delete_where(name, where[name], count)
        if not warehouse.spark:
            warehouse.execute("checkpoint")


#: Which of the person's values a column of each declared kind (plain form) is matched against.
_MATCHED_BY = {
    "customer_key": ("customer_ids",),
    "record_key": ("record_keys",),
    "source_id": ("source_ids",),
    "email": ("emails",),
    "phone": ("phones",),
    "contact_point": ("emails", "phones"),
}
_HASHED = {"email": "email_hashes", "phone": "phone_hashes"}


def erasure_predicates(declared: dict[str, dict[str, str]], columns: set[str]) -> list[str]:
    """SQL predicates selecting a forgotten person's rows of one table, from the personal columns it
    declares (``column -> meta``, :func:`cdp.dbt_runner.personal_columns`) and the columns it has.
    Masked values identify nobody and names, addresses or match keys are not unique: those columns
    erase nothing by themselves (a table holding only them is reported, and the catalogue test forbids
    one). Values are the views ``forget_<set>`` :func:`_scrub_warehouse` registers."""
    out = []
    for column, meta in sorted(declared.items()):
        kind, form = meta.get("pii"), meta.get("pii_form", "plain")
        if form == "masked":
            continue
        if kind == "handle" and form == "plain":
            if "platform" in columns:  # a handle is unique per platform
                out.append(f"platform || ':' || {column} in (select v from forget_profiles)")
            else:
                out.append(f"{column} in (select v from forget_handles)")
            continue
        if form == "hashed":
            sets: tuple[str, ...] = (_HASHED[kind],) if kind in _HASHED else ()
        else:
            sets = _MATCHED_BY.get(str(kind), ())
        out += [f"{column} in (select v from forget_{name})" for name in sets]
    return out


def _export_values(person: _Person) -> set[str]:
    """Every form in which the person can appear in an export file: plain, and hashed the way each
    destination hashes (cdp.identifiers, equal to exports.destinations' SQL)."""
    values = set(person.customer_ids)
    sha256 = identifiers.sha256_hex
    for email in person.emails:
        values |= {email, sha256(email), sha256(identifiers.google_email(email))}
    for phone in person.phones:
        values |= {phone, sha256(phone), sha256(identifiers.meta_phone(phone))}
    return values


def _scrub_exports(settings: Settings, person: _Person, result: ForgetResult) -> None:
    """Remove the person's rows from published export files; keep manifests and ops.segment_exports true.
    Staging folders a killed export left behind (dot-folders, never published) are removed whole."""
    # Imported here, not at module level: exports pulls in sqlglot, which ingest (Eraser) need not load.

    remove_staging(settings.exports)
    values = _export_values(person)
    if not values or not settings.exports.exists():
        return
    changed: list[tuple[str, str, int, str]] = []  # (date, relative file, rows, sha256)
    for folder in sorted(p for p in settings.exports.iterdir() if p.is_dir() and not p.name.startswith(".")):
        manifest_file = folder / "manifest.json"
        touched: dict[str, tuple[int, str]] = {}
        for path in sorted(folder.rglob("*.csv")):
            with path.open(newline="", encoding="utf-8") as handle:
                rows = list(csv.reader(handle))
            if not rows:
                continue
            header, body = rows[0], rows[1:]
            kept = [r for r in body if not any(c in values or c.strip().lower() in values for c in r)]
            if len(kept) == len(body):
                continue
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(kept)
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
            tmp.write_text(buffer.getvalue(), encoding="utf-8")
            os.replace(tmp, path)
            result.export_rows_removed += len(body) - len(kept)
            result.export_files_rewritten += 1
            rel = path.relative_to(folder).as_posix()
            touched[rel] = (len(kept), _file_sha256(path))
            changed.append((folder.name, rel, len(kept), touched[rel][1]))
        if touched and manifest_file.exists():
            _update_export_manifest(manifest_file, touched)
    if changed:
        _update_segment_exports(settings, changed)


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _update_export_manifest(path: Path, touched: dict[str, tuple[int, str]]) -> None:
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for info in manifest.get("segments", {}).values():
        for item in info.get("destinations", {}).values():
            file = item.get("file", "")
            if file in touched:
                item["rows"], item["sha256"] = touched[file]
            stem = file.removesuffix(".csv")
            for kind in ("added", "removed", "updated"):
                if f"{stem}.{kind}.csv" in touched:
                    item[kind] = touched[f"{stem}.{kind}.csv"][0]
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _update_segment_exports(settings: Settings, changed: list[tuple[str, str, int, str]]) -> None:
    """Correct the export history (``ops.segment_exports``) for the files forget rewrote: per run date,
    the date's rows are read, corrected and written back (no row updates on Spark's Parquet)."""

    if not changed or not warehouse_exists(settings):
        return
    table = "ops.segment_exports"
    with connect(settings, read_only=False) as warehouse:
        if "segment_exports" not in warehouse.tables("ops", views=False):
            return
        columns = ", ".join(warehouse.dialect.quote(c) for c in warehouse.columns(table) if c != "run_date")
        for day in sorted({d for d, _, _, _ in changed}):
            current = warehouse.arrow(f"select {columns} from {table} where run_date = date '{day}'")
            rows = current.to_pylist()
            by_file = {row["file"]: row for row in rows}
            for _, rel, count, digest in (c for c in changed if c[0] == day):
                if rel.endswith((".added.csv", ".removed.csv")):
                    kind = "added" if rel.endswith(".added.csv") else "removed"
                    row = by_file.get(rel.removesuffix(f".{kind}.csv") + ".csv")
                    if row is not None:
                        row[kind] = count
                elif rel in by_file:
                    by_file[rel].update(rows=count, sha256=digest)
            corrected = pa.Table.from_pylist(rows, current.schema)
            warehouse.replace_date_rows(table, date.fromisoformat(day), corrected)


def _write_audit(settings: Settings, result: ForgetResult, reason: str) -> None:
    """Append the request's counts (no identifiers) to ``<home>/privacy/requests.jsonl``."""
    settings.privacy_dir.mkdir(parents=True, exist_ok=True)
    entry = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "reason": reason, **result.to_dict()}
    with (settings.privacy_dir / "requests.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, sort_keys=True) + "\n")
