"""Scores of one set of predictions; UAR (unweighted average recall) is the headline."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)


def uar(y_true, y_pred) -> float:
    """Unweighted average recall = mean per-class recall (``balanced_accuracy_score``), over
    the classes present in ``y_true``: one speaker's files, or a fold whose enrolment took a
    class's only recordings, may lack some (predicting one of those is simply an error)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true",
                                category=UserWarning)
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


N_BOOT = 2000


def speaker_confusions(preds: pd.DataFrame, classes: list[str]) -> tuple[np.ndarray, list]:
    """Per-speaker confusion counts, shape (n_speakers, K, K), for speaker bootstraps."""
    idx = {c: i for i, c in enumerate(classes)}
    speakers = sorted(preds["speaker"].unique())
    out = np.zeros((len(speakers), len(classes), len(classes)))
    pos = {s: i for i, s in enumerate(speakers)}
    for s, t, p in zip(preds["speaker"], preds["true"], preds["pred"], strict=True):
        out[pos[s], idx[t], idx[p]] += 1
    return out, speakers


#: Fewer test speakers than this: no interval and no test (a bootstrap over 2 or 3 speakers
#: only re-draws the speakers' own scores, and no paired test can reject).
MIN_SPEAKERS = 4


def resample_counts(rng: np.random.Generator, n: int, n_boot: int) -> np.ndarray:
    """(n_boot, n): how often each of ``n`` speakers is drawn in each resample with
    replacement."""
    return np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(n_boot)])


def weighted_uars(conf: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Pooled UAR of each row of ``weights`` (B, S): speaker s's confusion counted
    ``weights[b, s]`` times (a resample's counts, or a 0/1 mask of speakers)."""
    total = np.einsum("bs,skl->bkl", weights, conf)
    support = total.sum(axis=2)
    recall = np.divide(np.einsum("bkk->bk", total), support, out=np.zeros_like(support),
                       where=support > 0)
    return (recall * (support > 0)).sum(1) / np.maximum((support > 0).sum(1), 1)


def _boot_uars(conf: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Pooled UAR of ``n_boot`` resamples of the speakers (rows of ``conf``), drawn from
    ``seed``: the same seed draws the same speakers for any ``conf`` of that many speakers,
    which is what pairs two cells' resamples."""
    rng = np.random.default_rng(seed)
    return weighted_uars(conf, resample_counts(rng, conf.shape[0], n_boot))


def bootstrap_ci(conf: np.ndarray, n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, float]:
    """95% percentile CI of pooled UAR, resampling speakers (vectorised over resamples);
    NaN with fewer than :data:`MIN_SPEAKERS` speakers."""
    if conf.shape[0] < MIN_SPEAKERS:
        return float("nan"), float("nan")
    lo, hi = np.quantile(_boot_uars(conf, n_boot, seed), [0.025, 0.975])
    return float(lo), float(hi)


def paired_bootstrap_ci(conf_a: np.ndarray, conf_b: np.ndarray, n_boot: int = N_BOOT,
                        seed: int = 0) -> tuple[float, float]:
    """95% percentile CI of pooled UAR(a) - pooled UAR(b) over the same test speakers, each
    resample drawing the same speakers for both (a speaker-clustered paired bootstrap).

    ``conf_a``, ``conf_b``: per-speaker confusions (n_speakers, K, K), speakers in the same
    order (:func:`speaker_confusions` sorts them). NaN with fewer than :data:`MIN_SPEAKERS`.
    """
    if conf_a.shape != conf_b.shape:
        raise ValueError(f"paired bootstrap of cells with other speakers or classes: "
                         f"{conf_a.shape} vs {conf_b.shape}")
    if conf_a.shape[0] < MIN_SPEAKERS:
        return float("nan"), float("nan")
    diffs = _boot_uars(conf_a, n_boot, seed) - _boot_uars(conf_b, n_boot, seed)
    lo, hi = np.quantile(diffs, [0.025, 0.975])
    return float(lo), float(hi)


def pooled_uar(conf: np.ndarray) -> float:
    """UAR of all test files pooled: ``conf`` (n_speakers, K, K) summed over speakers."""
    total = conf.sum(axis=0)
    support = total.sum(axis=1)
    return float(np.mean(np.diag(total)[support > 0] / support[support > 0]))


def speaker_breakdown(conf: np.ndarray, speakers: list, genders: dict[str, str]) -> dict:
    """Who a cell fails, for its MLflow run (sortable in the UI): the worst test speaker's
    UAR, the 10th percentile of the speakers' UARs and, where the test speakers include both
    genders, the gap: pooled UAR of the female speakers' files minus the male speakers'.

    ``conf``, ``speakers``: :func:`speaker_confusions` of the cell's test predictions;
    ``genders``: speaker -> ``female`` / ``male`` / ``unknown``.
    """
    per = weighted_uars(conf, np.eye(len(speakers)))  # each speaker alone
    out = {"worst_speaker_uar": float(per.min()), "speaker_uar_p10": float(np.quantile(per, 0.1))}
    g = np.array([genders.get(s, "unknown") for s in speakers])
    if (g == "female").any() and (g == "male").any():
        out["gender_gap"] = pooled_uar(conf[g == "female"]) - pooled_uar(conf[g == "male"])
    return out
