"""`tactics predict`: classify one text or a file of texts."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Optional

import typer

from ._util import EXIT_ROW_ERRORS, EXIT_USAGE, MODEL_OPTION, app, errors_to_exit, fail


@app.command()
@errors_to_exit
def predict(
    text: Optional[str] = typer.Argument(None, help="A text to classify; '-' reads one text from stdin."),
    input: Optional[str] = typer.Option(None, "--input", "-i", help="File of texts (JSONL with id/text, CSV, Parquet or .txt lines); '-' for stdin."),
    output: str = typer.Option("-", "--output", "-o", help="Where to write JSONL results: '-' (stdout), or a .jsonl file (gzip-compressed when it ends in .gz); `tactics batch` writes CSV and Parquet."),
    model: Optional[Path] = MODEL_OPTION,
    text_field: str = typer.Option("text", help="Field or column holding the text."),
    id_field: str = typer.Option("id", help="Field or column holding the id."),
    format: Optional[str] = typer.Option(None, "--format", help="Input format when the extension does not tell: jsonl, csv, parquet, txt."),
    evidence: bool = typer.Option(True, "--evidence/--no-evidence", help="Include evidence phrases and sentences."),
    as_json: bool = typer.Option(False, "--json", help="Print a single text's result as JSON."),
) -> None:
    """Classify one text, or every record of a file (one JSONL result per input record).

    Exit code 0 when every text was classified, 3 when some could not be (each such record
    carries an `error`, and all records are still written), 1 on a fatal error, 2 on a usage
    error.

    Examples:\n
      tactics predict "Kyiv walked away from a deal that was ready in Istanbul."\n
      tactics predict --input feed.jsonl --output tagged.jsonl.gz\n
      cat posts.txt | tactics predict --input - --format txt
    """
    from ..errors import InputError
    from ..io.readers import iter_rows
    from ..io.writers import atomic_text_output, check_jsonl_output, check_not_input, json_line
    from ..model.predict import classify_rows, load_model

    if (text is None) == (input is None):
        fail("give either a TEXT argument or --input FILE", EXIT_USAGE)
    check_jsonl_output(output)
    check_not_input(output, input)
    loaded = load_model(model)
    if text is not None:
        text = sys.stdin.read() if text == "-" else text
        try:
            result = loaded.predict([text], evidence=evidence)[0].to_dict()
        except InputError as exc:
            fail(str(exc), EXIT_ROW_ERRORS)
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False))
        else:
            from ..apps.display import show_prediction
            show_prediction(text, result, loaded)
        return
    counts, skipped = Counter(), Counter()
    with atomic_text_output(output) as out:
        rows = iter_rows(input, fmt=format, text_field=text_field, id_field=id_field,
                         skipped=skipped)
        for record in classify_rows(loaded, rows, evidence=evidence):
            counts["rows"] += 1
            counts["errors"] += "error" in record
            out.write(json_line(record))
    blank = skipped["blank lines"]
    blank = f"; {blank} blank line{'s' * (blank != 1)} skipped" if blank else ""
    typer.echo(f"{counts['rows']} records classified, {counts['errors']} with errors{blank}",
               err=True)
    if counts["errors"]:
        raise typer.Exit(EXIT_ROW_ERRORS)
