"""PNG figures for the evaluation report (matplotlib, non-interactive backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import precision_recall_curve  # noqa: E402

__all__ = ["plot_f1_bars", "plot_confusion", "plot_pr_curves", "plot_reliability",
           "plot_learning_curve"]


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_f1_bars(series: dict[str, dict[str, float]], path: Path) -> Path:
    """Grouped horizontal bars: F1 per tactic for each system (model, baselines)."""
    tactics = list(next(iter(series.values())))
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(tactics) + 1.5))
    height = 0.8 / len(series)
    for i, (name, f1) in enumerate(series.items()):
        ax.barh(np.arange(len(tactics)) + i * height, [f1[t] for t in tactics], height, label=name)
    ax.set_yticks(np.arange(len(tactics)) + 0.4 - height / 2, tactics)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1 on the test split")
    ax.legend(loc="lower right")
    return _save(fig, path)


def plot_confusion(matrix: np.ndarray, tactics: list[str], path: Path) -> Path:
    """Rows: true tactic (plus 'none'); columns: predicted tactic (plus 'none'); cell = texts."""
    labels = tactics + ["none"]
    fig, ax = plt.subplots(figsize=(9, 8))
    ax.imshow(np.log1p(matrix), cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=70, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    for (i, j), value in np.ndenumerate(matrix):
        if value:
            ax.text(j, i, int(value), ha="center", va="center", fontsize=6)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Tactic confusion / co-occurrence on the test split")
    return _save(fig, path)


def plot_pr_curves(Y: np.ndarray, P: np.ndarray, tactics: list[str], thresholds: np.ndarray,
                   path: Path) -> Path:
    """One precision-recall curve per tactic, with the tuned threshold's operating point."""
    cols = 5
    rows = int(np.ceil(len(tactics) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.6 * rows), squeeze=False)
    for k, tactic in enumerate(tactics):
        ax = axes[k // cols][k % cols]
        if Y[:, k].any():
            precision, recall, _ = precision_recall_curve(Y[:, k], P[:, k])
            ax.plot(recall, precision)
            hit = P[:, k] >= thresholds[k]
            tp = (hit & (Y[:, k] == 1)).sum()
            ax.plot(tp / max(Y[:, k].sum(), 1), tp / max(hit.sum(), 1), "o", color="crimson")
        ax.set_title(tactic, fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
    for k in range(len(tactics), rows * cols):
        axes[k // cols][k % cols].axis("off")
    fig.supxlabel("recall")
    fig.supylabel("precision")
    return _save(fig, path)


def plot_reliability(Y: np.ndarray, P: np.ndarray, path: Path, bins: int = 10) -> Path:
    """Reliability diagram over all tactics pooled: mean score vs observed frequency per bin."""
    y, p = Y.ravel(), P.ravel()
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    mean_p = [p[which == b].mean() for b in range(bins) if (which == b).any()]
    freq = [y[which == b].mean() for b in range(bins) if (which == b).any()]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.plot(mean_p, freq, "o-")
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed frequency")
    ax.set_title("Reliability (all tactics, test split)")
    return _save(fig, path)


def plot_learning_curve(points: list[dict], path: Path) -> Path:
    """Test macro F1 and hard-negative FPR against the number of training records."""
    sizes = [p["train_records"] for p in points]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(sizes, [p["macro_f1"] for p in points], "o-", label="test macro F1")
    ax.plot(sizes, [p["none_fpr_hard_negative"] for p in points], "s--",
            label="none FPR on hard negatives")
    ax.set_xlabel("training records")
    ax.set_ylim(0, 1)
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, path)
