"""A model that takes audio: the MLflow pyfunc every final model of a run is logged as.

It carries the fitted pipeline (skops, no pickle), the feature config, the columns it was
trained on and the label vocabulary, and computes features with the very function training
used (:func:`features.parallel.compute`), so a file predicted through the logged model gets
exactly the features the cache holds for it.

Input: a DataFrame with a ``path`` column, or an ``audio_b64`` column of base64-encoded file
bytes (any format libsndfile reads), and optionally ``speaker`` (speaker-normalised models
standardise each speaker's rows of one request together) and ``enrol`` (true: an enrolment
recording of its speaker, for a model trained with an enrolment mode; not scored).
Output: ``emotion``, ``confidence``, one ``p_<emotion>`` column per class, and ``error``
(empty when fine).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow.pyfunc  # noqa: E402

from benchmark.preprocessing import Normalisation  # noqa: E402

PIPELINE = "pipeline.skops"
META = "meta.json"


#: The types beyond skops's defaults that a serbench pipeline may hold. A fixed list in the
#: code, not data read from the artifact it vets: loading a model file that holds any other
#: type fails, whoever wrote the file.
TRUSTED_TYPES: tuple[str, ...] = (
    "benchmark.cnn.estimator.LogMelCNN",
    "benchmark.preprocessing.SpeakerStandardScaler",
    "benchmark.span.RowSpan",
    "features.config.FeatureConfig",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.feature_selection._univariate_selection.f_classif",  # the selection step's score
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.tree._tree.Tree",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
)


def trusted_types() -> list[str]:
    """:data:`TRUSTED_TYPES` and those the installed model plug-ins declare (code, never data
    read from the artifact being vetted)."""
    from benchmark.models import MODELS

    return sorted({*TRUSTED_TYPES, *(t for s in MODELS.values() for t in s.trusted_types)})


def dump_pipeline(pipeline) -> bytes:
    """The pipeline as skops bytes; refuses one that :func:`trusted_types` could not load."""
    from skops.io import dumps, get_untrusted_types

    blob = dumps(pipeline)
    unknown = sorted(set(get_untrusted_types(data=blob)) - set(trusted_types()))
    if unknown:
        raise TypeError(f"the pipeline holds types outside serbench's allow-list {unknown}; "
                        "add them to benchmark.serving.TRUSTED_TYPES if they are safe")
    return blob


def load_pipeline(path: str | Path):
    """A pipeline written by :func:`dump_pipeline`; only allow-listed types are built."""
    from skops.io import load

    return load(path, trusted=trusted_types())


def set_vector(fs, path: str, data: bytes | None) -> np.ndarray:
    """One file's features in a feature set's columns, through the training code path
    (:func:`features.parallel.compute`, once per extractor of the set)."""
    from features.parallel import compute

    parts = []
    for part in fs.parts:
        row = compute(part.extractor, "features", path, data=data)
        parts.append(row if part.indices is None else row[part.indices])
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def _enrolment_ready(ok: list[int], vectors, speakers: np.ndarray, enrol: np.ndarray,
                     errors: list[str]) -> list[int]:
    """The rows of ``ok`` whose speaker has a usable enrolment recording; the others get an
    error saying so."""
    enrolled = {speakers[i] for i in np.flatnonzero(enrol) if vectors[i] is not None}
    for i in ok:
        if speakers[i] not in enrolled:
            errors[i] = f"no usable enrolment recording of speaker {speakers[i]!r}"
    return [i for i in ok if speakers[i] in enrolled]


def _enrolment_normalised(fs, columns: list[str], ok: list[int], vectors, speakers: np.ndarray,
                          enrol: np.ndarray, prior: dict) -> np.ndarray:
    """The rows ``ok`` in the model's columns, standardised per speaker with the statistics
    of that speaker's enrolment rows shrunk towards the training speakers' (``prior``), as
    training did."""
    from benchmark.preprocessing import enrolment_normalise

    usable = [i for i in np.flatnonzero(enrol) if vectors[i] is not None]
    index = [*ok, *usable]
    pick = pd.Index(fs.feature_names).get_indexer(columns)
    M = np.stack([vectors[i] for i in index])[:, pick]
    spk = speakers[index]
    where = {i: k for k, i in enumerate(index)}
    drawn = {s: np.array([where[i] for i in usable if speakers[i] == s])
             for s in set(speakers[ok])}
    return enrolment_normalise(M, spk, np.arange(len(ok)), drawn,
                               (np.asarray(prior["mean"]), np.asarray(prior["var"])),
                               prior["strength"])


def predict_frame(pipeline, fs, columns: list[str], classes: list[str],
                  model_input: pd.DataFrame, audio_input: bool = False,
                  normalisation: bool | str = False, enrolment_prior: dict | None = None
                  ) -> pd.DataFrame:
    """Features of the model's set for every row, then class probabilities; a bad row gets
    its error.

    ``normalisation``: the model's speaker_norm mode. An enrolment model standardises each
    speaker's rows with the statistics of that speaker's rows marked ``enrol`` (which are
    not scored); without any it refuses, rather than guess globally.

    ``audio_input``: the pipeline reads files itself (the CNN); base64 rows are written to
    temporary files for it, after the same audio validation as every other model.
    """
    from benchmark import audio

    if "path" not in model_input.columns and "audio_b64" not in model_input.columns:
        raise ValueError("input needs a 'path' or an 'audio_b64' column")
    n = len(model_input)
    vectors: list[np.ndarray | None] = [None] * n
    errors = [""] * n
    with tempfile.TemporaryDirectory() as tmp:
        files = [""] * n
        for i, row in enumerate(model_input.to_dict("records")):
            path = row.get("path") or f"<row {i}>"
            try:
                data = None
                if row.get("audio_b64"):
                    data = base64.b64decode(row["audio_b64"], validate=True)
                if audio_input:  # validate as every path does; the network reads the file
                    audio.load(str(path), data=data)
                    vectors[i] = np.zeros(0, np.float32)
                else:
                    vectors[i] = set_vector(fs, str(path), data)
                files[i] = str(path)
                if data is not None and audio_input:
                    files[i] = str(Path(tmp) / f"row{i}.audio")
                    Path(files[i]).write_bytes(data)
            except (ValueError, OSError, FloatingPointError, binascii.Error) as exc:
                errors[i] = str(exc)
        speakers_all = (model_input["speaker"].astype(str).to_numpy()
                        if "speaker" in model_input.columns else np.array(["unknown"] * n))
        enrol = (model_input["enrol"].fillna(False).astype(bool).to_numpy()
                 if "enrol" in model_input.columns else np.zeros(n, bool))
        mode = Normalisation.parse(normalisation)
        if mode.enrols:
            if not enrol.any():
                raise ValueError(f"this model was trained with speaker_norm {mode.label!r}: "
                                 "it needs enrolment recordings of the speaker (serbench "
                                 "predict --enrol FILES), not a global guess")
        for i in np.flatnonzero(enrol):
            if not errors[i]:
                errors[i] = "enrolment recording (not scored)"
        ok = [i for i in range(n) if vectors[i] is not None and not enrol[i]]
        proba = np.full((n, len(classes)), np.nan)
        if mode.enrols and ok:
            ok = _enrolment_ready(ok, vectors, speakers_all, enrol, errors)
        if ok:
            speakers = speakers_all[ok]
            if audio_input:
                X = pd.DataFrame({"path": [files[i] for i in ok], "speaker": speakers})
            else:
                values = np.stack([vectors[i] for i in ok])
                if mode.enrols:
                    values = _enrolment_normalised(fs, columns, ok, vectors, speakers_all,
                                                   enrol, enrolment_prior)
                X = pd.DataFrame(values, columns=columns if mode.enrols else fs.feature_names)
                X = X[columns]
                X.insert(0, "speaker", speakers)
            proba[ok] = class_probabilities(pipeline, X, len(classes))
    out = pd.DataFrame({"path": model_input["path"].astype(str) if "path" in model_input
                        else [""] * n})
    best = np.where(np.isnan(proba).all(axis=1), -1, np.nan_to_num(proba, nan=-1).argmax(1))
    out["emotion"] = [classes[b] if b >= 0 else "" for b in best]
    out["confidence"] = [float(proba[i, b]) if b >= 0 else np.nan for i, b in enumerate(best)]
    for k, c in enumerate(classes):
        out[f"p_{c}"] = proba[:, k]
    out["error"] = errors
    return out


def class_probabilities(pipeline, X: pd.DataFrame, n_classes: int) -> np.ndarray:
    """``predict_proba`` where the classifier has it; else a softmax of decision scores."""
    if hasattr(pipeline, "predict_proba"):
        try:
            return pipeline.predict_proba(X)
        except AttributeError:
            pass
    scores = np.atleast_2d(pipeline.decision_function(X))
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class AudioEmotionModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from features import FeatureConfig
        from features.sets import FeatureSet, feature_set

        meta = json.loads(Path(context.artifacts["meta"]).read_text())
        self.pipeline = load_pipeline(context.artifacts["pipeline"])
        spec = meta.get("feature_set", "bank")
        config = FeatureConfig.from_stored(meta["features"])
        self.features = (FeatureSet("logmel", ()) if spec == "logmel" else
                         feature_set(spec, config))
        self.columns = meta["columns"]
        self.classes = meta["classes"]
        self.audio_input = meta.get("audio_input", False)
        self.normalisation = meta.get("normalisation", False)
        self.enrolment_prior = meta.get("enrolment_prior")

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return predict_frame(self.pipeline, self.features, self.columns, self.classes,
                             model_input, self.audio_input, self.normalisation,
                             self.enrolment_prior)


def log_audio_model(pipeline, feature_config, feature_set: str, columns: list[str],
                    classes: list[str], example_path: str | None = None,
                    audio_input: bool = False, name: str = "model",
                    normalisation: bool | str = False, enrolment_prior: dict | None = None):
    """Log ``pipeline`` as an audio-in pyfunc under the active run; returns the ModelInfo.

    MLflow "models from code": the model is :mod:`benchmark.model_code` (a file, by path) and
    its artifacts, never a pickled Python object.
    """
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    with tempfile.TemporaryDirectory() as tmp:
        pipe_path, meta_path = Path(tmp) / PIPELINE, Path(tmp) / META
        pipe_path.write_bytes(dump_pipeline(pipeline))
        meta = {"features": feature_config.to_dict(), "feature_set": feature_set,
                "columns": list(columns),
                "classes": list(classes), "audio_input": audio_input,
                "normalisation": normalisation,
                **({"enrolment_prior": enrolment_prior} if enrolment_prior else {})}
        meta_path.write_text(json.dumps(meta, indent=1))
        signature = ModelSignature(
            inputs=Schema([*[ColSpec("string", c, required=False)
                             for c in ("path", "audio_b64", "speaker")],
                           ColSpec("boolean", "enrol", required=False)]),
            outputs=Schema([ColSpec("string", "path"), ColSpec("string", "emotion"),
                            ColSpec("double", "confidence"),
                            *[ColSpec("double", f"p_{c}") for c in classes],
                            ColSpec("string", "error")]))
        example = pd.DataFrame({"path": [example_path or "clip.wav"], "speaker": ["unknown"]})
        if Normalisation.parse(normalisation).enrols:  # its example enrols the clip itself
            example = pd.concat([example.assign(enrol=True), example.assign(enrol=False)],
                                ignore_index=True)
        with _quiet("mlflow.pyfunc"):  # its INFO line per model breaks the progress bar
            return mlflow.pyfunc.log_model(
                name=name, python_model=str(Path(__file__).with_name("model_code.py")),
                artifacts={"pipeline": str(pipe_path), "meta": str(meta_path)},
                signature=signature, input_example=example,
                pip_requirements=["serbench", "scikit-learn", "xgboost", "skops", "pandas"])


@contextlib.contextmanager
def _quiet(logger: str):
    """Raise one named logger to WARNING for the duration (never a blanket filter)."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(level)
