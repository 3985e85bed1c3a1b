"""`tactics report`: trends by source and time, coordinated repetition and examples of a feed."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._util import EXIT_ROW_ERRORS, MODEL_OPTION, app, errors_to_exit


@app.command()
@errors_to_exit
def report(
    feed: Path = typer.Argument(..., help="Feed: .jsonl or .csv (optionally .gz) or .parquet; rows with 'labels' are used as they are."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory for report.html, trends.csv and clusters.jsonl."),
    source_field: str = typer.Option("source", help="Field or column naming the outlet or channel."),
    time_field: str = typer.Option("date", help="Field or column holding the publication time (ISO 8601 or any date pandas reads)."),
    text_field: str = typer.Option("text", help="Field or column holding the text."),
    id_field: str = typer.Option("id", help="Field or column holding the id (else the row number is used)."),
    period: str = typer.Option("week", help="Trend period: day, week or month."),
    window: str = typer.Option("72h", help="Coordinated repetition: at least 3 sources within this time (72h, 3d, 90min)."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Worker processes for classification, each loading the model once."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress lines and no summary (warnings still show)."),
    model: Optional[Path] = MODEL_OPTION,
) -> None:
    """Report on a feed: tactic share over time, sources x tactics, co-occurrence, the strongest
    examples, and texts repeated near word for word by at least 3 sources within --window.

    Exit code 0 when every row was classified, 3 when some rows could not be (they are counted in
    the report), 1 on a fatal error (a missing source or time column, say), 2 on a usage error.

    Examples:\n
      tactics report feed.jsonl.gz --out report/\n
      tactics report tagged.parquet --out report/ --source-field channel --time-field published --period day\n
      tactics report feed.csv --out report/ --window 48h --workers 2
    """
    from ..apps.report import ReportOptions, run_report

    options = ReportOptions(source_field=source_field, time_field=time_field,
                            text_field=text_field, id_field=id_field, period=period, window=window)
    result = run_report(feed, out, model=model, options=options, workers=workers)
    summary = result.summary
    if not quiet:
        typer.echo(f"{summary['rows']:,} rows, {summary['classified']:,} classified, "
                   f"{summary['errors']:,} errors, {summary['bad_dates']:,} unreadable dates; "
                   f"{summary['clusters']:,} coordinated clusters; {summary['seconds']:,.1f} s\n"
                   f"wrote {result.path / 'report.html'}, trends.csv, clusters.jsonl", err=True)
    if summary["errors"]:
        raise typer.Exit(EXIT_ROW_ERRORS)
