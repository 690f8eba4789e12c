"""Use a trained model: resolve it, predict files, register the best ones."""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark import audio
from benchmark.locations import find_experiment
from benchmark.preprocessing import Normalisation
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


WINDOW_S, HOP_S, LONG_WINDOWS = audio.WINDOW_S, audio.HOP_S, audio.LONG_WINDOWS


def _requests(files: list[str], window_s: float, hop_s: float) -> Iterator[dict]:
    """The model's input rows, one file or one window at a time: a file longer than
    ``LONG_WINDOWS`` windows becomes its windows (:func:`benchmark.audio.segments`)."""
    for path in files:
        try:
            long = audio.info(path).duration_s > LONG_WINDOWS * window_s
        except audio.AudioError:
            long = False  # the model says why, as for any bad file
        if not long:
            yield {"path": path, "segment": "whole"}
            continue
        for k, (t0, t1, wav) in enumerate(audio.segments(path, window_s, hop_s)):
            yield {"path": path, "segment": str(k), "start_s": t0, "end_s": t1,
                   "audio_b64": base64.b64encode(wav).decode()}


def _summary(rows: pd.DataFrame, classes: list[str]) -> dict:
    """A segmented file's whole-file row: its windows' probabilities averaged, weighted by
    their durations."""
    ok = rows[rows["error"] == ""]
    out = {"path": rows["path"].iloc[0], "segment": "summary",
           "start_s": rows["start_s"].min(), "end_s": rows["end_s"].max()}
    if ok.empty:
        return {**out, "emotion": "", "confidence": np.nan, "error": "no window predicted"}
    p = np.average(ok[[f"p_{c}" for c in classes]].to_numpy(float), axis=0,
                   weights=(ok["end_s"] - ok["start_s"]).to_numpy(float))
    best = int(p.argmax())
    return {**out, "emotion": classes[best], "confidence": float(p[best]),
            **{f"p_{c}": float(v) for c, v in zip(classes, p, strict=True)}, "error": ""}


def predict_files(model_uri: str, files: list[str], batch: int = 64,
                  progress: bool = True, trust: bool = False, window_s: float = WINDOW_S,
                  hop_s: float = HOP_S, enrol: list[str] = ()) -> pd.DataFrame:
    """One row per file: emotion, confidence, per-class probabilities, error (if any).

    A file longer than ``LONG_WINDOWS`` windows is read window by window (``window_s``
    seconds every ``hop_s``), never whole: one row per window (``segment`` 0, 1, ..., with
    ``start_s`` and ``end_s``), then its ``summary`` row. ``enrol``: recordings of the same
    speaker for a model trained with an enrolment mode (which refuses to run without them);
    they normalise every request and are not scored. The model's folder is checked
    against the digest its run recorded before it is loaded (:mod:`benchmark.model_folder`);
    ``trust``: load a folder the store has no digest for.
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
    classes = model.unwrap_python_model().classes
    imported = [p.extractor.path for p in model.unwrap_python_model().features.parts
                if hasattr(p.extractor, "rows_for")]
    if imported:
        raise ValueError(f"{model_uri} was trained on imported features (import:"
                         f"{imported[0]}): it cannot compute them from audio; predict with the "
                         "tool that made the table and the logged pipeline instead")
    mode = Normalisation.parse(model.unwrap_python_model().normalisation)
    if mode.enrols and not enrol:
        raise ValueError(f"{model_uri} was trained with speaker_norm {mode.label!r}: give "
                         "enrolment recordings of the speaker (--enrol FILES or a folder); "
                         "it does not fall back on a global model")
    enrol_rows = [{"path": p, "enrol": True, "segment": "enrolment"} for p in enrol] \
        if mode.enrols else []
    parts: list[pd.DataFrame] = []
    pending: list[dict] = []
    windows: dict[str, list[pd.DataFrame]] = {}  # a segmented file's rows, until its end

    def flush() -> None:
        if not pending:
            return
        frame = pd.DataFrame([*enrol_rows, *pending])
        if "audio_b64" in frame:  # a whole file's row reads its path
            frame["audio_b64"] = frame["audio_b64"].fillna("")
        if enrol_rows:
            frame["enrol"] = frame["enrol"].fillna(False).astype(bool)
        out = model.predict(frame.drop(columns=["segment", "start_s", "end_s"],
                                       errors="ignore"))
        for col in ("segment", "start_s", "end_s"):
            out.insert(1 + ("segment", "start_s", "end_s").index(col), col,
                       frame[col].to_numpy() if col in frame else np.nan)
        out = out.iloc[len(enrol_rows):]  # the enrolment rows are not predictions
        for path, rows in out.groupby("path", sort=False):
            if rows["segment"].iloc[0] == "whole":
                parts.append(rows)
            else:
                windows.setdefault(path, []).append(rows)
        pending.clear()

    def close(path: str | None) -> None:
        """Emit the finished segmented files' rows (all but ``path``'s)."""
        for done in [p for p in windows if p != path]:
            rows = pd.concat(windows.pop(done), ignore_index=True)
            parts.extend([rows, pd.DataFrame([_summary(rows, classes)])])

    with tqdm(total=len(files), unit="file", desc="predict", disable=not progress) as bar:
        current = None
        for row in _requests(files, window_s, hop_s):
            if row["path"] != current:
                if current is not None:
                    bar.update()
                current = row["path"]
            pending.append(row)
            if len(pending) == batch:
                flush()
                close(current)
        flush()
        close(None)
        if current is not None:
            bar.update()
    if not parts:
        return pd.DataFrame(columns=["path", "segment", "emotion", "confidence", "error"])
    table = pd.concat(parts, ignore_index=True)
    order = {p: i for i, p in enumerate(dict.fromkeys(files))}
    return table.sort_values("path", key=lambda s: s.map(order), kind="stable",
                             ignore_index=True)


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
