"""The few SQL spellings that differ between DuckDB and Spark, for the Python steps that write SQL.

dbt models keep engine differences behind ``adapter.dispatch`` macros; the exports and the gates
build a handful of statements in Python and use these twins instead. Everything else they write is
the common subset both engines read the same way (``''`` inside string literals included).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Dialect:
    engine: str

    @property
    def spark(self) -> bool:
        return self.engine == "spark"

    def quote(self, name: str) -> str:
        """A quoted identifier (column aliases with spaces, e.g. Mailchimp's "Email Address")."""
        if self.spark:
            return "`" + name.replace("`", "``") + "`"
        return '"' + name.replace('"', '""') + '"'

    def sha256(self, expr: str) -> str:
        """Lower-case hex SHA-256 of a string expression."""
        return f"sha2({expr}, 256)" if self.spark else f"sha256({expr})"

    def digits_only(self, expr: str) -> str:
        flags = "" if self.spark else ", 'g'"
        return f"regexp_replace({expr}, '[^0-9]', ''{flags})"

    def unit_hash(self, expr: str) -> str:
        """A stable number in [0, 1) from a string: the first 32 bits of its SHA-256 over 2^32.

        Both engines compute the same double (a 32-bit integer over a power of two is exact), so a
        control group drawn with it is the same customers on either engine.
        """
        prefix = f"substr({self.sha256(expr)}, 1, 8)"
        if self.spark:
            integer = f"cast(conv({prefix}, 16, 10) as double)"
        else:
            integer = f"cast(('0x' || {prefix})::ubigint as double)"
        return f"({integer} / cast(4294967296 as double))"

    def literal(self, value: str | float | int | bool | date | None) -> str:
        """A SQL literal (values we control: names, dates, shares); Spark also reads ``\\`` escapes."""
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, date):
            return f"date '{value.isoformat()}'"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return f"cast({value!r} as double)"
        text = str(value).replace("'", "''")
        return "'" + (text.replace("\\", "\\\\") if self.spark else text) + "'"
