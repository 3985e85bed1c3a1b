"""Corpus commands: `validate`, `audit`, `agreement`, `relabel`, `datasheet`, `labels`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ._util import DATA_OPTION, app, data_dir, errors_to_exit, evaluation_dir, fail

CORPUS_ARGUMENT = typer.Argument(None, help="Corpus directory (default: training_data/ of the home, see `tactics --help`).")


@app.command()
@errors_to_exit
def validate(data: Optional[Path] = CORPUS_ARGUMENT) -> None:
    """Check the corpus: JSON, texts, labels, ids, duplicates and near-duplicates across splits."""
    from ..corpus.dataset import validate_corpus
    from ..apps.display import show_validation

    report = validate_corpus(data_dir(data))
    show_validation(report)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
@errors_to_exit
def audit(
    data: Optional[Path] = DATA_OPTION,
    split: str = typer.Option("train", help="Split to audit: train or test."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Where to write the suspects (JSONL; default: evaluation/audit.jsonl of the home)."),
    top: int = typer.Option(100, help="How many suspects to list."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Processes for cross-validation."),
) -> None:
    """List likely label errors: records whose labels disagree with out-of-fold scores."""
    from ..evaluation.audit import find_label_issues
    from ..corpus.dataset import in_language, load_corpus
    from ..taxonomy import load_taxonomy
    from ..corpus.dataset import SPLITS, split_path
    from ..io.writers import atomic_text_output, check_not_input, json_line

    output = output or evaluation_dir(None) / "audit.jsonl"
    check_not_input(output, *(split_path(data_dir(data), name) for name in SPLITS))
    records = in_language(load_corpus(data_dir(data))[split], "en")  # the TF-IDF model reads English
    issues = find_label_issues(records, load_taxonomy().ids, n_jobs=jobs)
    with atomic_text_output(output) as out:
        for issue in issues[:top]:
            out.write(json_line(issue))
    typer.echo(f"{len(issues)} suspect records in {split} ({len(issues) / len(records):.1%}); "
               f"the {min(top, len(issues))} most suspect written to {output}")


@app.command()
@errors_to_exit
def agreement(
    second: Path = typer.Argument(..., help="JSONL of an independent labelling pass: id and labels."),
    data: Optional[Path] = DATA_OPTION,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Where to write the figures (default: evaluation/agreement.json of the home)."),
) -> None:
    """Agreement per tactic (F1 and Cohen's kappa) between the corpus labels and a second pass."""
    from ..evaluation.audit import agreement as compare
    from ..corpus.dataset import load_corpus, read_labels
    from ..taxonomy import load_taxonomy
    from ..io.writers import atomic_text_output, check_not_input

    output = output or evaluation_dir(None) / "agreement.json"
    check_not_input(output, second)
    taxonomy = load_taxonomy()
    corpus = {r.id: list(r.labels) for split in load_corpus(data_dir(data), taxonomy).values()
              for r in split}
    passes = read_labels(second, taxonomy)
    unknown = sorted(set(passes) - set(corpus))
    if unknown:
        fail(f"{second}: ids not in the corpus: {', '.join(unknown[:5])}")
    result = compare(corpus, passes, taxonomy.ids)
    with atomic_text_output(output) as out:
        out.write(json.dumps(result, indent=2) + "\n")
    typer.echo(f"{result['records']} records: exact label-set match {result['exact_set_match']:.1%}, "
               f"macro F1 {result['macro_f1']:.3f}, mean kappa {result['mean_kappa']:.3f}; "
               f"{len(result['disagreements'])} disagreements (written to {output})")


@app.command("relabel")
@errors_to_exit
def relabel_command(
    corrections: Path = typer.Argument(..., help="JSONL of reviewed labels: id, labels (and an optional note)."),
    data: Optional[Path] = DATA_OPTION,
) -> None:
    """Apply reviewed label corrections (from an audit or an adjudication) to the corpus."""
    from ..corpus.dataset import read_labels, relabel

    labels = read_labels(corrections)  # checks every line first: file, line and field on error
    notes = {}
    for line in corrections.read_text(encoding="utf-8").splitlines():
        record = json.loads(line) if line.strip() else {}
        if record.get("note"):
            notes[str(record["id"])] = str(record["note"])
    changed = relabel(data_dir(data), labels, notes)
    typer.echo(f"{len(changed)} records relabelled")


@app.command()
@errors_to_exit
def datasheet(data: Optional[Path] = CORPUS_ARGUMENT) -> None:
    """Recompute the figures in the corpus datasheet (README.md of the corpus directory)."""
    from ..corpus.datasheet import update_datasheet

    typer.echo(f"updated {update_datasheet(data_dir(data))}")


labels_app = typer.Typer(add_completion=False, rich_markup_mode=None,
                         help="The codebook: list it, or add a tactic to the project's own.")
app.add_typer(labels_app, name="labels")


@labels_app.callback(invoke_without_command=True)
@errors_to_exit
def labels(context: typer.Context) -> None:
    """List the tactic ids, their families, definitions and boundaries, then the boundary rules,
    and say where the codebook in use lives."""
    if context.invoked_subcommand is not None:
        return
    from ..taxonomy import codebook_path, load_taxonomy

    taxonomy = load_taxonomy()
    for tactic in taxonomy.tactics:
        typer.echo(f"{tactic.id:24} {tactic.family:13} {tactic.definition}")
        for line in tactic.boundary:
            typer.echo(f"{'':38} {line}")
    if taxonomy.rules:
        typer.echo("\nBoundary rules (every tactic):")
        for rule in taxonomy.rules:
            typer.echo(f"  {rule}")
    path, source = codebook_path()
    typer.echo(f"\ncodebook: {path} ({source}; version {taxonomy.version}, "
               f"{len(taxonomy)} tactics)")


@labels_app.command("add")
@errors_to_exit
def labels_add(
    tactic_id: str = typer.Argument(..., metavar="ID", help="New tactic id (lowercase snake_case)."),
    family: str = typer.Option(..., "--family", help="Family of the tactic (`tactics labels` lists them)."),
    definition: str = typer.Option(..., "--definition", help="What a text that advances the tactic claims."),
    keyword: Optional[list[str]] = typer.Option(None, "--keyword", help="Keyword for the keyword baseline (repeatable)."),
    boundary: Optional[list[str]] = typer.Option(None, "--boundary", help="What else the tactic covers, or where its line runs (repeatable)."),
    family_definition: Optional[str] = typer.Option(None, "--family-definition", help="Definition of a new family (only when FAMILY is new)."),
) -> None:
    """Add a tactic to the project's own codebook (taxonomy.toml in the home; started as a copy
    of the codebook in use), checked as the shipped codebook is. Label examples, then retrain.

    Example:\n
      tactics labels add energy_blackmail --family pressure --definition "Europe is told it will freeze without Russian gas unless it drops its support for Ukraine." --keyword "freeze" --keyword "gas"
    """
    from ..taxonomy import add_tactic, load_taxonomy

    path = add_tactic(tactic_id, family, definition, keywords=keyword or (),
                      boundary=boundary or (), family_definition=family_definition)
    typer.echo(f"added {tactic_id} to {path} ({len(load_taxonomy(path))} tactics)")
