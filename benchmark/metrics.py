"""Scores of one set of predictions; UAR (unweighted average recall) is the headline."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)


def uar(y_true, y_pred) -> float:
    """Unweighted average recall = mean per-class recall (``balanced_accuracy_score``)."""
    return float(balanced_accuracy_score(y_true, y_pred))


def scores(y_true, y_pred, classes: list[str]) -> dict:
    """UAR, weighted accuracy (plain accuracy), macro-F1, per-class P/R/F1, confusion matrix.

    Per-class values and the confusion matrix follow the order of ``classes``; a class absent
    from ``y_true`` gets recall 0 by sklearn's convention and is left out of the UAR (as
    ``balanced_accuracy_score`` does).
    """
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, labels=classes,
                                                       zero_division=0)
    return {
        "uar": uar(y_true, y_pred),
        "wa": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=sorted(set(y_true)), average="macro",
                                   zero_division=0)),
        "per_class": {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                          "support": int(support[i])} for i, c in enumerate(classes)},
        "confusion": confusion_matrix(y_true, y_pred, labels=classes).tolist(),
    }


def summarise(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0 for a single value)."""
    v = np.asarray(list(values), dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0
