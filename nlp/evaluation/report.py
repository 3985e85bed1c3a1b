"""Markdown rendering of the evaluation report (figures come from ``evaluate``)."""

from __future__ import annotations

from ..io.markdown import markdown_table

__all__ = ["render_report"]


def _f(x: float) -> str:
    return f"{x:.3f}"


def _summary_rows(systems: dict[str, dict]) -> list[list]:
    return [[name, _f(m["macro_f1"]), _f(m["micro_f1"]), _f(m["samples_f1"]), _f(m["none_fpr"]),
             _f(m.get("none_fpr_hard_negative", 0.0)), _f(m.get("none_fpr_neutral", 0.0))]
            for name, m in systems.items()]


def _excerpt(text: str, limit: int = 280) -> str:
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[:limit] + " …"


def _long_text_section(long_texts: dict | None, split: str) -> str:
    if not long_texts:
        return f"No text of 150+ words in the {split} split."
    return (f"{long_texts['records']} {split} texts of {long_texts['min_words']}+ words "
            f"({long_texts['with_tactic']} with a tactic). A long text is scored as a whole and in "
            f"sentence windows; a tactic's score rises toward its best window when that is higher.\n\n"
            + markdown_table(["scoring", "macro F1 (tactics present)", "none FPR"],
                             [[name, _f(v["macro_f1"]), _f(v["none_fpr"])]
                              for name, v in long_texts["variants"].items()]))


def _shift_section(shift: dict | None) -> str:
    if not shift:
        return "The corpus has no `shift_dev.jsonl`."
    registers = markdown_table(["register", "texts", "macro F1 (tactics present)", "none FPR"],
                               [[g, v["records"], _f(v["macro_f1"]), _f(v["none_fpr"])]
                                for g, v in shift["by_register"].items()])
    per_tactic = markdown_table(["tactic", "precision", "recall", "F1", "support"],
                                [[t, _f(v["precision"]), _f(v["recall"]), _f(v["f1"]), v["support"]]
                                 for t, v in shift["per_tactic"].items()])
    return f"""{shift['records']} English texts in the registers of real media (claim records,
translated state-media English, long web articles, fact-checkers' debunks), written by writers
who wrote no training text. Never trained on; the thresholds were tuned on it together with the
out-of-fold train scores (each weighing half, with the none-FPR weight raised until this split's
none-FPR was within the model's budget), so these figures are optimistic for that reason.

Macro F1 **{_f(shift['macro_f1'])}**, micro F1 {_f(shift['micro_f1'])}; none FPR {_f(shift['none_fpr'])},
on hard negatives {_f(shift.get('none_fpr_hard_negative', float('nan')))}.

{registers}

{per_tactic}

### Long texts (shift split)

{_long_text_section(shift.get('long_texts'), 'shift')}"""


def _language_section(languages: dict, shift: dict | None = None) -> str:
    if not languages:
        return "The test split has no text in another language."
    shift_text = ""
    if shift:
        shift_text = ("\n\nThe same on the other languages' shift_dev records. Their thresholds and "
                      "long-text window were chosen on them, so these figures are optimistic:\n\n"
                      + _language_table(shift))
    return ("Each text goes through `predict` as a user's would: its language is identified, then "
            "the multilingual model scores it.\n\n" + _language_table(languages) + shift_text)


def _language_table(languages: dict) -> str:
    return markdown_table(
        ["language", "texts", "identified", "macro F1", "micro F1", "none FPR", "FPR hard neg."],
        [[lang, v["records"], _f(v["identified"]), _f(v["macro_f1"]), _f(v["micro_f1"]),
          _f(v["none_fpr"]), _f(v.get("none_fpr_hard_negative", float("nan")))]
         for lang, v in languages.items()])


def _noise_section(noise: dict) -> str:
    if not noise:
        return "Not measured."
    return ("The same test texts with one kind of noise (seeded; `nlp/evaluation/noise.py`); cost = "
            "clean macro F1 minus noisy macro F1.\n\n" + markdown_table(
                ["noise", "macro F1", "cost"],
                [[kind, _f(v["macro_f1"]), _f(v["cost"])] for kind, v in noise.items()]))


def render_report(report: dict, tactics: list[str]) -> str:
    model = report["model"]
    test = model["test"]
    systems = {"model": test, **report["baselines"]}
    summary = markdown_table(
        ["system", "macro F1", "micro F1", "samples F1", "none FPR", "FPR hard neg.", "FPR other"],
        _summary_rows(systems))
    per_tactic = markdown_table(
        ["tactic", "precision", "recall", "F1", "support", "keyword F1", "threshold", "ECE"],
        [[t, _f(test["per_tactic"][t]["precision"]), _f(test["per_tactic"][t]["recall"]),
          _f(test["per_tactic"][t]["f1"]), test["per_tactic"][t]["support"],
          _f(report["baselines"]["keyword rule"]["per_tactic"][t]["f1"]),
          _f(model["thresholds"][t]), _f(model["ece"][t])] for t in tactics])
    genres = markdown_table(["genre", "texts", "macro F1 (tactics present)", "none FPR"],
                            [[g, v["records"], _f(v["macro_f1"]), _f(v["none_fpr"])]
                             for g, v in test["by_genre"].items()])
    cv = report["cross_validation"]
    cv_text = "not run (--folds 1)" if not cv else markdown_table(
        ["figure", "mean", "std", "folds"],
        [[key, _f(cv[key]["mean"]), _f(cv[key]["std"]), ", ".join(_f(v) for v in cv[key]["values"])]
         for key in ("macro_f1", "micro_f1", "none_fpr", "none_fpr_hard_negative")])
    errors = markdown_table(
        ["id", "genre", "true", "predicted", "miss", "text"],
        [[e["id"], e["genre"], ", ".join(e["true"]) or "none", ", ".join(e["predicted"]) or "none",
          _f(e["miss"]), _excerpt(e["text"])] for e in report["worst_errors"]])
    data = report["data"]
    plots = report["plots"]
    long_text = _long_text_section(report.get("long_texts"), "test")
    return f"""# Evaluation report

Model `{model['version']}` (`{model['path']}`), corpus SHA-256 `{data['corpus_sha256'][:16]}…`
({data['train_records']} train / {data['test_records']} test records; model trained on this
corpus: {'yes' if data['model_trained_on_this_corpus'] else '**no**'}). Produced by
`tactics evaluate`; every figure below comes from that one run.

How the figures were obtained: the test split was written separately from the training split,
checked by `tactics validate` to hold no near-duplicate of a training text, and never used to
choose parameters or thresholds (those are tuned on out-of-fold train scores and the shift_dev
split). Both splits were written
for this project, so these figures measure the model on the project's own data; expect lower
figures on real media.

## Summary (test split)

{summary}

"none FPR" is the share of texts with no tactic that get at least one; "hard neg." are texts
that use a tactic's vocabulary without advancing it (fact-checks, analysis, attributed reports,
Ukrainian and Western statements); "other" are the remaining texts with no tactic. The keyword
rule predicts a tactic when one of its taxonomy keywords occurs; "most frequent" predicts, per
tactic, the more frequent answer in train (always "no").

## Per tactic (test split)

{per_tactic}

Mean expected calibration error: {_f(model['ece_mean'])}.

![F1 per tactic]({plots['f1']})

![Precision-recall curves; the dot is the tuned threshold]({plots['pr_curves']})

![Confusion and co-occurrence]({plots['confusion']})

![Reliability]({plots['reliability']})

## By genre (test split)

{genres}

## Long texts (test split)

{long_text}

## Register-shift dev split

{_shift_section(report.get("shift_dev"))}

## Other languages (test split, through the language router)

{_language_section(report.get("languages") or {}, report.get("languages_shift_dev"))}

## Feed noise (test split)

{_noise_section(report.get("noise") or {})}

## Cross-validation on the train split

{cv_text}

## The {len(report['worst_errors'])} worst errors (test split)

{errors}
"""
