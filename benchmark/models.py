"""The classifiers, each beside its Optuna search space, as scikit-learn Pipelines.

Every pipeline is ``SpeakerStandardScaler -> MinMaxScaler -> [selection] -> classifier``:
scalers and selectors are fitted inside the pipeline, so on training rows only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna
from sklearn.feature_selection import SelectKBest, SelectPercentile, VarianceThreshold, f_classif
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.svm import SVC, LinearSVC

from benchmark.preprocessing import SpeakerStandardScaler
from benchmark.span import RowSpan


@dataclass(frozen=True)
class ModelSpec:
    """A classifier factory, its search space and its untuned defaults."""

    name: str
    make: Callable[..., Any]  # (params, seed, class_weight) -> estimator
    space: Callable[[optuna.Trial], dict]
    defaults: dict
    sample_weighted: bool = False  # class weighting via fit(sample_weight=...) (XGBoost)
    input: str = "features"  # "features": the bank's table; "audio": file paths (the CNN)
    version: str = "1"  # bumped when the estimator's code changes what it computes
    final_params: dict = field(default_factory=dict)  # for the deployed model only
    # what chose the defaults and space, and on which corpora: reports say it beside numbers
    # measured on those corpora
    design: str = "serbench's initial defaults, set before any run on data"
    designed_on: tuple[str, ...] = ()
    # types beyond skops's defaults that the fitted estimator holds (a plug-in's own), so its
    # final model can be saved and loaded (benchmark.serving.TRUSTED_TYPES)
    trusted_types: tuple[str, ...] = ()

    def fingerprint(self) -> dict:
        """What a cell's numbers depend on of this spec: its version, defaults and search
        space (each ``suggest_*`` call with its name and range), so a change to any of them
        makes new cells instead of resuming stale checkpoints."""
        recorder = _SpaceRecorder()
        self.space(recorder)
        return {"version": self.version, "defaults": self.defaults,
                "final_params": self.final_params, "space": recorder.calls}


class _SpaceRecorder:
    """Stands in for an ``optuna.Trial``: records the suggestions a search space asks for."""

    def __init__(self):
        self.calls: list[list] = []

    def suggest_float(self, name, low, high, **kw):
        self.calls.append(["float", name, low, high, sorted(kw.items())])
        return low

    def suggest_int(self, name, low, high, **kw):
        self.calls.append(["int", name, low, high, sorted(kw.items())])
        return low

    def suggest_categorical(self, name, choices):
        self.calls.append(["categorical", name, list(choices)])
        return choices[0]


def _svm_rbf(p, seed, balanced):
    svc = SVC(kernel="rbf", C=p["C"], gamma=p["gamma"], cache_size=500,
              class_weight="balanced" if balanced else None, random_state=seed)
    if p.get("calibrated"):  # the deployed model's probabilities, as scikit-learn advises
        from sklearn.calibration import CalibratedClassifierCV

        return CalibratedClassifierCV(svc, ensemble=False, cv=3)
    return svc


def _svm_linear(p, seed, balanced):
    # Solved in the training rows' span (benchmark.span): the same problem, so that a set
    # wider than its folds are long (ComParE) is as affordable to tune as the others. The
    # constant column is liblinear's intercept, penalised as liblinear penalises it.
    return make_pipeline(RowSpan(constant=1.0), LinearSVC(
        C=p["C"], fit_intercept=False, class_weight="balanced" if balanced else None,
        random_state=seed, max_iter=20000))


def _rf(p, seed, balanced):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=p["n_estimators"], max_features=p["max_features"],
        min_samples_leaf=p["min_samples_leaf"], class_weight="balanced" if balanced else None,
        random_state=seed, n_jobs=1)


def _xgb(p, seed, balanced):
    from xgboost import XGBClassifier

    return XGBClassifier(
        n_estimators=p["n_estimators"], max_depth=p["max_depth"],
        learning_rate=p["learning_rate"], subsample=p["subsample"],
        colsample_bytree=p["colsample_bytree"], tree_method="hist", max_bin=64,
        random_state=seed, n_jobs=1, verbosity=0)


def _cnn(p, seed, balanced):
    from benchmark.cnn import LogMelCNN

    return LogMelCNN(lr=p["lr"], width=p["width"], dropout=p["dropout"],
                     max_epochs=p["max_epochs"], n_frames=p["n_frames"],
                     speaker_norm=p.get("speaker_norm", False), class_weight=balanced,
                     arch=p["arch"], val_fraction=p["val_fraction"], seed=seed)


def _logreg(p, seed, balanced):
    return LogisticRegression(C=p["C"], max_iter=3000,
                              class_weight="balanced" if balanced else None, random_state=seed)


def _knn(p, seed, balanced):
    return KNeighborsClassifier(n_neighbors=p["n_neighbors"], weights=p["weights"])


MODELS: dict[str, ModelSpec] = {s.name: s for s in (
    ModelSpec("svm_rbf", _svm_rbf,
              lambda t: {"C": t.suggest_float("C", 0.3, 300.0, log=True),
                         "gamma": t.suggest_float("gamma", 1e-4, 1e-1, log=True)},
              {"C": 10.0, "gamma": "scale"},
              final_params={"calibrated": True},  # calibrated probabilities to serve
              design="C = 10, gamma = scale: the field's reference configuration"),
    ModelSpec("svm_linear", _svm_linear,
              lambda t: {"C": t.suggest_float("C", 1e-4, 1.0, log=True)},
              {"C": 0.01}, version="2"),  # 2: solved in the training rows' span
    # Tree ensembles on ~2,000 features dominate the budget: the spaces keep them to
    # sqrt/log2 features per split and at most 300 trees (RF) / 200 rounds (XGBoost).
    ModelSpec("rf", _rf,
              lambda t: {"n_estimators": t.suggest_int("n_estimators", 100, 300, step=100),
                         "max_features": t.suggest_categorical("max_features",
                                                               ["sqrt", "log2"]),
                         "min_samples_leaf": t.suggest_int("min_samples_leaf", 1, 4)},
              {"n_estimators": 200, "max_features": "sqrt", "min_samples_leaf": 1}),
    ModelSpec("xgboost", _xgb,
              lambda t: {"n_estimators": t.suggest_int("n_estimators", 100, 200, step=50),
                         "max_depth": t.suggest_int("max_depth", 2, 4),
                         "learning_rate": t.suggest_float("learning_rate", 0.05, 0.3, log=True),
                         "subsample": t.suggest_float("subsample", 0.6, 1.0),
                         "colsample_bytree": t.suggest_float("colsample_bytree", 0.1, 0.3)},
              {"n_estimators": 150, "max_depth": 3, "learning_rate": 0.1, "subsample": 0.8,
               "colsample_bytree": 0.2},
              sample_weighted=True),
    ModelSpec("logreg", _logreg,
              lambda t: {"C": t.suggest_float("C", 1e-3, 10.0, log=True)},
              {"C": 0.1}),
    # The CNN's recipe (docs/cnn.md): the 1-D network on every training speaker, the one-cycle
    # schedule's length mattering more than its width; tuned around it.
    ModelSpec("cnn", _cnn,
              lambda t: {"lr": t.suggest_float("lr", 1e-3, 6e-3, log=True),
                         "dropout": t.suggest_float("dropout", 0.1, 0.5),
                         "max_epochs": t.suggest_int("max_epochs", 30, 50, step=10)},
              {"lr": 3e-3, "width": 32, "dropout": 0.3, "max_epochs": 40, "n_frames": 300,
               "arch": "1d", "val_fraction": 0.0},
              input="audio", version="2",  # 2: one-cycle AdamW recipe, eval-set pruning
              design="the recipe of docs/cnn.md, chosen by UAR on RAVDESS and TESS folds",
              designed_on=("ravdess", "tess")),
    ModelSpec("knn", _knn,
              lambda t: {"n_neighbors": t.suggest_int("n_neighbors", 1, 30),
                         "weights": t.suggest_categorical("weights", ["uniform", "distance"])},
              {"n_neighbors": 10, "weights": "distance"}),
)}


BUILT_IN = tuple(MODELS)
PLUGINS = "serbench.models"  # the entry-point group of plug-in models


def _plugin_models() -> dict[str, ModelSpec]:
    """Installed plug-in models: each entry point loads a :class:`ModelSpec` of its name. A
    plug-in that fails to load, or shadows another name, is named in a warning and left out."""
    import warnings
    from importlib.metadata import entry_points

    out: dict[str, ModelSpec] = {}
    for ep in entry_points(group=PLUGINS):
        try:
            spec = ep.load()
        except Exception as exc:  # noqa: BLE001 - any plug-in error is its own, named
            warnings.warn(f"model plug-in {ep.name!r} ({ep.value}) failed to load: "
                          f"{type(exc).__name__}: {exc}", stacklevel=2)
            continue
        if not isinstance(spec, ModelSpec) or spec.name != ep.name or ep.name in MODELS:
            warnings.warn(f"model plug-in {ep.name!r} ({ep.value}) is not a ModelSpec named "
                          f"{ep.name!r}, or shadows a model: left out", stacklevel=2)
            continue
        out[ep.name] = spec
    return out


MODELS.update(_plugin_models())


def plugin_models() -> list[str]:
    return sorted(set(MODELS) - set(BUILT_IN))


SELECT = "select_percentile"  # a tuned parameter of the pipeline, not of the classifier


def build_pipeline(spec: ModelSpec, params: dict, *, speaker_norm: bool, seed: int = 0,
                   class_weight: bool = True, select_k: int | None = None) -> Pipeline:
    """The model's pipeline. Feature models take the table (with its ``speaker`` column);
    audio models (the CNN) take the ``path``/``speaker`` columns and normalise internally.
    ``select_k`` (the config's fixed SelectKBest) or ``params[SELECT]`` (a tuned percentile:
    the F-test ranks only the columns that vary in the training rows) add a selection step."""
    params = dict(params)
    percentile = params.pop(SELECT, None)
    if spec.input == "audio":  # the network standardises its own log-mel bands
        p = {**spec.defaults, **params, "speaker_norm": speaker_norm}
        return Pipeline([("clf", spec.make(p, seed, class_weight))])
    steps = [("speaker_norm", SpeakerStandardScaler(enabled=speaker_norm)),
             ("scale", MinMaxScaler())]
    if select_k:
        steps.append(("select", SelectKBest(f_classif, k=select_k)))
    elif percentile is not None and percentile < 100:
        steps += [("constant", VarianceThreshold()),
                  ("select", SelectPercentile(f_classif, percentile=percentile))]
    steps.append(("clf", spec.make({**spec.defaults, **params}, seed, class_weight)))
    return Pipeline(steps)


def fit_params(spec: ModelSpec, y, class_weight: bool) -> dict:
    """Keyword arguments for ``Pipeline.fit`` (class weights for models that take them so)."""
    if class_weight and spec.sample_weighted:
        from sklearn.utils.class_weight import compute_sample_weight

        return {"clf__sample_weight": compute_sample_weight("balanced", y)}
    return {}
