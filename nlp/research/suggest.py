"""Active learning: which unlabelled snippets to label next.

A snippet is worth labelling when the model is unsure of it (some tactic scores near its
threshold) and when it is unlike the snippets already chosen (so one labelling round is not
spent on twenty copies of one story). Suggestions are ranked greedily: each next one maximises
its uncertainty times its TF-IDF cosine distance to the closest one already chosen.

For one tactic (``tactic=``, e.g. a tactic just added to the codebook), a snippet is worth
labelling when it likely carries the tactic and a label would teach the model much
(``tactic_priority``); a tactic the model does not know yet is looked for by the TF-IDF
similarity of the snippets to its definition and keywords.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from ..errors import DataError, TaxonomyError
from .importers.labelstudio import CHOICES_NAME, NONE_CHOICE
from ..model.predict import UNCERTAIN_MARGIN, TacticModel, load_model
from ..io.readers import Row, iter_rows
from ..taxonomy import Tactic, Taxonomy, load_taxonomy
from ..io.writers import atomic_text_output, json_line

__all__ = ["suggest", "uncertainty", "tactic_priority", "codebook_similarity", "diverse_order", "write_suggestions", "label_studio_tasks",
           "label_studio_config"]

BATCH = 1000


def uncertainty(probabilities: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Per text, how close its most borderline tactic is to that tactic's threshold: 1 on the
    threshold, falling linearly to 0 at a score of 0 or 1."""
    span = np.where(probabilities < thresholds, thresholds, 1 - thresholds)
    closeness = 1 - np.abs(probabilities - thresholds) / np.maximum(span, 1e-9)
    return closeness.max(axis=1)


def tactic_priority(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    """Per text, how much a label for one tactic is worth: how likely the text carries it (the
    score over the threshold, capped at 1) times (1 + how near the threshold it is) / 2. Texts on
    the threshold come first, then clear positives, then the rest, by score."""
    likely = np.minimum(probabilities / max(threshold, 1e-9), 1.0)
    closeness = uncertainty(probabilities[:, None], np.array([threshold]))
    return likely * (1 + closeness) / 2


def codebook_similarity(texts: list[str], tactic: Tactic) -> np.ndarray:
    """Per text, its TF-IDF cosine similarity to a tactic's definition and keywords, scaled so
    that the most similar text scores 1."""
    query = " ".join([tactic.definition, *tactic.keywords])
    X = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)).fit_transform([*texts, query])
    similarity = (X[:-1] @ X[-1].T).toarray().ravel()
    return similarity / max(similarity.max(), 1e-9)


def diverse_order(texts: list[str], scores: np.ndarray, n: int) -> list[int]:
    """Indices of ``n`` texts, chosen greedily by score times TF-IDF cosine distance to the
    nearest text already chosen (the first is the highest-scoring one)."""
    X = TfidfVectorizer(sublinear_tf=True).fit_transform(texts)

    def distance_to(k: int) -> np.ndarray:
        return np.clip(1 - (X @ X[k].T).toarray().ravel(), 0, 1)

    chosen = [int(np.argmax(scores))]
    nearest = distance_to(chosen[0])
    while len(chosen) < min(n, len(texts)):
        gain = scores * nearest
        gain[chosen] = -1
        chosen.append(int(np.argmax(gain)))
        nearest = np.minimum(nearest, distance_to(chosen[-1]))
    return chosen


def suggest(feed: str | Path, *, model: TacticModel | str | Path | None = None, n: int = 50,
            pool: int | None = None, text_field: str = "text", id_field: str = "id",
            tactic: str | None = None, taxonomy: Taxonomy | None = None) -> list[dict]:
    """The ``n`` snippets of ``feed`` (JSONL, CSV, Parquet or text) most worth labelling, best
    first, for all tactics or for ``tactic`` alone (a tactic of the codebook ``taxonomy``,
    default: the one in use). Diversity is sought among the ``pool`` best (default:
    max(10 n, 200))."""
    model = model if isinstance(model, TacticModel) else load_model(model)
    rows = [row for row in iter_rows(feed, text_field=text_field, id_field=id_field)
            if row.error is None]
    if not rows:
        raise DataError("no text to rank", path=str(feed))
    texts = [row.text for row in rows]
    P = np.vstack([model.predict_proba(texts[i:i + BATCH]) for i in range(0, len(texts), BATCH)])
    scores = _priority(texts, P, model, tactic, taxonomy)
    shortlist = np.argsort(-scores, kind="stable")[:pool or max(10 * n, 200)]
    order = diverse_order([texts[i] for i in shortlist], scores[shortlist], n)
    return [_suggestion(rank, rows[i], P[i], float(scores[i]), model)
            for rank, i in enumerate(shortlist[order], start=1)]


def _priority(texts: list[str], P: np.ndarray, model: TacticModel, tactic: str | None,
              taxonomy: Taxonomy | None) -> np.ndarray:
    if tactic is None:
        return uncertainty(P, model.thresholds)
    if tactic in model.tactics:
        k = model.tactics.index(tactic)
        return tactic_priority(P[:, k], float(model.thresholds[k]))
    codebook = taxonomy or load_taxonomy()
    if tactic not in codebook:
        raise TaxonomyError(codebook.unknown_message([tactic]))
    return codebook_similarity(texts, codebook[tactic])


def _suggestion(rank: int, row: Row, proba: np.ndarray, score: float, model: TacticModel) -> dict:
    return {"id": row.id, "text": row.text, "rank": rank, "uncertainty": round(score, 4),
            "predicted": [t for t, p, c in zip(model.tactics, proba, model.thresholds) if p >= c],
            "near_threshold": [t for t, p, c in zip(model.tactics, proba, model.thresholds)
                               if abs(p - c) < UNCERTAIN_MARGIN],
            "model": model.version}


def label_studio_tasks(suggestions: list[dict]) -> list[dict]:
    """Label Studio tasks: the text and ranking in ``data``, the model's tactics as a prediction
    (a pre-annotation the annotator corrects; the importer never reads predictions)."""
    return [{"data": {k: s[k] for k in ("id", "text", "rank", "uncertainty", "near_threshold")},
             "predictions": [{"model_version": s["model"], "result": [{
                 "from_name": CHOICES_NAME, "to_name": "text", "type": "choices",
                 "value": {"choices": s["predicted"] or [NONE_CHOICE]}}]}]}
            for s in suggestions]


def write_suggestions(suggestions: list[dict], out: str | Path) -> Path:
    """Write suggestions atomically: ``.json`` as Label Studio tasks, ``.jsonl`` one per line
    (id, text, rank, uncertainty, predicted, near_threshold, model)."""
    out = Path(out)
    if out.suffix not in (".json", ".jsonl"):
        raise DataError("suggestions are written as .json (Label Studio tasks) or .jsonl",
                        path=str(out))
    with atomic_text_output(out) as handle:
        if out.suffix == ".json":
            handle.write(json.dumps(label_studio_tasks(suggestions), indent=1,
                                    ensure_ascii=False) + "\n")
        else:
            handle.writelines(json_line(s) for s in suggestions)
    return out


def label_studio_config(taxonomy: Taxonomy) -> str:
    """A Label Studio labelling config for the taxonomy: one required multiple-choice control
    named ``tactics`` (what the importer reads), with ``none`` for a text without tactics."""
    choices = "\n".join(f"    <Choice value={quoteattr(t.id)} hint={quoteattr(t.definition)}/>"
                        for t in taxonomy.tactics)
    return f"""<View>
  <Text name="text" value="$text"/>
  <Choices name="{CHOICES_NAME}" toName="text" choice="multiple" required="true" showInline="false">
    <Choice value="{NONE_CHOICE}" hint="The text advances no tactic."/>
{choices}
  </Choices>
</View>
"""
