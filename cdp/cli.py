"""``cdp``: the command line. Commands parse arguments and call library functions, nothing more."""

from __future__ import annotations

import logging
import time
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from cdp import pipeline, summary
from cdp.config import Settings
from cdp.logs import configure
from cdp.results import OutputFormat, print_result

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    # A traceback must never print local variables: they can hold personal data.
    pretty_exceptions_show_locals=False,
    help="Batch customer-data platform: land, resolve, score, gate and export, one night at a time.",
)
console = Console(stderr=True)

# Demo defaults: a fixed end date keeps the demo reproducible byte for byte.
DEMO_END = date(2026, 11, 15)

HomeOpt = Annotated[Path | None, typer.Option("--home", help="State folder (default $CDP_HOME or ./var).")]
RawOpt = Annotated[Path | None, typer.Option("--raw", help="Raw drops root ($CDP_RAW, <home>/raw).")]
EngineOpt = Annotated[
    str | None,
    typer.Option("--engine", help="Warehouse engine: duckdb (default) or spark ($CDP_ENGINE)."),
]

RestrictedOpt = Annotated[
    bool,
    typer.Option(
        "--restricted", help="Allow reading restricted.* (plain names, emails, phones): operators only."
    ),
]


def _parse_date(value: str | date) -> date:
    if isinstance(value, date):  # an option's default is passed through the parser as it is
        return value
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date in YYYY-MM-DD form") from None


MarketOpt = Annotated[
    str,
    typer.Option(help="Market of the sample retailer (cdp/markets/*.yml): nl (Dutch), cn (mainland China)."),
]


class NoiseLevel(StrEnum):
    """Identity noise level of the sample data (cdp.generator.noise.LEVELS)."""

    clean = "clean"
    typical = "typical"
    dirty = "dirty"


DateOpt = Annotated[date, typer.Option("--date", parser=_parse_date, help="Logical date YYYY-MM-DD.")]


def _settings(
    home: Path | None, raw: Path | None, engine: str | None = None, writes: bool = True
) -> Settings:
    """The home's settings; ``writes=False`` for commands that only read (query, summary, explain,
    segments, suppression list): they create nothing, so they work on a read-only home."""
    try:
        settings = Settings.load(home, raw, engine)
        settings = settings.ensure() if writes else settings.environment()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    configure(settings)
    return settings


def _progress(name: str, seconds: float) -> None:
    console.print(f"  [green]✓[/green] {name:<18} {seconds:6.1f} s")


def _fail(exc: Exception) -> None:
    """Known pipeline failures get one clear message and exit code 1, not a traceback."""
    logging.getLogger("cdp").error("%s: %s", type(exc).__name__, exc)
    # escape(): messages name things like "landed.quarantine [pos.transactions]", not console markup.
    console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)  # one line, never wrapped
    raise typer.Exit(1)


def _known_errors() -> tuple[type[Exception], ...]:
    from cdp.dbt_runner import WarehouseBuildError
    from cdp.engines import EngineUnavailable
    from cdp.lock import HomeBusy
    from cdp.site import SiteConfigError
    from expectations import GateFailed
    from exports import SegmentDefinitionError
    from ingest import IngestError

    return (
        IngestError, GateFailed, WarehouseBuildError, EngineUnavailable, HomeBusy, SiteConfigError,
        SegmentDefinitionError, pipeline.StorageFull,
    )


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write the raw drops into.")],
    people: Annotated[int, typer.Option(help="How many people to simulate.")] = 20_000,
    days: Annotated[int, typer.Option(help="Nightly drops after the first (history) drop.")] = 7,
    end_date: Annotated[
        date, typer.Option("--end-date", parser=_parse_date, help="Date of the last drop.")
    ] = DEMO_END,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same bytes.")] = 42,
    noise: Annotated[
        NoiseLevel,
        typer.Option(
            help="Identity noise: typos, swapped names, missing contacts, over-merge cases (households, "
            "store phones, junk emails/phones). typical = the historical rates.",
        ),
    ] = NoiseLevel.typical,
    market: MarketOpt = "nl",
) -> None:
    """Write sample raw drops (and the ground truth under OUT/_truth) for every source."""
    from cdp.generator import generate as run_generator

    result = run_generator(
        out, people=people, days=days, end_date=end_date, seed=seed, noise=noise.value, market=market
    )
    facts = result.summary
    console.print(
        f"wrote drops {result.drop_dates[0]} .. {result.drop_dates[-1]} to {out} in {result.seconds:.1f} s: "
        f"{facts['people']:,} people ({noise.value} noise), {facts['receipt_lines']:,} receipt lines, "
        f"{facts['orders']:,} orders, {facts['broken_rows_total']:,} broken rows; "
        f"ground truth in {out / '_truth'}"
    )


@app.command()
def run(date_: DateOpt, raw: RawOpt = None, home: HomeOpt = None, engine: EngineOpt = None) -> None:
    """Run the whole nightly pipeline for one logical date."""
    settings = _settings(home, raw, engine)
    console.print(f"[bold]cdp run {date_}[/bold] (home {settings.home}, engine {settings.engine})")
    try:
        pipeline.run(settings, date_, on_step=_progress)
    except _known_errors() as exc:
        _fail(exc)
    summary.render(summary.collect(settings, [date_]))


@app.command()
def backfill(
    start: Annotated[date, typer.Option(parser=_parse_date, help="First date, YYYY-MM-DD.")],
    end: Annotated[date, typer.Option(parser=_parse_date, help="Last date (inclusive).")],
    raw: RawOpt = None,
    home: HomeOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Run the nightly pipeline for every date from START to END, in order."""
    if end < start:
        raise typer.BadParameter(f"--end {end} is before --start {start}")
    settings = _settings(home, raw, engine)
    try:
        pipeline.backfill(
            settings,
            start,
            end,
            on_step=_progress,
            on_date=lambda day: console.print(f"[bold]{day}[/bold]"),
        )
    except _known_errors() as exc:
        _fail(exc)
    summary.render(summary.collect(settings, _dates(start, end)))


@app.command()
def demo(
    people: Annotated[int, typer.Option(help="People to simulate.")] = 20_000,
    days: Annotated[int, typer.Option(help="Nightly drops after the history drop.")] = 7,
    home: HomeOpt = None,
    market: MarketOpt = "nl",
) -> None:
    """Generate sample data, run every day of it in order and print what came out; screenshots of the
    last night's pages go to <home>/reports/<date>/screenshots/ when Chromium is installed."""
    from cdp.generator import generate as run_generator
    from cdp.generator.locale import locale
    from cdp.market import configure_home

    settings = _settings(home, None)
    start = DEMO_END - timedelta(days=days)
    console.print(f"[bold]Generating[/bold] {people:,} people, drops {start} .. {DEMO_END} -> {settings.raw}")
    # The home reads the drops as the market they were written for (its cdp.yml: market, POS encoding).
    pos_encoding = locale(market).pos_encoding
    configure_home(settings.home, market, {"pos": pos_encoding} if pos_encoding != "utf-8" else None)
    run_generator(settings.raw, people=people, days=days, end_date=DEMO_END, seed=42, market=market)
    try:
        pipeline.backfill(
            settings,
            start,
            DEMO_END,
            on_step=_progress,
            on_date=lambda day: console.print(f"[bold]{day}[/bold]"),
        )
    except _known_errors() as exc:
        _fail(exc)
    summary.render(summary.collect(settings, _dates(start, DEMO_END)))
    # No duckdb CLI is installed (the one on PyPI cannot open a DuckDB 2.0 file): point at ours.
    console.print(
        f"\nQuery the marts: cdp shell --home {settings.home}   (or cdp query \"select ...\")",
        soft_wrap=True,
    )
    # The last night's pages as a person sees them, when this machine has a Chromium.
    from cdp.screenshots import BrowserError, screenshot_night

    try:
        shots = screenshot_night(settings.reports, DEMO_END)
    except BrowserError as exc:  # the night is done; a browser that fails does not undo it
        logging.getLogger("cdp").warning("no screenshots of the pages: %s", exc)
        shots = []
    if shots:
        console.print(f"Screenshots of the pages: {shots[0].screenshot.parent}", soft_wrap=True)


@app.command("summary")
def show_summary(
    date_: Annotated[
        date | None,
        typer.Option("--date", parser=_parse_date, help="A date that has run (default: the latest run)."),
    ] = None,
    home: HomeOpt = None,
    engine: EngineOpt = None,
    all_tables: Annotated[
        bool, typer.Option("--all-tables", help="Row counts of the staging and intermediate tables too.")
    ] = False,
) -> None:
    """Print the summary of a date that has run (the latest by default): the gates' verdicts, the
    exports, the customers and segments as of that date, landing counts and the marts' sizes. A date
    that never ran is refused, not shown as an empty table."""
    settings = _settings(home, None, engine, writes=False)
    ran = summary.run_dates(settings)
    if not ran:
        _fail(RuntimeError(f"no night has run on {settings.home} yet: cdp run --date YYYY-MM-DD"))
    day = date_ or ran[-1]
    if day not in ran:
        _fail(RuntimeError(
            f"no run for {day.isoformat()} on {settings.home} (runs: {ran[0].isoformat()} .. "
            f"{ran[-1].isoformat()}, {len(ran)} in all)"
        ))
    summary.render(summary.collect(settings, [day], all_tables=all_tables))


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="One read-only statement: select * from marts.customer_rfm")],
    output: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            help="auto (a table, or one record per block when the table is wider than the terminal), "
            "table, vertical or csv (to stdout). Values are never cut.",
        ),
    ] = OutputFormat.auto,
    home: HomeOpt = None,
    engine: EngineOpt = None,
    restricted: RestrictedOpt = False,
) -> None:
    """Run a read-only query against the marts of the chosen engine and print the result.

    The warehouse is opened read-only by the engine (on DuckDB also without file access): no
    statement can write or read files. restricted.* needs --restricted."""
    from cdp.engines import QueryRejected, WarehouseError, read_only_query

    settings = _settings(home, None, engine, writes=False)
    try:
        result = read_only_query(settings, sql, restricted=restricted)
    except QueryRejected as exc:
        raise typer.BadParameter(str(exc)) from None
    except _known_errors() as exc:
        _fail(exc)
        return
    except WarehouseError as exc:  # the engine's first line: names the table/column
        _fail(exc)
    print_result(result, output)


@app.command()
def shell(
    home: HomeOpt = None,
    engine: EngineOpt = None,
    restricted: RestrictedOpt = False,
) -> None:
    """An interactive read-only SQL session on the marts (statements end with ';'; .help lists the
    commands). Same guard as cdp query: read-only, no file access, restricted.* needs --restricted."""
    import sys

    from cdp.shell import Shell

    settings = _settings(home, None, engine, writes=False)
    session = Shell(settings, restricted=restricted)
    if sys.stdin.isatty():
        import readline  # noqa: F401  (line editing and in-memory history for input())

        session.out.print(
            f"cdp shell on {settings.home} ({settings.engine}); .help for commands", highlight=False
        )
        session.run(input)
        return

    def read(_prompt: str) -> str:
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    # Piped statements (a script): the exit code says whether every one of them ran.
    raise typer.Exit(1 if session.run(read) else 0)


@app.command()
def docs(
    home: HomeOpt = None,
    engine: EngineOpt = None,
    serve: Annotated[bool, typer.Option("--serve", help="Serve them on http://127.0.0.1:PORT.")] = False,
    port: Annotated[int, typer.Option(help="Port for --serve.")] = 8081,
) -> None:
    """Generate dbt docs (models, lineage, the warehouse catalog) under <home>/dbt/target:
    static_index.html opens from disk (offline, one file); --serve serves index.html locally.

    dbt reads the catalog from a private copy of the warehouse, so analysts' open sessions and the
    night neither block it nor are blocked."""
    from cdp import dbt_runner, publish
    from cdp.docs_server import docs_server

    settings = _settings(home, None, engine)
    with publish.scratch(settings, "docs") as copy:
        path = dbt_runner.docs_generate(copy)
    console.print(f"dbt docs: open {path / 'static_index.html'} (one file, offline)", soft_wrap=True)
    if serve:
        server = docs_server(path, port)
        console.print(f"serving http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()


segments_app = typer.Typer(no_args_is_help=True, help="Check segment definitions (exports/segments/*.yml).")
app.add_typer(segments_app, name="segments")


@segments_app.command("list")
def segments_list(home: HomeOpt = None, engine: EngineOpt = None) -> None:
    """Every segment definition with its size now, valid or rejected (with the reason)."""
    from cdp.engines import connect
    from exports.definitions import load_definitions, segment_size

    settings = _settings(home, None, engine, writes=False)
    with connect(settings) as warehouse:
        loaded = load_definitions(warehouse=warehouse)
        sizes = {segment.name: segment_size(warehouse, segment) for segment in loaded.segments}
    for segment in loaded.segments:
        share = f", control {segment.control_share:.0%}" if segment.control_share else ""
        console.print(
            f"[bold]{segment.name}[/bold] ({segment.owner}): {sizes[segment.name]:,} members\n"
            f"    {segment.description}\n"
            f"    filter: {escape(segment.filter)}\n    consent: {segment.consent}, "
            f"destinations: {', '.join(segment.destinations)}{share}"
        )
    for error in loaded.errors:
        console.print(f"[red]rejected[/red] {escape(str(error))}")


@segments_app.command("preview")
def segments_preview(
    name: Annotated[str | None, typer.Argument(help="Segment name (or --filter).")] = None,
    filter_text: Annotated[
        str | None,
        typer.Option(
            "--filter",
            help="Preview an ad-hoc filter over customer_360's columns instead, checked like a definition's.",
        ),
    ] = None,
    home: HomeOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Members, control group, who each channel reaches and why not, each file's size (warned when
    below the tool's minimum audience) and a sample with contact data masked."""
    from rich.table import Table

    from cdp.engines import connect
    from exports.audience import EXCLUSION_LABELS, EXCLUSIONS
    from exports.definitions import adhoc_definition, load_definitions, preview
    from exports.destinations import DESTINATIONS

    if (name is None) == (filter_text is None):
        raise typer.BadParameter("give a segment NAME or --filter, not both")
    settings = _settings(home, None, engine, writes=False)
    with connect(settings) as warehouse:
        if filter_text is not None:
            try:
                found = adhoc_definition(filter_text, warehouse)
            except ValueError as exc:
                console.print(f"[red]error:[/red] --filter: {escape(str(exc))}")
                raise typer.Exit(1) from None
        else:
            loaded = load_definitions(warehouse=warehouse)
            matches = [s for s in loaded.segments if s.name == name]
            if not matches:
                problems = [str(e) for e in loaded.errors if e.path.stem == name]
                console.print(f"[red]error:[/red] no valid segment {name!r}. {escape(' '.join(problems))}")
                raise typer.Exit(1)
            found = matches[0]
        try:
            result = preview(warehouse, found)
        except ValueError as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(1) from None
    sent = result.members - result.control
    console.print(
        f"[bold]{found.name}[/bold]: {result.members:,} members; {result.control:,} held out as control "
        f"group ({found.control_share:.0%}, never sent, compared with the others in campaign_results); "
        f"{sent:,} to send to"
    )
    for channel, counts in result.channels.items():
        reasons = ", ".join(f"{counts[reason]:,} {EXCLUSION_LABELS[reason]}" for reason in EXCLUSIONS)
        console.print(f"  {channel}: {counts['reachable']:,} reachable; left out: {reasons}")
    for destination_name, rows in result.destinations.items():
        destination = DESTINATIONS[destination_name]
        line = f"  {destination_name}.csv: {rows:,} rows"
        if destination.is_small(rows):
            line += (
                f" [yellow]below the {destination.min_audience:,} people the tool needs "
                f"({escape(destination.min_audience_source or '')})[/yellow]"
            )
        console.print(line)
    table = Table(title="Sample (contact data masked; email / sms: reachable or why not)")
    for column in result.sample_columns:
        table.add_column(column)
    for row in result.sample:
        table.add_row(*("-" if value is None else escape(str(value)) for value in row))
    console.print(table)


@app.command()
def forget(
    email: Annotated[str | None, typer.Option(help="Email address of the person.")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone number of the person.")] = None,
    customer_id: Annotated[str | None, typer.Option("--customer-id", help="A marts customer_id.")] = None,
    reason: Annotated[str, typer.Option(help="Why (kept with the tombstones; no identifiers).")] = (
        "erasure request"
    ),
    home: HomeOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Right to be forgotten: erase a person from the lake, the warehouse and exports, for good."""
    from cdp.privacy import ForgetError
    from cdp.privacy import forget as run_forget

    if sum(v is not None for v in (email, phone, customer_id)) != 1:
        raise typer.BadParameter("give exactly one of --email, --phone, --customer-id")
    settings = _settings(home, None, engine)
    try:
        result = run_forget(settings, email=email, phone=phone, customer_id=customer_id, reason=reason)
    except (ForgetError, *_known_errors()) as exc:
        _fail(exc)
        return
    except Exception as exc:  # no traceback: its frames' locals would print the identifier
        logging.getLogger("cdp").error("forget failed: %s", type(exc).__name__)
        console.print(f"[red]error:[/red] forget failed ({type(exc).__name__})")
        raise typer.Exit(1) from None
    console.print(
        f"forgotten (request {result.request_id}): {result.customers} customer(s), {result.records} "
        f"record(s); tombstones {result.tombstones}; {sum(result.lake_rows_erased.values()):,} lake row(s) "
        f"erased in {result.partitions_rewritten} partition(s); "
        f"{sum(result.warehouse_rows_deleted.values()):,} warehouse row(s) deleted; "
        f"{result.export_rows_removed:,} export row(s) removed from {result.export_files_rewritten} file(s)"
    )


suppression_app = typer.Typer(no_args_is_help=True, help="The global suppression list (<home>/config).")
app.add_typer(suppression_app, name="suppression")


@suppression_app.command("list")
def suppression_list(
    limit: Annotated[int, typer.Option(help="Rows to show per source (0 = all).")] = 100,
    home: HomeOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Who is suppressed, newest first: the suppression file and the unsubscribe feed, addresses masked."""
    from rich.table import Table

    from cdp.suppression import suppressions

    settings = _settings(home, None, engine, writes=False)
    entries = suppressions(settings)
    table = Table(title="Suppressed: the suppression file (config/suppression.csv) and the unsubscribe feed")
    widest = max((len(entry.address) for entry in entries), default=7)
    for column in ("source", "channel", "address", "reason", "since"):
        # Addresses whole (never cut with an ellipsis): a narrow terminal wraps the other columns.
        is_address = column == "address"
        table.add_column(column, no_wrap=is_address, min_width=widest if is_address else None)
    shown: dict[str, int] = {}
    for entry in entries:
        shown[entry.source] = shown.get(entry.source, 0) + 1
        if limit and shown[entry.source] > limit:
            continue
        address = entry.address if entry.usable else f"{entry.address} (unreadable, matches nobody)"
        table.add_row(entry.source, entry.channel, address, entry.reason, entry.since)
    Console().print(table)
    counts = ", ".join(f"{n:,} from {source}" for source, n in sorted(shown.items())) or "nobody"
    console.print(f"{len(entries):,} suppressed: {counts}")


@suppression_app.command("check")
def suppression_check(
    address: Annotated[str, typer.Argument(help="An email address or a phone number, as typed.")],
    home: HomeOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Is this address suppressed? Lists the entries that suppress it (masked). Exit 0 when it is
    suppressed, 1 when it may be contacted (as grep does)."""
    from cdp.suppression import NotAnAddress, check

    settings = _settings(home, None, engine, writes=False)
    try:
        found = check(settings, address)
    except NotAnAddress as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    if not found:
        console.print("not suppressed: no entry in the suppression file or the unsubscribe feed")
        raise typer.Exit(1)
    for entry in found:
        console.print(
            escape(f"suppressed on {entry.channel}: {entry.address} ({entry.source}, {entry.reason or '-'}, "
                   f"since {entry.since or '-'})"),
            soft_wrap=True,
        )


@suppression_app.command("add")
def suppression_add(
    address: Annotated[str, typer.Argument(help="An email address or a phone number, as typed.")],
    channel: Annotated[str, typer.Option(help="email, sms or all.")] = "all",
    reason: Annotated[str, typer.Option(help="Why (kept in the file; no personal data).")] = "requested",
    home: HomeOpt = None,
) -> None:
    """Add an address to the suppression file (config/suppression.csv); the next night applies it."""
    from cdp.suppression import NotAnAddress, add

    settings = _settings(home, None, None, writes=True)
    try:
        entry = add(settings, channel.strip().lower(), address, reason)
    except NotAnAddress as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    console.print(escape(f"added: {entry.address} suppressed on {entry.channel} (from the next build on)"))


@app.command("explain")
def explain_customer(
    customer_id: Annotated[str, typer.Argument(help="customer_id from the marts.")],
    home: HomeOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Why these source records are one customer: records, links with their rule or weight, id history."""
    from cdp.explain import explain

    settings = _settings(home, None, engine, writes=False)
    result = explain(settings, customer_id)
    if not result.records:
        console.print(f"[red]error:[/red] no customer {customer_id!r} in {settings.warehouse}")
        raise typer.Exit(1)
    status, reason, since = result.cluster or ("ok", None, None)
    console.print(f"[bold]{customer_id}[/bold] (since {since}): {len(result.records)} source record(s)")
    if status != "ok":
        console.print(
            f"  cluster {status} by over-merge protection: {reason} (see marts.identity_review_queue)"
        )
    for record_key, name, email, phone, updated_at in result.records:
        console.print(
            f"  {record_key}  {name}  email {email or '-'}  phone {phone or '-'}  updated {updated_at}"
        )
    console.print(f"links ({len(result.links)}):")
    for link in result.links:
        verdict = "linked" if link.accepted else f"[yellow]rejected: {link.rejection_reason}[/yellow]"
        weight = (
            f" weight {link.match_weight:.1f} (p={link.match_probability:.4f}; {link.agreement})"
            if link.match_weight is not None
            else ""
        )
        console.print(f"  {link.left} — {link.right}: {link.rule}{weight} -> {verdict}")
    for kind, identifier, status, count in result.ignored:
        console.print(f"  not linked on {kind} {identifier}: {status}, carried by {count} records")
    console.print(f"history ({len(result.history)}):")
    for day, event, customer, previous, count in result.history:
        other = f" from {previous}" if previous else ""
        console.print(f"  {day} {event}: {customer}{other} ({count} record(s))")


identity_app = typer.Typer(no_args_is_help=True, help="Identity resolution: train the match model.")
app.add_typer(identity_app, name="identity")


@identity_app.command("train")
def identity_train(
    date_: DateOpt,
    output: Annotated[
        Path | None,
        typer.Option(help="Parameters CSV to write (default <home>/config/identity_match_parameters.csv)."),
    ] = None,
    home: HomeOpt = None,
    engine: EngineOpt = None,
    rebuild: Annotated[
        bool, typer.Option(help="Build the pairs even when the warehouse holds them as of DATE.")
    ] = False,
) -> None:
    """Re-estimate the match model (m/u probabilities) from the data landed up to DATE.

    Builds the candidate and sampled pairs as of DATE (unless the last build of this home made them
    for DATE from the same data, project and configuration, as the night's build does), fits the model
    by EM and writes it to <home>/config/identity_match_parameters.csv, which pins it: every later build
    scores with it and the nightly fit (stage identity:fit, which otherwise re-estimates the model
    every identity_fit_every_days) leaves it alone. Keep the file under version control like code;
    delete it to hand the model back to the nights; re-run the dates you want re-scored.
    """
    from cdp.identity.train import train_for_date

    settings = _settings(home, None, engine)
    started = time.perf_counter()
    target = output or settings.identity_model_file
    try:
        model = train_for_date(settings, date_, target, rebuild=rebuild)
    except _known_errors() as exc:
        _fail(exc)
        return
    console.print(
        f"trained on {model.pairs:,} candidate pairs ({model.iterations} EM iterations), "
        f"lambda={model.prior:.3g} -> {target}"
    )
    _progress("identity train", time.perf_counter() - started)


def _dates(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


if __name__ == "__main__":
    app()
