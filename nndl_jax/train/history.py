"""Training history: per-epoch metric records, JSON and CSV files, and learning-curve plots.

A history is a plain list of dicts, one per epoch, e.g.::

    {"epoch": 3, "train_loss": 0.21, "train_accuracy": 0.94, "train_error": 0.06,
     "train_precision": ..., "train_recall": ..., "train_f1": ...,
     "val_loss": 0.25, "val_accuracy": ..., ..., "seconds": 0.02}

Epochs count from 1; ``seconds`` is the wall time of the epoch and its validation (the first
includes compiling). Scores come from a confusion matrix ``C[i, j]`` (true class i predicted as
j) summed over the epoch, with the book's definitions (section 2.7) and scikit-learn's macro
average: precision ``P_c = C_cc / Σ_i C_ic``, recall ``R_c = C_cc / Σ_j C_cj``, F1
``F_c = 2 C_cc / (Σ_i C_ic + Σ_j C_cj)``, each 0 when its denominator is 0, averaged over the
classes that occur as a label or a prediction.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nndl_jax._json import jsonable

__all__ = [
    "SCORES",
    "scores_from_confusion",
    "summarize",
    "column",
    "jsonable",
    "write_json",
    "read_json",
    "write_csv",
    "plot_curves",
]

#: The per-split scores of every record, in the order of the CSV columns.
SCORES = ("loss", "accuracy", "error", "precision", "recall", "f1")


def scores_from_confusion(confusion: Any) -> dict[str, float]:
    """Accuracy, error rate and macro precision, recall and F1 from a confusion matrix.

    Args:
      confusion: counts ``C``, shape ``(K, K)``, rows true classes, columns predictions.

    Returns:
      ``{"accuracy", "error", "precision", "recall", "f1"}`` as Python floats (NaN for an empty
      matrix).
    """
    c = np.asarray(confusion, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"confusion must be a square (K, K) matrix, got shape {c.shape}")
    total = c.sum()
    if total == 0:
        return {k: math.nan for k in SCORES[1:]}
    tp = np.diag(c)
    predicted, actual = c.sum(axis=0), c.sum(axis=1)
    present = (predicted + actual) > 0

    def macro(num, den):
        per_class = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        return float(per_class[present].mean())

    accuracy = float(tp.sum() / total)
    return {
        "accuracy": accuracy,
        "error": 1.0 - accuracy,
        "precision": macro(tp, predicted),
        "recall": macro(tp, actual),
        "f1": macro(2 * tp, predicted + actual),
    }


def summarize(loss_sum: Any, count: Any, confusion: Any) -> dict[str, float]:
    """The scores of :data:`SCORES` from an epoch's sums: mean loss and the confusion scores."""
    n = int(count)
    scores = scores_from_confusion(confusion)
    return {"loss": float(loss_sum) / n if n else math.nan, **scores}


def column(history: Sequence[dict[str, Any]], name: str) -> np.ndarray:
    """One field over the epochs as a float array (NaN where a record lacks it)."""
    return np.array([float(r.get(name, math.nan)) for r in history], dtype=np.float64)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader (or a resumed run) sees the old file or the
    new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json(history: Sequence[dict[str, Any]], path: str | Path, **extra: Any) -> Path:
    """Write ``{"history": [...], **extra}`` as JSON, atomically; returns the path.

    Non-finite floats are written as ``null`` (strict JSON has no NaN).
    """
    payload = {"history": [jsonable(r) for r in history], **jsonable(extra)}
    path = Path(path)
    atomic_write_text(path, json.dumps(payload, indent=2))
    return path


def read_json(path: str | Path) -> list[dict[str, Any]]:
    """The history list of a file written by :func:`write_json` (``null`` read back as NaN)."""
    records = json.loads(Path(path).read_text())["history"]
    return [{k: (math.nan if v is None else v) for k, v in r.items()} for r in records]


def write_csv(history: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write one row per epoch with a header of every field seen, atomically; returns the path."""
    fields: list[str] = []
    for record in history:
        fields.extend(k for k in record if k not in fields)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(history)
    os.replace(tmp, path)
    return path


def plot_curves(
    history: Sequence[dict[str, Any]],
    path: str | Path | None = None,
    *,
    metrics: Sequence[str] = ("loss", "error", "f1"),
    best_epoch: int | None = None,
    title: str | None = None,
):
    """Learning curves: one panel per metric, train and validation against the epoch.

    Args:
      history: the records (fields ``train_<metric>`` and ``val_<metric>``).
      path: where to save a PNG (the figure is closed after saving); None keeps it open.
      metrics: which metrics to draw, from :data:`SCORES`.
      best_epoch: mark this epoch with a vertical line (the early-stopping choice).
      title: figure title.

    Returns:
      The figure, or the saved path when ``path`` is given.
    """
    import matplotlib.pyplot as plt

    unknown = [m for m in metrics if m not in SCORES]
    if unknown or not metrics:
        raise ValueError(f"metrics must be a non-empty subset of {SCORES}, got {list(metrics)}")
    epochs = column(history, "epoch")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for split, style in (("train", "-"), ("val", "--")):
            values = column(history, f"{split}_{metric}")
            if np.isfinite(values).any():
                ax.plot(epochs, values, style, label=split)
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", lw=0.8, ls=":", label=f"best ({best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is None:
        return fig
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
