"""``cdp shell``: an interactive, read-only SQL session on the published warehouse, for analysts.

Why our own and not the DuckDB CLI: the only DuckDB CLI on PyPI (``duckdb-cli`` 1.5.x) cannot open a
DuckDB 2.0 file ("Trying to read a database file with version number 69, but we can only read
versions between 64 and 68"), and a CLI that can would open the file read-write by default, with file
access, and read ``restricted`` like any schema. Here every statement goes through
:func:`cdp.engines.read_only_query` - the guard of ``cdp query`` (a read-only connection without file
access, one statement, ``restricted.*`` only with ``--restricted``) - and prints with
:mod:`cdp.results`, so the shell and ``cdp query`` cannot disagree. Each statement opens the
warehouse afresh: a night that publishes while the shell is open is seen by the next statement, and
the shell never holds a lock a build waits for.

Statements end with ``;`` and may span lines. Commands start with a dot: ``.tables [schema]``,
``.schema TABLE``, ``.format auto|table|vertical|csv``, ``.help``, ``.quit``. History lives in memory
only (queries may name a person's address; nothing is written to disk).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape

from cdp.config import Settings
from cdp.engines import EngineUnavailable, QueryRejected, WarehouseError, read_only_query
from cdp.results import OutputFormat, print_result

PROMPT, CONTINUATION = "cdp> ", "...> "
# The schemas analysts read; .tables without an argument lists them (restricted only when allowed).
ANALYST_SCHEMAS = ("marts", "snapshots")
HELP = """\
Statements end with ';' and may span lines; each runs read-only on the published warehouse.
  .tables [SCHEMA]   the tables of SCHEMA (default: marts and snapshots)
  .schema TABLE      the columns of TABLE and their types
  .format FORMAT     auto (default), table, vertical or csv
  .help              this text
  .quit              leave (also Ctrl-D)"""


@dataclass
class Shell:
    """One session; :meth:`run` reads lines until the end of input or ``.quit``."""

    settings: Settings
    restricted: bool = False
    output: OutputFormat = OutputFormat.auto
    out: Console = field(default_factory=Console)
    failures: int = 0

    def run(self, read_line: Callable[[str], str]) -> int:
        """Read statements with ``read_line(prompt)`` (``input`` in a terminal) until EOFError or
        ``.quit``; returns how many statements failed."""
        pending: list[str] = []
        while True:
            try:
                line = read_line(CONTINUATION if pending else PROMPT)
            except EOFError:
                break
            except KeyboardInterrupt:  # Ctrl-C drops the statement being typed, not the session
                pending.clear()
                self.out.print()
                continue
            if not pending and line.strip().startswith("."):
                if not self.command(line.strip()):
                    break
                continue
            if not pending and not line.strip():
                continue
            pending.append(line)
            if line.rstrip().endswith(";"):
                self.execute("\n".join(pending))
                pending.clear()
        if any(part.strip() for part in pending):  # a last statement without ';' still runs
            self.execute("\n".join(pending))
        return self.failures

    def execute(self, sql: str) -> None:
        try:
            result = read_only_query(self.settings, sql.strip().rstrip(";").strip(), self.restricted)
        except (QueryRejected, WarehouseError, EngineUnavailable) as exc:
            self.failures += 1
            self.out.print(f"error: {escape(str(exc))}", soft_wrap=True, highlight=False)
            return
        print_result(result, self.output, self.out)

    def command(self, line: str) -> bool:
        """Run one dot command; False ends the session."""
        name, _, argument = line.partition(" ")
        argument = argument.strip().rstrip(";").strip()
        if name in (".quit", ".exit", ".q"):
            return False
        if name == ".help":
            self.out.print(HELP, highlight=False, markup=False)
        elif name == ".format":
            try:
                self.output = OutputFormat(argument)
            except ValueError:
                self._refuse(f".format takes one of {', '.join(f.value for f in OutputFormat)}")
        elif name == ".tables":
            allowed = (*ANALYST_SCHEMAS, *(("restricted",) if self.restricted else ()))
            schemas = [argument] if argument else list(allowed)
            if self.settings.engine == "spark":  # no information_schema: one database at a time
                for schema in schemas:
                    self.execute(f"show tables in {schema}")
            else:
                self.execute(self._tables_sql(schemas))
        elif name == ".schema" and argument:
            self.execute(f"describe {argument}")
        else:
            self._refuse(f"unknown command {name!r}: .help lists the commands")
        return True

    def _tables_sql(self, schemas: list[str]) -> str:
        names = ", ".join("'" + schema.replace("'", "''") + "'" for schema in schemas)
        return (
            "select table_schema as schema, table_name as table from information_schema.tables "
            f"where table_schema in ({names}) order by all"
        )

    def _refuse(self, message: str) -> None:
        self.failures += 1
        self.out.print(f"error: {escape(message)}", soft_wrap=True, highlight=False)
