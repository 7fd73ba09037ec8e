"""What landing adds to a source's data for the home's market: its local time zone, E.164 phone columns.

Why at landing, in Python: phone numbers are parsed by libphonenumber (``cdp.identifiers``) with the
market's default region. The value goes into the landed Parquet as ``<field>_e164`` next to each phone
field (``cdp.identifiers.PHONE_FIELDS``), so DuckDB and Spark read one value and no engine carries phone
rules of its own. The raw field stays as typed, as every landed field does.

``land_source`` calls :func:`for_market` on the contract before reading (tills print the market's local
time) and :func:`add_derived_columns` on the staged files before they are published (the landed schema is
the contract's; the derived columns are appended to the staged file, so validation and the eraser stay
untouched).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cdp import identifiers, lake
from cdp.market import market_of

if TYPE_CHECKING:
    from cdp.config import Settings

    from .contract import Contract



def for_market(settings: Settings, contract: Contract) -> Contract:
    """The contract as this home reads it: local timestamps in the market's time zone (a Chinese
    retailer's tills print Beijing time; the shipped contract names the Dutch zone)."""
    if contract.local_timezone is None:
        return contract
    return dataclasses.replace(contract, local_timezone=market_of(settings).timezone)


def e164_array(values: pa.Array | pa.ChunkedArray, region: str) -> pa.Array:
    """E.164 of every value (null where it is not a possible number), each distinct value parsed once."""
    distinct = pc.unique(values)
    parsed = pa.array([identifiers.normalize_phone(v, region) for v in distinct.to_pylist()], pa.string())
    return pc.take(parsed, pc.index_in(values, value_set=distinct))


def derive_table(source: str, entity: str, table: pa.Table, region: str) -> pa.Table:
    """``table`` with ``<field>_e164`` inserted after each phone field of the entity."""
    for name in identifiers.PHONE_FIELDS.get((source, entity), ()):
        if name not in table.column_names:
            continue
        column = identifiers.e164_column(name)
        if column in table.column_names:
            table = table.drop_columns([column])
        values = e164_array(table.column(name), region)
        table = table.add_column(table.column_names.index(name) + 1, pa.field(column, pa.string()), values)
    return table


def add_derived_columns(settings: Settings, contract: Contract, stage: Path) -> None:
    """Rewrite the staged landed files of ``contract``'s entities that have phone fields (in place,
    before ``land_source`` publishes them)."""
    region = market_of(settings).phone_region
    for entity in contract.entities:
        if (contract.source, entity.name) not in identifiers.PHONE_FIELDS:
            continue
        for path in sorted((stage / lake.LANDING / entity.name).glob("*.parquet")):
            table = pq.read_table(path)
            derived = derive_table(contract.source, entity.name, table, region)
            pq.write_table(derived, path, **lake.PARQUET_OPTIONS)
