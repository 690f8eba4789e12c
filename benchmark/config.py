"""Experiment configs: TOML in, typed frozen objects out; an unknown key is an error naming it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from benchmark.augment import AugmentConfig
from benchmark.labels import EMOTIONS
from benchmark.locations import RUNS
from features.config import GROUPS, FeatureConfig
from features.schema import ConfigError, build
from features.sets import feature_set

#: An experiment's name is a folder under its results folder: a plain name, never a path.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
PROTOCOLS = ("loso", "group_kfold", "cross_corpus", "cross_gender", "random_split")
ABLATIONS = ("none", "single", "leave_one_out", "both")
# which cells refit a final model on all their data and log it as an audio-in MLflow model:
# "best", each dataset's best cell per normalisation (what `serbench predict`, `register` and
# the app serve), once every cell's folds are done; "all"; "none"
FINAL_MODELS = ("best", "all", "none")


@dataclass(frozen=True)
class ProtocolConfig:
    """How outer folds are drawn, and the inner folds tuning uses.

    ``random_split`` ignores speakers: it is offered for comparison with papers that use it,
    and every output marks it speaker-dependent because it inflates scores.
    """

    kind: str = "loso"
    k: int = 6  # outer folds of group_kfold
    inner_k: int = 3  # inner grouped folds for tuning
    train: tuple[str, ...] = ()  # cross_corpus: training corpora (none: every ordered pair)
    test: tuple[str, ...] = ()  # cross_corpus: test corpora
    test_size: float = 0.2  # random_split
    repeats: int = 1  # random_split: how many random splits

    def __post_init__(self):
        if self.kind not in PROTOCOLS:
            raise ValueError(f"protocol.kind {self.kind!r} is not one of {PROTOCOLS}")
        if self.kind == "cross_corpus" and bool(self.train) != bool(self.test):
            raise ValueError("protocol cross_corpus needs both train = [...] and test = [...], "
                             "or neither (every ordered pair of the corpora found)")
        if self.k < 2 or self.inner_k < 2:
            raise ValueError("protocol.k and protocol.inner_k must be >= 2")

    @property
    def speaker_dependent(self) -> bool:
        return self.kind == "random_split"

    def describe(self, n_folds: int) -> str:
        """Words for a table caption, e.g. ``leave-one-speaker-out, 24 folds``."""
        if self.kind == "loso":
            return f"leave-one-speaker-out, {n_folds} folds"
        if self.kind == "group_kfold":
            return f"speaker-independent {n_folds}-fold cross-validation"
        if self.kind == "cross_corpus":
            return f"cross-corpus, train {'+'.join(self.train)}, test {'+'.join(self.test)}"
        if self.kind == "cross_gender":
            return ("cross-gender, train on one gender's speakers, test on the other's "
                    "(2 folds: female to male, male to female)")
        return (f"SPEAKER-DEPENDENT random {1 - self.test_size:.0%}/{self.test_size:.0%} split"
                f" x{n_folds} (inflated; for comparison only)")


@dataclass(frozen=True)
class TuningConfig:
    """Optuna budget per (model, outer fold): whichever of trials or seconds runs out first."""

    n_trials: int = 12
    timeout_s: float = 600.0  # a safety cap; the trial count is what keeps runs reproducible
    pruning: bool = True
    inner_k: int | None = None  # inner folds; None: the protocol's inner_k
    # Univariate selection tuned with the model: each trial also draws the percentile of
    # columns SelectPercentile(f_classif) keeps (fitted on the trial's training rows, like
    # the scalers); () : no selection step. A wide set's noisy columns cost a linear model
    # more across speakers than within them, and how many to keep is the data's to say.
    select_percentiles: tuple[int, ...] = ()
    per_model: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    # a feature set's overrides (by its label), applied after the model's: e.g. a set too
    # wide to tune within the budget keeps its reference configuration
    per_set: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self):
        if self.n_trials < 0 or self.timeout_s <= 0:
            raise ValueError("tuning.n_trials must be >= 0 and tuning.timeout_s > 0")
        bad = [p for p in self.select_percentiles if not 0 < p <= 100]
        if bad:
            raise ValueError(f"tuning.select_percentiles {bad}: each must be in (0, 100]")
        for section in ("per_model", "per_set"):  # overrides: the same keys and types as here
            table = getattr(self, section)
            if table:
                object.__setattr__(self, section, MappingProxyType({
                    name: MappingProxyType({k: getattr(build(TuningConfig, dict(values),
                                                             f"[tuning.{section}.{name}]"), k)
                                            for k in values})
                    for name, values in table.items()}))

    def for_cell(self, model: str, variant: str) -> TuningConfig:
        """The budget of one cell: the model's overrides, then its feature set's."""
        values = {**self.per_model.get(model, {}), **self.per_set.get(variant, {})}
        return dataclasses.replace(self, per_model=MappingProxyType({}),
                                   per_set=MappingProxyType({}), **values)


@dataclass(frozen=True)
class ExperimentConfig:
    name: str
    corpora: tuple[str, ...] = ("*",)  # "*": every corpus found under the data root
    combine: bool = False  # one dataset of all corpora (speakers stay corpus-qualified)
    data_root: str | None = None
    synthetic_fallback: bool = True  # no corpus found: use the built-in synthetic corpus
    label_map: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    drop_labels: tuple[str, ...] = ()
    features: FeatureConfig = field(default_factory=FeatureConfig)  # the bank's parameters
    feature_sets: tuple[str, ...] = ("bank",)  # bank, bank[g1,g2], egemaps, compare, ... a+b
    # named banks of other parameters, each evaluated as one more set beside feature_sets
    # (same models, budget and folds): how a design choice of the bank is compared. In TOML,
    # [bank_variants.<name>] lists the keys of [features] it changes; bank_variants =
    # "<path>.toml" reads those tables from a file under the config's folder (shared).
    bank_variants: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    ablation: str = "none"
    models: tuple[str, ...] = ("svm_rbf", "rf", "xgboost")
    # normalisation modes (benchmark.preprocessing.Normalisation): false/"none", true/
    # "transductive", "enrol:k", "enrol_neutral:k"
    speaker_norm: tuple[bool | str, ...] = (False, True)
    class_weight: bool = True
    select_k: int | None = None  # SelectKBest(f_classif) inside the pipeline
    fixed_params: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    tuning: TuningConfig = field(default_factory=TuningConfig)
    augmentation: AugmentConfig = field(default_factory=AugmentConfig)
    final_model: str = "best"  # one of FINAL_MODELS
    # an import: table without rows for some files: "stop" (say which) or "drop" them from
    # every set, as unreadable files are
    missing_features: str = "stop"
    seed: int = 0
    results_dir: str = RUNS  # ordinary runs; `make reference` writes the committed results/
    scheduler: str | None = None  # a Dask scheduler address (tcp://host:8786); None: local

    def __post_init__(self):
        from benchmark.models import MODELS

        if not NAME.fullmatch(self.name) or ".." in self.name:
            raise ValueError(f"name {self.name!r}: a plain name of letters, digits, '_', '.' "
                             "and '-' (it names a folder under the results folder), not a path")
        from benchmark.preprocessing import Normalisation

        modes = tuple(Normalisation.parse(v) for v in self.speaker_norm)  # raises naming it
        object.__setattr__(self, "speaker_norm", tuple(m.config_value for m in modes))
        for key in ("corpora", "models", "speaker_norm"):
            values = getattr(self, key)
            if not values or len(set(values)) != len(values):
                raise ValueError(f"{key} must name at least one value, each once: "
                                 f"{list(values)}")
        unknown = [m for m in self.models if m not in MODELS]
        if unknown:
            from benchmark.models import plugin_models

            plugins = plugin_models()
            raise ValueError(f"unknown model(s) {unknown}; known: {sorted(MODELS)} ("
                             + (f"plug-ins installed: {plugins}" if plugins else
                                "no plug-in installed") + "; docs/extending.md)")
        if any(m.enrols for m in modes):
            if self.augmentation.copies:
                raise ValueError("speaker_norm enrolment modes and augmentation exclude each "
                                 "other (an augmented copy has no enrolment of its own)")
            audio = [m for m in self.models if MODELS[m].input == "audio"]
            if audio:
                raise ValueError(f"speaker_norm enrolment modes are for feature models; "
                                 f"{audio} normalise(s) log-mels itself: run it in another "
                                 "experiment")
        for section, names in (("tuning.per_model", self.tuning.per_model),
                               ("fixed_params", self.fixed_params)):
            unknown = sorted(set(names) - set(MODELS))
            if unknown:
                raise KeyError(f"[{section}]: unknown model(s) {unknown}; known: "
                               f"{sorted(MODELS)}")
        for model, params in self.fixed_params.items():
            known = MODELS[model].defaults
            unknown = sorted(set(params) - set(known))
            if unknown:
                raise KeyError(f"[fixed_params.{model}]: unknown parameter(s) {unknown}; "
                               f"known: {sorted(known)}")
        if self.missing_features not in ("stop", "drop"):
            raise ValueError(f"missing_features {self.missing_features!r} is not one of "
                             "('stop', 'drop')")
        if self.final_model not in FINAL_MODELS:
            raise ValueError(f"final_model {self.final_model!r} is not one of {FINAL_MODELS}")
        if self.ablation not in ABLATIONS:
            raise ValueError(f"ablation {self.ablation!r} is not one of {ABLATIONS}")
        for label in (*self.label_map.keys(), *self.drop_labels):
            if label not in EMOTIONS:
                raise ValueError(f"label {label!r} is not in the vocabulary {EMOTIONS}")
        if not self.feature_sets or len(set(self.feature_sets)) != len(self.feature_sets):
            raise ValueError(f"feature_sets must name at least one set, each once: "
                             f"{list(self.feature_sets)}")
        for spec in self.feature_sets:
            feature_set(spec, self.features)  # raises naming an unknown set or group
        taken = {*self.feature_sets, "logmel"}
        for name, config in self.bank_variants.items():
            if not NAME.fullmatch(name) or name in taken or _names_a_set(name):
                raise ValueError(f"[bank_variants.{name}]: a variant's name is a plain name "
                                 "(letters, digits, '_', '.', '-') that names no feature set")
            if not isinstance(config, FeatureConfig):
                raise TypeError(f"[bank_variants.{name}]: expected a FeatureConfig, given "
                                f"{type(config).__name__}")
        if self.ablation != "none" and "bank" not in self.feature_sets:
            raise ValueError("an ablation compares bank subsets with the bank: add \"bank\" "
                             "to feature_sets")
        overrides = (*self.tuning.per_model.values(), *self.tuning.per_set.values())
        if self.select_k and (self.tuning.select_percentiles or any(
                t.get("select_percentiles") for t in overrides)):
            raise ValueError("select_k (a fixed SelectKBest) and tuning.select_percentiles (a "
                             "tuned selection) exclude each other: set one")
        labels = {*self.feature_variants(), "logmel"}  # "logmel": what the CNN reads
        unknown = sorted(set(self.tuning.per_set) - labels)
        if unknown:
            raise KeyError(f"[tuning.per_set]: unknown feature set(s) {unknown}; this "
                           f"experiment's: {sorted(labels)}")

    def to_dict(self) -> dict[str, Any]:
        def plain(v):
            if isinstance(v, MappingProxyType | dict):
                return {k: plain(x) for k, x in v.items()}
            if isinstance(v, FeatureConfig):  # its own stored form (FeatureConfig.to_dict)
                return plain(v.to_dict())
            if dataclasses.is_dataclass(v):
                return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
            if isinstance(v, tuple):
                return [plain(x) for x in v]
            return v
        return plain(self)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]

    def feature_variants(self) -> dict[str, Variant]:
        """Every feature set to evaluate, by the label tables show: the configured sets, the
        bank variants (by name), then the ablation's bank subsets (``only_mfcc`` =
        ``bank[mfcc]``, ``without_mfcc``)."""
        out = {spec: Variant(spec, "set") for spec in self.feature_sets}
        out.update({name: Variant("bank", "set", config=config)
                    for name, config in self.bank_variants.items()})
        groups = self.features.groups

        def subset(gs):
            return f"bank[{','.join(gs)}]"
        if self.ablation in ("single", "both"):
            out.update({f"only_{g}": Variant(subset((g,)), "ablation", "bank") for g in groups})
        if self.ablation in ("leave_one_out", "both") and len(groups) > 1:
            out.update({f"without_{g}": Variant(subset([x for x in groups if x != g]),
                                                "ablation", "bank") for g in groups})
        return out


@dataclass(frozen=True)
class Variant:
    """A feature set as an experiment uses it: ``role`` is ``set`` (a configured set, in
    the main tables) or ``ablation`` (a bank subset, compared with ``base``); ``config``: a
    bank variant's parameters (``None``: the experiment's ``features``)."""

    spec: str
    role: str
    base: str | None = None
    config: FeatureConfig | None = None


def _names_a_set(name: str) -> bool:
    """Whether ``name`` already means a feature set (``bank``, ``egemaps``, a plug-in...)."""
    try:
        feature_set(name)
    except (ValueError, KeyError):
        return False
    return True


def _variants_file(name: str, beside: Path) -> dict:
    """The tables of ``bank_variants = "<file>.toml"``: a TOML file under the config's own
    folder, by a relative path (so that several experiments share one list of alternatives,
    and a config reads nothing outside its folder)."""
    where = beside / name
    inside = where.resolve().is_relative_to(beside.resolve())
    if Path(name).is_absolute() or not inside or where.suffix != ".toml":
        raise ConfigError(f"{beside} bank_variants = {name!r}: a .toml file under the "
                          "config's own folder, by a relative path")
    try:
        return _read_toml(where)
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file (bank_variants)") from None


def _read_toml(path: Path) -> dict:
    """A TOML file's tables; one error naming the file if it is not TOML."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def _bank_variants(values, features: dict, where: str) -> MappingProxyType:
    """``[bank_variants]``: each inner table the keys of ``[features]`` it changes; or the
    relative path of a TOML file under the config's folder that holds those tables."""
    if isinstance(values, str):
        values = _variants_file(values, Path(where).parent)
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise ConfigError(f"{where} [bank_variants]: expected a table of tables, one per "
                          f"variant, given {values!r}")
    return MappingProxyType({
        name: FeatureConfig.from_dict({**(features if isinstance(features, dict) else {}),
                                       **changed}, f"{where} [bank_variants.{name}]")
        for name, changed in values.items()})


def load_experiment(path: str | Path, **overrides) -> ExperimentConfig:
    """Read and validate an experiment TOML. ``overrides`` replace top-level values."""
    path = Path(path)
    raw = _read_toml(path)
    raw.setdefault("name", path.stem)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    where = str(path)

    def tables(section: str):
        """A table of tables (model name -> values), each inner table a mapping."""
        def convert(v):
            if not isinstance(v, dict) or not all(isinstance(x, dict) for x in v.values()):
                raise ConfigError(f"{where} [{section}]: expected a table of tables, one per "
                                  f"model, given {v!r}")
            return MappingProxyType({k: MappingProxyType(dict(x)) for k, x in v.items()})
        return convert

    convert = {
        "features": lambda v: FeatureConfig.from_dict(v, f"{where} [features]"),
        "protocol": lambda v: build(ProtocolConfig, v, f"{where} [protocol]"),
        "tuning": lambda v: build(TuningConfig, v, f"{where} [tuning]",
                                  {"per_model": tables("tuning.per_model"),
                                   "per_set": tables("tuning.per_set")}),
        "augmentation": lambda v: build(AugmentConfig, v, f"{where} [augmentation]"),
        "fixed_params": tables("fixed_params"),
        "bank_variants": lambda v: _bank_variants(v, raw.get("features", {}), where),
    }
    return build(ExperimentConfig, raw, where, convert)


__all__ = ["GROUPS", "ExperimentConfig", "ProtocolConfig", "TuningConfig", "load_experiment"]
