"""The ``tactics`` command line: thin wrappers over the package's public functions.

Every command turns the project's errors into one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Optional

import typer

from .errors import TacticsError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Tag media snippets with the narrative tactics they advance.")

DATA_OPTION = typer.Option(Path("training_data"), "--data", help="Corpus directory (train.jsonl, test.jsonl).")
MODEL_OPTION = typer.Option(None, "--model", "-m", help="Model directory (default: $TACTICS_MODEL or models/default).")


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def errors_to_exit(command):
    """Turn the project's exceptions (and unreadable files) into one line and exit code 1."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except TacticsError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            fail("interrupted", 130)
    return wrapper


@app.command()
@errors_to_exit
def predict(
    text: Optional[str] = typer.Argument(None, help="A text to classify; '-' reads one text from stdin."),
    input: Optional[str] = typer.Option(None, "--input", "-i", help="File of texts (JSONL with id/text, CSV, Parquet or .txt lines); '-' for stdin."),
    output: str = typer.Option("-", "--output", "-o", help="Where to write JSONL results ('-' = stdout)."),
    model: Optional[Path] = MODEL_OPTION,
    text_field: str = typer.Option("text", help="Field or column holding the text."),
    id_field: str = typer.Option("id", help="Field or column holding the id."),
    format: Optional[str] = typer.Option(None, "--format", help="Input format when the extension does not tell: jsonl, csv, parquet, txt."),
    evidence: bool = typer.Option(True, "--evidence/--no-evidence", help="Include evidence phrases and sentences."),
    as_json: bool = typer.Option(False, "--json", help="Print a single text's result as JSON."),
) -> None:
    """Classify one text, or every record of a file (one JSONL result per input record).

    Examples:\n
      tactics predict "Kyiv walked away from a deal that was ready in Istanbul."\n
      tactics predict --input feed.jsonl --output tagged.jsonl\n
      cat posts.txt | tactics predict --input - --format txt
    """
    from . import predict as api
    from .readers import iter_rows
    from .writers import atomic_text_output, json_line

    if (text is None) == (input is None):
        fail("give either a TEXT argument or --input FILE")
    loaded = api.load_model(model)
    if text is not None:
        text = sys.stdin.read() if text == "-" else text
        result = loaded.predict([text], evidence=evidence)[0].to_dict()
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False))
        else:
            from .display import show_prediction
            show_prediction(text, result, loaded)
        return
    counts = {"rows": 0, "errors": 0}
    with atomic_text_output(output) as out:
        rows = iter_rows(input, fmt=format, text_field=text_field, id_field=id_field)
        for record in api.classify_rows(loaded, rows, evidence=evidence):
            counts["rows"] += 1
            counts["errors"] += "error" in record
            out.write(json_line(record))
    typer.echo(f"{counts['rows']} records classified, {counts['errors']} with errors", err=True)


@app.command()
@errors_to_exit
def validate(data: Path = typer.Argument(Path("training_data"), help="Corpus directory.")) -> None:
    """Check the corpus: JSON, texts, labels, ids, duplicates and near-duplicates across splits."""
    from .dataset import validate_corpus
    from .display import show_validation

    report = validate_corpus(data)
    show_validation(report)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
@errors_to_exit
def train(
    output: Path = typer.Option(Path("models/default"), "--output", "-o", help="Model directory to write."),
    data: Path = DATA_OPTION,
    seed: int = typer.Option(0, help="Random seed: same data and seed give the same model."),
    name: Optional[str] = typer.Option(None, help="Model name (default: the directory name)."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Processes for the cross-validation folds."),
) -> None:
    """Train a model on the train split and write a model directory with its card."""
    from .train import train as train_model

    path = train_model(output, data_dir=data, name=name, seed=seed, n_jobs=jobs)
    meta = json.loads((path / "model.json").read_text())
    test = meta["metrics"]["test"]
    typer.echo(f"wrote {path}: test macro F1 {test['macro_f1']:.3f}, "
               f"none FPR on hard negatives {test.get('none_fpr_hard_negative', 0):.3f}")


@app.command()
@errors_to_exit
def evaluate(
    model: Optional[Path] = MODEL_OPTION,
    data: Path = DATA_OPTION,
    out: Path = typer.Option(Path("evaluation"), "--out", help="Directory for report.md, report.json and plots."),
    folds: int = typer.Option(5, help="Cross-validation folds on the train split."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Processes for cross-validation."),
) -> None:
    """Evaluate a model on the test split against baselines; write the report and plots."""
    from .evaluate import evaluate as run_evaluation

    report = run_evaluation(model, data_dir=data, out_dir=out, folds=folds, n_jobs=jobs)
    main = report["model"]["test"]
    typer.echo(f"wrote {out}/report.md: macro F1 {main['macro_f1']:.3f}, "
               f"none FPR (hard negatives) {main['none_fpr_hard_negative']:.3f}")


@app.command()
@errors_to_exit
def labels() -> None:
    """List the tactic ids, their families and definitions."""
    from .taxonomy import load_taxonomy

    for tactic in load_taxonomy().tactics:
        typer.echo(f"{tactic.id:24} {tactic.family:13} {tactic.definition}")


def main() -> None:  # pragma: no cover - console entry point
    app()
