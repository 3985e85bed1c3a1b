"""`tactics batch`: classify a whole feed into a file, resumably and in parallel."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._util import EXIT_ROW_ERRORS, MODEL_OPTION, app, errors_to_exit


@app.command()
@errors_to_exit
def batch(
    input: Path = typer.Argument(..., help="Feed to classify: .jsonl or .csv (optionally .gz), .parquet or .txt."),
    output: Path = typer.Argument(..., help="Results file: .jsonl or .csv (optionally .gz), or .parquet."),
    text_field: str = typer.Option("text", help="Field or column holding the text."),
    id_field: str = typer.Option("id", help="Field or column holding the id (else the row number is used)."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Worker processes, each loading the model once."),
    chunk_size: int = typer.Option(1000, "--chunk-size", min=1, help="Rows per chunk; a checkpoint is saved after each."),
    resume: bool = typer.Option(False, "--resume", help="Continue a killed job from its checkpoint (starts afresh if there is none)."),
    keep_fields: str = typer.Option("", "--keep-fields", help="Comma-separated input fields to copy into the output."),
    evidence: bool = typer.Option(False, "--evidence", help="Add evidence phrases and sentences (slower)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary (warnings still show)."),
    model: Optional[Path] = MODEL_OPTION,
) -> None:
    """Classify every row of INPUT into OUTPUT: one result row per input row, in input order.

    Exit code 0 when every row was classified, 3 when some rows carry an error (all rows are
    still written), 1 on a fatal error, 2 on a usage error. Ctrl-C (130) and SIGTERM (143) stop
    the job cleanly and keep its checkpoint: the same command with --resume continues it.
    Without --resume, a checkpoint left by a stopped job is discarded (with a warning).

    Examples:\n
      tactics batch feed.jsonl.gz tagged.parquet --workers 4\n
      tactics batch feed.csv tagged.csv --id-field url --keep-fields source,date\n
      tactics batch feed.jsonl.gz tagged.parquet --workers 4 --resume
    """
    from ..apps.batch import run_batch

    summary = run_batch(input, output, model=model, text_field=text_field, id_field=id_field,
                        keep_fields=[name.strip() for name in keep_fields.split(",") if name.strip()],
                        evidence=evidence, workers=workers, chunk_size=chunk_size, resume=resume,
                        quiet=quiet)
    if summary["errors"]:
        raise typer.Exit(EXIT_ROW_ERRORS)
