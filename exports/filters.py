"""Segment filters: one boolean expression over the audience mart's columns, checked as a parse tree.

A segment's ``filter`` used to be pasted into the members query as text, so a filter ending in
``) union all by name select ... from restricted.audience_contacts where (true`` planned fine and
exported every contact, consented or not. Text checks (``;``, keywords) cannot close that: SQL has too
many ways to spell the same thing. So the filter is parsed with sqlglot (DuckDB dialect, the engine
marketers test their filters on) and the tree is checked against an allow-list: only column
references to the mart's declared columns, literals, comparisons, boolean logic, arithmetic, ``case``
and a few scalar functions. Anything else - a statement, a subquery, a set operation, a table or a
qualified column, an unknown or aggregate/table function - is refused before the warehouse sees it.

What runs is the checked tree rendered again by sqlglot for the engine (DuckDB or Spark), never the
original text, so comments and quoting tricks in the YAML cannot smuggle anything past the check.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

# Node types a filter may contain. Everything not listed is refused (an allow-list, not a deny-list:
# a sqlglot upgrade that adds node types cannot open a hole).
_STRUCTURE: tuple[type[exp.Expression], ...] = (
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Tuple,
    exp.And, exp.Or, exp.Not, exp.Xor,
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ,
    exp.Is, exp.In, exp.Between, exp.Like, exp.ILike,
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg,
    exp.Case, exp.If, exp.Cast, exp.TryCast, exp.DataType, exp.Interval, exp.Var,
)
# Scalar functions: deterministic, row-local, spelled the same (or translated by sqlglot) on both engines.
ALLOWED_FUNCTIONS: tuple[type[exp.Expression], ...] = (
    exp.Coalesce, exp.Lower, exp.Upper, exp.Trim, exp.Length, exp.Abs, exp.Round, exp.Floor, exp.Ceil,
    exp.Greatest, exp.Least, exp.Nullif, exp.Substring,
)
# No current_date/now(): a run must depend on its run date only (re-running a date gives the same files).
_ALLOWED = _STRUCTURE + ALLOWED_FUNCTIONS
# Top-level forms that yield a boolean (a boolean column such as has_social included).
_PREDICATES: tuple[type[exp.Expression], ...] = (
    exp.And, exp.Or, exp.Not, exp.Xor, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ,
    exp.NullSafeNEQ, exp.Is, exp.In, exp.Between, exp.Like, exp.ILike, exp.Boolean, exp.Column, exp.Case,
    exp.If, exp.Coalesce,
)


class FilterError(ValueError):
    """The filter is not one boolean expression over the allowed columns; the message says what."""


def parse_filter(text: str, columns: set[str] | frozenset[str]) -> exp.Expression:
    """The checked parse tree of ``text``; raises :class:`FilterError` (one line, no data values)."""
    try:
        statements = [s for s in sqlglot.parse(text, read="duckdb") if s is not None]
    except SqlglotError as exc:
        raise FilterError(f"filter is not a valid SQL expression{_position(exc)}") from None
    if len(statements) != 1:
        raise FilterError("filter must be exactly one SQL expression (no ';', no statements)")
    tree = statements[0]
    for node in tree.walk():
        if isinstance(node, exp.Column):
            _check_column(node, columns)
        elif isinstance(node, exp.DataType):
            if node.this not in (*exp.DataType.NUMERIC_TYPES, *exp.DataType.TEXT_TYPES,
                                 exp.DataType.Type.DATE, exp.DataType.Type.BOOLEAN):
                raise FilterError(f"filter casts to {node.sql('duckdb')}; use number, text, date or boolean")
        elif isinstance(node, exp.In) and node.args.get("query") is not None:
            raise FilterError("filter may not contain a subquery")
        elif not isinstance(node, _ALLOWED):
            raise FilterError(f"filter may not contain {_describe(node)}; allowed: {allowed_summary()}")
    root = tree.unnest() if isinstance(tree, exp.Paren) else tree
    if not isinstance(root, _PREDICATES):
        raise FilterError(f"filter must be a true/false condition, not {_describe(root)}")
    return tree


def render_filter(tree: exp.Expression, engine: str) -> str:
    """The checked tree as SQL for the warehouse engine (``duckdb`` | ``spark``), comments dropped."""
    return tree.sql(dialect="spark" if engine == "spark" else "duckdb", comments=False)


def allowed_summary() -> str:
    functions = sorted(_function_name(cls) for cls in ALLOWED_FUNCTIONS)
    return f"columns of the audience mart, literals, comparisons, and/or/not, case, {', '.join(functions)}"


def _check_column(node: exp.Column, columns: set[str] | frozenset[str]) -> None:
    if node.table or node.args.get("db") or node.args.get("catalog"):
        raise FilterError(f"filter may not name a table ({node.sql('duckdb')}); use the column name only")
    name = node.name
    if not isinstance(node.this, exp.Identifier) or name.lower() not in columns:
        raise FilterError(f"unknown column {name!r} (not a declared column of the audience mart)")


def _describe(node: exp.Expression) -> str:
    if isinstance(node, (exp.Select, exp.Subquery, exp.Exists)):
        return "a subquery"
    if isinstance(node, (exp.Union, exp.Intersect, exp.Except)):
        return "a set operation (union/intersect/except)"
    if isinstance(node, (exp.Table, exp.From, exp.Join)):
        return "a table reference"
    if isinstance(node, exp.Func):
        return f"the function {_function_name(type(node), node)}"
    if isinstance(node, exp.Star):
        return "'*'"
    return f"{type(node).__name__} ({node.sql('duckdb')[:40]})"


def _function_name(cls: type[exp.Expression], node: exp.Expression | None = None) -> str:
    if node is not None and isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return cls.sql_names()[0].lower() if hasattr(cls, "sql_names") else cls.__name__.lower()


def _position(exc: SqlglotError) -> str:
    """Where the parser stopped; sqlglot's own message quotes the text around it, which stays out."""
    errors = getattr(exc, "errors", None) or []
    if errors and errors[0].get("line") is not None:
        return f" (line {errors[0]['line']}, column {errors[0].get('col')})"
    return ""
