"""Human-readable terminal output for the CLI (rich), kept apart from the logic it shows."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["show_prediction", "show_validation"]


def show_prediction(text: str, result: dict, model) -> None:
    console = Console()
    if not result["labels"]:
        top = max(result["scores"], key=result["scores"].get)
        console.print(Text.assemble(("no tactic", "bold"), f" (highest score: {top} "
                                    f"{result['scores'][top]:.2f})"))
    table = Table("tactic", "family", "score", "evidence", show_lines=False)
    for tactic in result["labels"]:
        evidence = result["evidence"].get(tactic, {})
        phrases = ", ".join(p["text"] for p in evidence.get("phrases", []))
        flag = " (uncertain)" if tactic in result["uncertain"] else ""
        table.add_row(tactic, model.meta["families"][tactic],
                      f"{result['scores'][tactic]:.2f}{flag}", Text(phrases))
    if result["labels"]:
        console.print(table)
    if result.get("note"):
        console.print(f"note: {result['note']}")
    console.print(f"[dim]model {result['model']}[/dim]")


def show_validation(report) -> None:
    console = Console()
    splits = report.stats.get("splits", {})
    if splits:
        table = Table("split", "records", "no tactic", "hard negatives", "2+ labels",
                      "words min/median/max")
        for name, s in splits.items():
            table.add_row(name, str(s["records"]), str(s["none"]), str(s["hard_negatives"]),
                          f"{s['multi_label_share']:.0%}",
                          f"{s['words_min']}/{s['words_median']:.0f}/{s['words_max']}")
        console.print(table)
        tactics = Table("tactic", *splits.keys())
        first = next(iter(splits.values()))
        for tactic in first["per_tactic"]:
            tactics.add_row(tactic, *(str(s["per_tactic"][tactic]) for s in splits.values()))
        console.print(tactics)
    if "train_template_share" in report.stats:
        console.print(f"template reuse in train (word 4-gram Jaccard > 0.5 with another text): "
                      f"{report.stats['train_template_share']:.2%}")
    for problem in report.problems:
        console.print(Text(str(problem)), style="red", soft_wrap=True)
    console.print(f"{len(report.problems)} problem(s)" if report.problems else "corpus OK")
