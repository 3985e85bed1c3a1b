"""Researchers' loop: `import`, `retrain`, `calibrate`, `compare-models`, `promote`, `models`,
`suggest`, `export-dataset`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ._util import (
    DATA_OPTION,
    EXIT_USAGE,
    MODEL_OPTION,
    MODELS_DIR_OPTION,
    QUIET_OPTION,
    app,
    data_dir,
    errors_to_exit,
    evaluation_dir,
    fail,
)

OUT_OPTION = typer.Option(None, "--out", help="Directory for compare-OLD-NEW.md and .json (default: evaluation/ of the home).")
TOLERANCE_OPTION = typer.Option(0.02, help="F1 drop tolerated, checked against the upper end of each tactic's 95% interval.")


def _show_problems(title: str, problems: list) -> None:
    if problems:
        typer.echo(f"{title} ({len(problems)}):", err=True)
        for found in problems:
            typer.echo(f"  {found}", err=True)


@app.command("import")
@errors_to_exit
def import_command(
    file: Path = typer.Argument(..., help="Export of an annotation tool, or the app's feedback database."),
    format: str = typer.Option(..., "--format", "-f", help="prodigy, labelstudio, doccano, argilla, csv or feedback."),
    out: Path = typer.Option(..., "--out", "-o", help="Corpus JSONL to write ('-' for stdout)."),
) -> None:
    """Convert labels from an annotation tool into corpus records (JSONL), checked against the
    taxonomy. Nothing is written when any label is wrong; texts whose annotators disagree are
    left out and listed.

    Examples:\n
      tactics import project-3.json --format labelstudio --out new/labelstudio.jsonl\n
      tactics import feedback.sqlite3 --format feedback --out new/feedback.jsonl
    """
    from ..io.writers import check_not_input
    from ..research.importers import import_file, write_records

    check_not_input(out, file)
    result = import_file(file, format)
    _show_problems("problems", result.problems)
    if not result.ok:
        fail(f"{len(result.problems)} problem(s) in {file}; nothing written")
    _show_problems("conflicts left out", result.conflicts)
    write_records(out, result.records)
    skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(result.skipped.items()))
    typer.echo(f"{len(result.records)} records written to {out} "
               f"({sum(bool(r.labels) for r in result.records)} with a tactic); "
               f"{len(result.conflicts)} conflicts left out; skipped: {skipped or 'nothing'}",
               err=True)


@app.command()
@errors_to_exit
def retrain(
    add: list[Path] = typer.Option(..., "--add", help="Corpus JSONL of new records (repeatable); a record with \"split\": \"test\" joins the test split."),
    name: Optional[str] = typer.Option(None, "--name", help="Candidate name (default: candidate-DATE-TIME)."),
    data: Optional[Path] = DATA_OPTION,
    data_out: Optional[Path] = typer.Option(None, "--data-out", help="Directory for the merged corpus (default: DATA/versions/NAME)."),
    models_dir: Optional[Path] = MODELS_DIR_OPTION,
    out: Optional[Path] = OUT_OPTION,
    params: str = typer.Option("{}", "--params", help="Training parameters as a JSON object, e.g. '{\"C\": 4}'."),
    seed: int = typer.Option(0, help="Random seed for training and the bootstrap."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Processes for the cross-validation folds."),
    quiet: bool = QUIET_OPTION,
) -> None:
    """Merge new records into a new corpus version, train a candidate on it, compare it with
    the default model on the same test split, and print the verdict: macro-F1 change and
    whether `tactics promote` would allow it.

    Example:\n
      tactics retrain --add new/labelstudio.jsonl --add new/feedback.jsonl --name spring
    """
    from datetime import datetime, timezone

    from ..evaluation.compare import verdict
    from ..research.retrain import retrain as run_retrain

    try:
        overrides = json.loads(params)
    except json.JSONDecodeError as exc:
        fail(f"--params is not JSON: {exc}", EXIT_USAGE)
    if not isinstance(overrides, dict):
        fail("--params must be a JSON object", EXIT_USAGE)
    name = name or datetime.now(timezone.utc).strftime("candidate-%Y%m%d-%H%M%S")
    result = run_retrain(add, name=name, data_dir=data_dir(data), data_out=data_out,
                         models_dir=models_dir, out_dir=evaluation_dir(out), params=overrides,
                         seed=seed, n_jobs=jobs)
    _show_problems("duplicates left out", result.merge.duplicates)
    _show_problems("conflicts left out", result.merge.conflicts)
    typer.echo(f"corpus {result.data_dir}: +{len(result.merge.train)} train, "
               f"+{len(result.merge.test)} test records")
    typer.echo(f"candidate {result.model}")
    if result.figures is None:
        typer.echo(f"no default model beside {result.model} to compare with")
        return
    typer.echo(f"comparison {result.comparison}")
    for line in verdict(result.figures):
        typer.echo(line)


@app.command()
@errors_to_exit
def calibrate(
    labelled: Path = typer.Argument(..., help="Labelled texts of your feed: corpus JSONL (as `tactics import` writes it)."),
    name: str = typer.Option(..., "--name", help="Name of the new model directory under --models-dir."),
    model: Optional[Path] = MODEL_OPTION,
    holdout: float = typer.Option(0.3, "--holdout", min=0.0, max=0.95, help="Share of the texts kept out of the fit to measure before/after (0: fit on all, no report)."),
    strength: float = typer.Option(10.0, "--strength", min=0.0, help="Shrinkage toward the base model, in texts: a tactic with n positives moves n / (n + strength) of the way to the feed's threshold."),
    seed: int = typer.Option(0, help="Random seed for the held-out draw and the bootstrap."),
    models_dir: Optional[Path] = MODELS_DIR_OPTION,
    quiet: bool = QUIET_OPTION,
) -> None:
    """Move a model's operating point to your own feed without retraining: fit per-tactic
    calibration and thresholds on labelled texts of the feed (shrunk toward the base model where
    a tactic has few examples), print before/after on the held-out part with bootstrap 95%
    intervals, and write model NAME, which shares the base model's weights.

    Example:\n
      tactics calibrate my-feed.jsonl --name my-feed --holdout 0.3\n
      tactics predict --model my-feed "..."
    """
    from ..research.calibrate import calibrate as run_calibrate
    from ..research.calibrate import render_report

    result = run_calibrate(labelled, name=name, model=model, holdout=holdout, strength=strength,
                           seed=seed, models_dir=models_dir)
    if result.report is not None:
        typer.echo(render_report(result.report))
    skipped = f"; {result.skipped} texts in languages the model does not read" if result.skipped else ""
    typer.echo(f"wrote {result.path}: fitted on {result.fitted} texts, measured on "
               f"{result.held_out}{skipped}")


@app.command("compare-models")
@errors_to_exit
def compare_models_command(
    old: Path = typer.Argument(..., help="The model to compare against: a directory, or a name under the home's models/ (e.g. default)."),
    new: Path = typer.Argument(..., help="The model to judge: a directory or a name."),
    data: Optional[Path] = typer.Option(None, "--data", help="Corpus whose test split decides (default: the one NEW was trained on)."),
    out: Optional[Path] = OUT_OPTION,
    tolerance: float = TOLERANCE_OPTION,
    seed: int = typer.Option(0, help="Random seed for the bootstrap."),
    quiet: bool = QUIET_OPTION,
) -> None:
    """Compare two existing models on one test split (per-tactic F1 deltas with bootstrap 95%
    intervals) without training anything; write compare-OLD-NEW.md and .json and print the
    verdict that `tactics promote` would reach.

    Example:\n
      tactics compare-models default spring
    """
    from ..evaluation.compare import verdict, write_comparison
    from ..research.retrain import compare_model_dirs

    comparison = compare_model_dirs(old, new, data_dir=data, seed=seed)
    typer.echo(f"comparison {write_comparison(comparison, evaluation_dir(out), tolerance)}")
    for line in verdict(comparison, tolerance):
        typer.echo(line)


@app.command()
@errors_to_exit
def promote(
    name: str = typer.Argument(..., help="Model directory under --models-dir to make the default."),
    models_dir: Optional[Path] = MODELS_DIR_OPTION,
    data: Optional[Path] = typer.Option(None, "--data", help="Corpus whose test split decides (default: the one NAME was trained on)."),
    tolerance: float = TOLERANCE_OPTION,
    force: bool = typer.Option(False, "--force", help="Promote even when some tactic really got worse."),
) -> None:
    """Make model NAME the default, unless some tactic's F1 really drops against the current
    default (bootstrap 95% interval entirely below -TOLERANCE). The old default is kept.

    Example:\n
      tactics promote spring
    """
    from ..research.retrain import promote as run_promote

    result = run_promote(name, models_dir=models_dir, data_dir=data, tolerance=tolerance,
                         force=force)
    for blocker in result.overridden:
        typer.echo(f"forced past: {blocker}", err=True)
    typer.echo(f"{name} is now {result.path}" + (f" (previous default kept as {result.backup})"
                                                  if result.backup else ""))


@app.command()
@errors_to_exit
def models(models_dir: Optional[Path] = MODELS_DIR_OPTION) -> None:
    """List the model directories with their version, corpus hash and test figures."""
    from ..research.retrain import list_models

    typer.echo(f"  {'name':28} {'version':36} {'corpus':12} {'macro F1':>8} {'FPR hn':>7}  created")
    for row in list_models(models_dir):
        if "error" in row:
            typer.echo(f"  {row['name']:28} unreadable: {row['error']}")
            continue
        figures = [f"{v:.3f}" if v is not None else "n/a"
                   for v in (row["test_macro_f1"], row["test_none_fpr_hard_negative"])]
        typer.echo(f"{'*' if row['default'] else ' '} {row['name']:28} {row['version']:36} "
                   f"{row['corpus_sha256'][:12]:12} {figures[0]:>8} {figures[1]:>7}  {row['created']}")


@app.command()
@errors_to_exit
def suggest(
    feed: Path = typer.Argument(..., help="Unlabelled snippets: .jsonl or .csv (optionally .gz), .parquet or .txt."),
    n: int = typer.Option(50, "--n", "-n", min=1, help="How many snippets to suggest."),
    out: Path = typer.Option(Path("suggestions.json"), "--out", "-o", help="Label Studio tasks (.json) or JSONL (.jsonl)."),
    label_config: Optional[Path] = typer.Option(None, "--label-config", help="Also write a Label Studio labelling config (XML) for the taxonomy."),
    text_field: str = typer.Option("text", help="Field or column holding the text."),
    id_field: str = typer.Option("id", help="Field or column holding the id."),
    tactic: Optional[str] = typer.Option(None, "--tactic", help="Rank for this tactic alone: likely carriers the model is least sure of (a tactic the model does not know yet: by similarity to its definition and keywords)."),
    model: Optional[Path] = MODEL_OPTION,
) -> None:
    """Pick the snippets most worth labelling next: those the model is least sure of, spread over
    different topics; with --tactic, those most worth labelling for one tactic.

    Examples:\n
      tactics suggest feed.parquet --n 50 --out round-4.json --label-config tactics.xml\n
      tactics suggest feed.parquet --tactic energy_blackmail --n 40 --out energy.json
    """
    from ..research.suggest import label_studio_config, write_suggestions
    from ..research.suggest import suggest as rank
    from ..taxonomy import load_taxonomy
    from ..io.writers import atomic_text_output, check_not_input

    check_not_input(out, feed)
    if label_config:
        check_not_input(label_config, feed)
    suggestions = rank(feed, model=model, n=n, text_field=text_field, id_field=id_field,
                       tactic=tactic)
    write_suggestions(suggestions, out)
    if label_config:
        with atomic_text_output(label_config) as handle:
            handle.write(label_studio_config(load_taxonomy()))
    typer.echo(f"{len(suggestions)} suggestions written to {out}", err=True)


@app.command("export-dataset")
@errors_to_exit
def export_dataset(
    path: Path = typer.Argument(..., help="New directory for the Hugging Face dataset."),
    data: Optional[Path] = DATA_OPTION,
) -> None:
    """Save the corpus as a Hugging Face DatasetDict (save_to_disk) with a dataset card.

    Example:\n
      tactics export-dataset dist/narrative-tactics-corpus
    """
    from ..research.retrain import export_dataset as run_export

    typer.echo(f"wrote {run_export(path, data_dir=data_dir(data))} (load it with datasets.load_from_disk)")
