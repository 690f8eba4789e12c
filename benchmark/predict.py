"""Use a trained model: resolve it, predict files, register the best ones."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from benchmark import audio
from benchmark.locations import find_experiment
from benchmark.tracking import default_uri

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def _tracking(results_dir: str | Path, tracking_uri: str | None) -> str:
    import mlflow

    uri = tracking_uri or default_uri(results_dir)
    mlflow.set_tracking_uri(uri)
    return uri


def best_cells(experiment: str, results_dir: str | Path = "results",
               normalisation: str = "global") -> pd.DataFrame:
    """The best cell per dataset by mean UAR. ``global`` by default: a speaker-normalised
    model needs several recordings of a speaker to normalise, a single file has one."""
    path = Path(results_dir) / experiment / "summary.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `serbench run` for {experiment!r} first")
    from benchmark.cells import best_cells as best_of

    return best_of(pd.read_csv(path), normalisation)


def model_uri_of(cell_id: str, experiment: str, results_dir: str | Path = "results") -> str:
    final = Path(results_dir) / experiment / "folds" / cell_id / "final.json"
    if not final.exists():
        raise FileNotFoundError(f"{final} not found: the cell's final model was not trained")
    return json.loads(final.read_text())["model_uri"]


def resolve_model(model: str, results_dir: str | Path | None = None,
                  tracking_uri: str | None = None) -> str:
    """An MLflow model URI from a URI (``runs:/``, ``models:/``, a local path) or from an
    experiment name (its best single-file model, found under ``runs/`` then ``results/``
    unless ``results_dir`` is given); points MLflow at the store that holds it."""
    if ":/" in model or Path(model).exists():
        if results_dir is not None or tracking_uri:
            _tracking(results_dir or ".", tracking_uri)
        return model
    results_dir = find_experiment(model, results_dir)
    _tracking(results_dir, tracking_uri)
    best = best_cells(model, results_dir)
    return model_uri_of(best.iloc[0]["cell_id"], model, results_dir)


def expand(inputs: list[str]) -> list[str]:
    """Files as given, directories searched recursively for audio (sorted)."""
    out = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out += [str(f) for f in sorted(p.rglob("*"))
                    if f.suffix.lower() in audio.AUDIO_EXTENSIONS and f.is_file()]
        else:
            out.append(str(p))
    return out


def predict_files(model_uri: str, files: list[str], batch: int = 64,
                  progress: bool = True, trust: bool = False) -> pd.DataFrame:
    """One row per file: emotion, confidence, per-class probabilities, error (if any).

    The model's folder is checked against the digest its run recorded before it is loaded
    (:mod:`benchmark.model_folder`); ``trust``: load a folder the store has no digest for.
    """
    import mlflow
    from mlflow.exceptions import MlflowException
    from tqdm.auto import tqdm

    from benchmark.model_folder import load_verified

    try:
        model = load_verified(model_uri, trust)
    except (MlflowException, OSError) as exc:  # an unknown run, model or path: one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FileNotFoundError(f"no model at {model_uri!r} in the MLflow store "
                                f"{mlflow.get_tracking_uri()}: {first}") from exc
    parts = []
    with tqdm(total=len(files), unit="file", desc="predict", disable=not progress) as bar:
        for k in range(0, len(files), batch):
            chunk = files[k:k + batch]
            parts.append(model.predict(pd.DataFrame({"path": chunk})))
            bar.update(len(chunk))
    if not parts:
        return pd.DataFrame(columns=["path", "emotion", "confidence", "error"])
    return pd.concat(parts, ignore_index=True)


def register_best(experiment: str, results_dir: str | Path | None = None,
                  tracking_uri: str | None = None) -> list[tuple[str, str]]:
    """Register each dataset's best single-file model as ``serbench-<experiment>-<dataset>``,
    tagged with its UAR from the tables."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from benchmark.model_folder import verified_copy

    results_dir = find_experiment(experiment, results_dir)
    uri = _tracking(results_dir, tracking_uri)
    client = MlflowClient(uri)
    out = []
    for _, row in best_cells(experiment, results_dir).iterrows():
        name = f"serbench-{experiment}-{row['dataset']}".replace("+", "-").replace(">", "")
        uri = model_uri_of(row["cell_id"], experiment, results_dir)
        with tempfile.TemporaryDirectory() as tmp:  # a changed folder is not registered
            verified_copy(uri, tmp)
        version = mlflow.register_model(uri, name)
        for key, value in (("uar_mean", f"{row['uar_mean']:.4f}"),
                           ("uar_std", f"{row['uar_std']:.4f}"), ("model", row["model"]),
                           ("protocol", row["protocol"]), ("cell", row["cell_id"])):
            client.set_model_version_tag(name, version.version, key, value)
        out.append((name, version.version))
    return out
