"""A plug-in model: scikit-learn's nearest centroid classifier with its shrinkage tuned.

The contract (docs/extending.md): a ``benchmark.models.ModelSpec`` named as its entry point:
``make(params, seed, class_weighted)`` returns an unfitted estimator, ``space(trial)`` draws
its parameters from an Optuna trial, ``defaults`` are used untuned (``n_trials = 0``). serbench
puts it behind its scalers and selection in a Pipeline, tunes it under the same nested,
speaker-grouped protocol and budget as every built-in model, and logs it to MLflow.
"""

from __future__ import annotations

from sklearn.neighbors import NearestCentroid

from benchmark.models import ModelSpec


def _make(params: dict, seed: int, class_weighted: bool):
    # no class weights: a centroid per class is already blind to class sizes
    threshold = params["shrink_threshold"]
    return NearestCentroid(shrink_threshold=threshold if threshold > 0 else None)


NEAREST_CENTROID = ModelSpec(
    "nearest_centroid", _make,
    lambda t: {"shrink_threshold": t.suggest_float("shrink_threshold", 0.0, 1.0)},
    {"shrink_threshold": 0.0},
    design="the example plug-in's defaults, set before any run on data")
