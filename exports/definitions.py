"""Segment definitions: one YAML file per segment under ``exports/segments/``.

Keys: ``name``, ``description``, ``owner``, ``filter`` (a SQL boolean expression over the columns of
``marts.customer_360``), ``consent`` (``email`` | ``sms``; required when a destination carries contact
data), ``destinations`` (names from ``exports.destinations``), optional ``attributes`` (extra
``customer_360`` columns for ``generic_csv``), ``control_share`` (0 ≤ share < 1 held out) and
``measurement_window_days`` (default 30: how long after an export ``campaign_results`` counts orders),
``promotional`` (default true: the segment sells; false for service messages such as a survey after a
ticket) and ``hold_back`` (rules of :data:`HOLD_BACK_RULES` that keep customers out whatever the
filter says; default ``[open_complaint]`` for a promotional segment, none otherwise: nobody gets an
offer while a complaint of theirs is open, docs/decisions.md D64).

``name`` becomes a folder and a file name of the export, so it must match ``^[a-z0-9_]{1,64}$`` (no
``../``, no separators). ``filter`` is parsed and checked by :mod:`exports.filters` against the columns
``customer_360`` declares in its dbt YAML: one boolean expression, no subqueries, tables, set
operations or functions outside a short allow-list. It only chooses members (the dbt model
``segment_memberships``, which gets the checked filter rendered for the engine, never the YAML text);
consent, suppression and contactability are applied after it, in the destination models.

A bad definition (one that does not parse, names an unknown column or destination, or no longer runs
against the marts, e.g. after a column was renamed) fails the export with its file and the problem
(:class:`SegmentDefinitionError`): a campaign audience never disappears silently. A home that prefers
the other segments to go out sets ``exports.invalid_segments: report`` in ``config/cdp.yml``: the bad
ones are then listed in the export's manifest and in ``cdp summary``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from sqlglot import exp

from cdp.engines import WarehouseError
from cdp.identifiers import mask_email, mask_phone
from exports.audience import EXCLUSION_LABELS, REACHABILITY_TABLE, by_channel, exclusion_counts, reachable
from exports.destinations import DESTINATIONS
from exports.filters import FilterError, parse_filter, render_filter

if TYPE_CHECKING:
    from cdp.engines import Warehouse

SEGMENTS_DIR = Path(__file__).resolve().parent / "segments"
BASE_TABLE = "marts.customer_360"
# The mart's declared columns (its dbt YAML) are what a filter may name: the contract analysts see.
BASE_MODEL_YML = (
    Path(__file__).resolve().parent.parent / "dbt_project" / "models" / "marts" / "customers"
    / "customer_360.yml"
)
NAME_PATTERN = re.compile(r"^[a-z0-9_]{1,64}$")
_KEYS = {
    "name", "description", "owner", "filter", "consent", "destinations", "attributes", "control_share",
    "measurement_window_days", "promotional", "hold_back",
}
#: Hold-back rules: name -> a filter over customer_360 a member must also pass (checked like any filter).
HOLD_BACK_RULES = {"open_complaint": "not has_open_complaint"}
#: What a promotional segment holds back unless its YAML says otherwise.
PROMOTIONAL_HOLD_BACK = ("open_complaint",)
_REQUIRED = ("name", "description", "owner", "filter", "destinations")
_CONTACT_COLUMNS = {"email", "phone", "first_name", "last_name", "address", "postcode", "birth_date"}


@dataclass(frozen=True)
class SegmentDefinition:
    name: str
    description: str
    owner: str
    filter: str
    destinations: tuple[str, ...]
    path: Path
    consent: str | None = None
    attributes: tuple[str, ...] = ()
    control_share: float = 0.0
    measurement_window_days: int = 30
    filter_tree: exp.Expression | None = field(default=None, compare=False, repr=False)
    promotional: bool = True
    hold_back: tuple[str, ...] = ()

    def where(self, engine: str) -> str:
        """The checked filter, and each hold-back rule, rendered for the engine; the YAML text itself
        never reaches the warehouse."""
        tree = self.filter_tree
        if tree is None:
            tree = parse_filter(self.filter, declared_columns())
        for rule in self.hold_back:
            tree = exp.and_(exp.paren(tree.copy()), parse_filter(HOLD_BACK_RULES[rule], declared_columns()))
        return render_filter(tree, engine)

    def dbt_segment(self, engine: str) -> dict[str, object]:
        """This segment as the dbt model ``segment_memberships`` reads it (var ``segments``): the name,
        hash and control share, and the checked filter rendered for the engine."""
        return {
            "name": self.name, "definition_hash": self.definition_hash,
            "control_share": self.control_share, "filter": self.where(engine),
        }

    @property
    def definition_hash(self) -> str:
        """Hash of what decides membership and output, recorded in every manifest."""
        body = json.dumps(
            {
                "filter": self.filter, "consent": self.consent, "destinations": self.destinations,
                "attributes": self.attributes, "control_share": self.control_share,
                # Only when set, so a definition without hold-back keeps its hash.
                **({"hold_back": list(self.hold_back)} if self.hold_back else {}),
            },
            sort_keys=True,
        )
        return hashlib.sha256(body.encode()).hexdigest()[:16]


@dataclass
class DefinitionError:
    path: Path
    problem: str

    def __str__(self) -> str:
        return f"{self.path.name}: {self.problem}"


@dataclass
class LoadedDefinitions:
    segments: list[SegmentDefinition] = field(default_factory=list)
    errors: list[DefinitionError] = field(default_factory=list)


def load_definitions(folder: Path = SEGMENTS_DIR, warehouse: Warehouse | None = None) -> LoadedDefinitions:
    """Parse every ``*.yml`` in ``folder``; with a warehouse (either engine) also check filters and
    columns against it."""
    loaded = LoadedDefinitions()
    names: set[str] = set()
    columns = set(warehouse.columns(BASE_TABLE)) if warehouse is not None else set()
    for path in sorted(folder.glob("*.yml")):
        try:
            definition = _parse(path)
            if definition.name in names:
                raise ValueError(f"segment name {definition.name!r} is used by another file")
            if warehouse is not None:
                _check_against_warehouse(definition, warehouse, columns)
        except (ValueError, yaml.YAMLError) as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            loaded.errors.append(DefinitionError(path, message))
            continue
        names.add(definition.name)
        loaded.segments.append(definition)
    return loaded


def _parse(path: Path) -> SegmentDefinition:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict):
        raise ValueError("not a YAML mapping")
    unknown = set(doc) - _KEYS
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    missing = [key for key in _REQUIRED if not doc.get(key)]
    if missing:
        raise ValueError(f"missing required key(s) {missing}")
    segment_name = doc["name"]
    if not isinstance(segment_name, str) or not NAME_PATTERN.fullmatch(segment_name):
        raise ValueError(
            "segment name must be 1-64 characters of a-z, 0-9 and _ (it names the export's folder)"
        )
    if not isinstance(doc["filter"], (str, bool, int, float)):
        raise ValueError("filter must be one SQL expression written as text")
    filter_text = str(doc["filter"]).strip()
    tree = parse_filter(filter_text, declared_columns())
    destinations = tuple(doc["destinations"])
    for name in destinations:
        if name not in DESTINATIONS:
            raise ValueError(f"unknown destination {name!r}; known: {sorted(DESTINATIONS)}")
    consent = doc.get("consent")
    if consent not in (None, "email", "sms"):
        raise ValueError(f"consent must be 'email' or 'sms', not {consent!r}")
    for name in destinations:
        needed = DESTINATIONS[name].consent
        if needed is None:
            continue
        if consent is None:
            raise ValueError(f"destination {name!r} carries contact data: the segment needs `consent`")
        if needed in ("email", "sms") and needed != consent:
            raise ValueError(f"destination {name!r} needs {needed} consent, the segment declares {consent}")
    window = doc.get("measurement_window_days", 30)
    if not isinstance(window, int) or window < 1:
        raise ValueError(f"measurement_window_days must be a positive whole number, not {window!r}")
    share = float(doc.get("control_share") or 0.0)
    if not 0.0 <= share < 1.0:
        raise ValueError(f"control_share must be in [0, 1), not {share}")
    attributes = tuple(doc.get("attributes") or ())
    pii = sorted(set(attributes) & _CONTACT_COLUMNS)
    if pii:
        raise ValueError(f"attributes {pii} are personal data; use a contact destination instead")
    promotional = doc.get("promotional", True)
    if not isinstance(promotional, bool):
        raise ValueError(f"promotional must be true or false, not {promotional!r}")
    hold_back = doc.get("hold_back", list(PROMOTIONAL_HOLD_BACK) if promotional else [])
    if not isinstance(hold_back, list) or any(rule not in HOLD_BACK_RULES for rule in hold_back):
        raise ValueError(f"hold_back must be a list of {sorted(HOLD_BACK_RULES)}, not {hold_back!r}")
    return SegmentDefinition(
        name=segment_name, description=str(doc["description"]), owner=str(doc["owner"]),
        filter=filter_text, destinations=destinations, path=path, consent=consent,
        attributes=attributes, control_share=share, measurement_window_days=window, filter_tree=tree,
        promotional=promotional, hold_back=tuple(dict.fromkeys(hold_back)),
    )


class SegmentDefinitionError(ValueError):
    """Segment definitions that do not build; the message names each file and its problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"{len(problems)} segment definition(s) do not build, nothing was exported "
            f"(exports.invalid_segments: report exports the others): {'; '.join(problems)}"
        )


@cache
def declared_columns() -> frozenset[str]:
    """The columns ``customer_360`` declares in its dbt YAML (lower-cased)."""
    doc = yaml.safe_load(BASE_MODEL_YML.read_text(encoding="utf-8"))
    for model in doc.get("models") or ():
        if model.get("name") == BASE_TABLE.split(".")[-1]:
            return frozenset(str(column["name"]).lower() for column in model.get("columns") or ())
    raise RuntimeError(f"{BASE_MODEL_YML.name} does not declare {BASE_TABLE}")


def _check_against_warehouse(definition: SegmentDefinition, warehouse: Warehouse, columns: set[str]) -> None:
    """Plan the filter against the marts (no rows read): unknown columns and SQL errors surface here."""

    unknown = [name for name in definition.attributes
               if name not in columns or name not in declared_columns()]
    if unknown:
        raise ValueError(f"unknown attribute column(s) {unknown} (not in {BASE_TABLE})")
    missing = sorted(
        {column.name.lower() for column in definition.filter_tree.find_all(exp.Column)}
        - {name.lower() for name in columns}
        if definition.filter_tree is not None else set()
    )
    if missing:
        raise FilterError(f"unknown column(s) {missing} (declared but not in the warehouse's {BASE_TABLE})")
    try:
        where = definition.where(warehouse.dialect.engine)
        warehouse.arrow(f"select customer_id from {BASE_TABLE} where ({where}) limit 0")
    except WarehouseError as exc:
        raise ValueError(f"filter does not run: {exc}") from None


def segment_size(warehouse: Warehouse, definition: SegmentDefinition) -> int:
    """Members of the segment in the current warehouse (control group included), before consent."""
    where = definition.where(warehouse.dialect.engine)
    return int(warehouse.row(f"select count(*) from {BASE_TABLE} where ({where})")[0])


def adhoc_definition(filter_text: str, warehouse: Warehouse) -> SegmentDefinition:
    """A segment for ``cdp segments preview --filter``: the filter checked like any definition's
    (:mod:`exports.filters`, then planned against the warehouse), no control group, every destination
    (to show each file's size). Raises :class:`ValueError` naming the problem."""
    tree = parse_filter(filter_text.strip(), declared_columns())
    definition = SegmentDefinition(
        name="adhoc", description="ad-hoc filter", owner="-", filter=filter_text.strip(),
        destinations=tuple(DESTINATIONS), path=Path("--filter"), consent=None, filter_tree=tree,
    )
    _check_against_warehouse(definition, warehouse, set(warehouse.columns(BASE_TABLE)))
    return definition


@dataclass
class Preview:
    """What a segment would export now: members, the control group held out, per channel how many are
    reachable and why the others are not, per destination the rows its file would get and whether
    that is below the tool's minimum audience; a sample with contact data masked."""

    members: int
    control: int
    channels: dict[str, dict[str, int]]
    destinations: dict[str, int]
    sample_columns: tuple[str, ...]
    sample: list[tuple]


SAMPLE_COLUMNS = ("customer_id", "email (masked)", "phone (masked)", "email", "sms")


def preview(warehouse: Warehouse, definition: SegmentDefinition, sample: int = 10) -> Preview:
    """A segment on the current warehouse, for a marketer checking a definition before it runs. Who
    may get which channel is ``restricted.audience_reachability`` as the last export built it."""
    dialect = warehouse.dialect
    schema, table = REACHABILITY_TABLE.split(".")
    if table not in {name.lower() for name in warehouse.tables(schema)}:
        raise ValueError(
            f"{REACHABILITY_TABLE} is not in this warehouse yet: the export stage builds it (run a night)"
        )
    members = f"select customer_id from {BASE_TABLE} where ({definition.where(dialect.engine)})"
    key = f"{dialect.literal(definition.name + ':')} || customer_id"
    is_control = f"{dialect.unit_hash(key)} < {dialect.literal(float(definition.control_share))}"
    size, control = warehouse.row(
        f"select count(*), coalesce(sum(case when {is_control} then 1 else 0 end), 0) from ({members}) as m"
    )
    sent = f"select customer_id from ({members}) as m where not ({is_control})"
    exclusions = exclusion_counts(warehouse, sent)
    rows = warehouse.rows(
        "select members.customer_id, contacts.email, contacts.phone, contacts.email_exclusion, "
        f"contacts.sms_exclusion from ({sent}) as members left join {REACHABILITY_TABLE} as contacts "
        f"on members.customer_id = contacts.customer_id order by members.customer_id limit {int(sample)}"
    )
    # Masked with cdp.identifiers: the one implementation per kind, equal to the marts' dbt macros.
    sample_rows = [
        (
            customer_id, mask_email(email) if email else None, mask_phone(phone) if phone else None,
            EXCLUSION_LABELS.get(email_why or "", "reachable"),
            EXCLUSION_LABELS.get(sms_why or "", "reachable"),
        )
        for customer_id, email, phone, email_why, sms_why in rows
    ]
    return Preview(
        members=int(size), control=int(control),
        channels={channel: by_channel(exclusions, channel) for channel in ("email", "sms")},
        destinations={name: reachable(DESTINATIONS[name], exclusions) for name in definition.destinations},
        sample_columns=SAMPLE_COLUMNS, sample=sample_rows,
    )

