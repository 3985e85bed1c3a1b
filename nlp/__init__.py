"""narrative-tactics: tag media snippets with the pro-Kremlin narrative tactics they advance.

    >>> from nlp import load_model
    >>> model = load_model()
    >>> [result] = model.predict(["The West is tired; the aid will stop after the election."])
    >>> result.labels
    ['western_fatigue']

A feed report (trends by source and period, coordinated repetition, examples) from a DataFrame
with ``text``, ``source`` and ``date`` columns: ``nlp.feed_report(frame, out="report/")``.
"""

from .corpus.dataset import load_corpus, load_hf_dataset, validate_corpus
from .errors import DataError, InputError, ModelError, TacticsError, TaxonomyError
from .model.predict import Prediction, TacticModel, load_model, predict
from .taxonomy import Taxonomy, add_tactic, load_taxonomy

__all__ = [
    "load_model", "predict", "Prediction", "TacticModel", "calibrate",
    "load_taxonomy", "Taxonomy", "add_tactic",
    "load_corpus", "load_hf_dataset", "validate_corpus",
    "feed_report", "run_report", "FeedReport", "ReportOptions",
    "TacticsError", "TaxonomyError", "DataError", "ModelError", "InputError",
]
__version__ = "0.1.0"

_REPORT = ("feed_report", "run_report", "FeedReport", "ReportOptions")


def __getattr__(name: str):
    """The feed report and ``calibrate`` are imported when first used (they pull in the apps
    and the researchers' loop)."""
    if name in _REPORT:
        from .apps import report
        return getattr(report, name)
    if name == "calibrate":
        from .research.calibrate import calibrate
        return calibrate
    raise AttributeError(f"module 'nlp' has no attribute {name!r}")
