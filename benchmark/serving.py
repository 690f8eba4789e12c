"""A model that takes audio: the MLflow pyfunc every final model of a run is logged as.

It carries the fitted pipeline (skops, no pickle), the feature config, the columns it was
trained on and the label vocabulary, and computes features with the very function training
used (:func:`features.parallel.compute`), so a file predicted through the logged model gets
exactly the features the cache holds for it.

Input: a DataFrame with a ``path`` column, or an ``audio_b64`` column of base64-encoded file
bytes (any format libsndfile reads), and optionally ``speaker`` (speaker-normalised models
standardise each speaker's rows of one request together). Output: ``emotion``,
``confidence``, one ``p_<emotion>`` column per class, and ``error`` (empty when fine).
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


def dump_pipeline(pipeline) -> bytes:
    """The pipeline as skops bytes; refuses one that :data:`TRUSTED_TYPES` could not load."""
    from skops.io import dumps, get_untrusted_types

    blob = dumps(pipeline)
    unknown = sorted(set(get_untrusted_types(data=blob)) - set(TRUSTED_TYPES))
    if unknown:
        raise TypeError(f"the pipeline holds types outside serbench's allow-list {unknown}; "
                        "add them to benchmark.serving.TRUSTED_TYPES if they are safe")
    return blob


def load_pipeline(path: str | Path):
    """A pipeline written by :func:`dump_pipeline`; only allow-listed types are built."""
    from skops.io import load

    return load(path, trusted=list(TRUSTED_TYPES))


def set_vector(fs, path: str, data: bytes | None) -> np.ndarray:
    """One file's features in a feature set's columns, through the training code path
    (:func:`features.parallel.compute`, once per extractor of the set)."""
    from features.parallel import compute

    parts = []
    for part in fs.parts:
        row = compute(part.extractor, "features", path, data=data)
        parts.append(row if part.indices is None else row[part.indices])
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def predict_frame(pipeline, fs, columns: list[str], classes: list[str],
                  model_input: pd.DataFrame, audio_input: bool = False) -> pd.DataFrame:
    """Features of the model's set for every row, then class probabilities; a bad row gets
    its error.

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
        ok = [i for i in range(n) if vectors[i] is not None]
        proba = np.full((n, len(classes)), np.nan)
        if ok:
            speakers = (model_input["speaker"].astype(str).to_numpy()[ok]
                        if "speaker" in model_input.columns else np.array(["unknown"] * len(ok)))
            if audio_input:
                X = pd.DataFrame({"path": [files[i] for i in ok], "speaker": speakers})
            else:
                X = pd.DataFrame(np.stack([vectors[i] for i in ok]),
                                 columns=fs.feature_names)[columns]
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
        config = FeatureConfig.from_dict(meta["features"])
        self.features = (FeatureSet("logmel", ()) if spec == "logmel" else
                         feature_set(spec, config))
        self.columns = meta["columns"]
        self.classes = meta["classes"]
        self.audio_input = meta.get("audio_input", False)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return predict_frame(self.pipeline, self.features, self.columns, self.classes,
                             model_input, self.audio_input)


def log_audio_model(pipeline, feature_config, feature_set: str, columns: list[str],
                    classes: list[str], example_path: str | None = None,
                    audio_input: bool = False, name: str = "model"):
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
                "classes": list(classes), "audio_input": audio_input}
        meta_path.write_text(json.dumps(meta, indent=1))
        signature = ModelSignature(
            inputs=Schema([ColSpec("string", c, required=False)
                           for c in ("path", "audio_b64", "speaker")]),
            outputs=Schema([ColSpec("string", "path"), ColSpec("string", "emotion"),
                            ColSpec("double", "confidence"),
                            *[ColSpec("double", f"p_{c}") for c in classes],
                            ColSpec("string", "error")]))
        example = pd.DataFrame({"path": [example_path or "clip.wav"], "speaker": ["unknown"]})
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
