"""The demo page's logic, without Streamlit: which models it offers and which inputs it takes.

The page (:mod:`benchmark.app`) serves whoever can reach its port, so it reads only what it
was configured to read: models from the results folders it was started with, files by path
only under the data root (no data root, no path box), uploads within a size and a duration.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmark import audio


@dataclass(frozen=True)
class DemoSettings:
    """From the environment ``serbench app`` sets: ``SERBENCH_RESULTS`` (folders, separated
    by ``os.pathsep``), ``SERBENCH_DATA``, ``SERBENCH_APP_MAX_MB``, ``SERBENCH_APP_MAX_S``."""

    results_dirs: tuple[str, ...]
    data_root: str | None = None
    max_upload_mb: float = 20.0  # about 10 minutes of 16-bit 16 kHz WAV
    max_seconds: float = 60.0  # one utterance, with room to spare

    @classmethod
    def from_env(cls) -> DemoSettings:
        from benchmark.locations import search_dirs

        dirs = os.environ.get("SERBENCH_RESULTS")
        return cls(tuple(dirs.split(os.pathsep)) if dirs else
                   tuple(str(d) for d in search_dirs()),
                   os.environ.get("SERBENCH_DATA") or None,
                   float(os.environ.get("SERBENCH_APP_MAX_MB", cls.max_upload_mb)),
                   float(os.environ.get("SERBENCH_APP_MAX_S", cls.max_seconds)))


def trained_models(results_dir: str | Path) -> pd.DataFrame:
    """Every cell with a logged final model: experiment, dataset, model, UAR, model URI."""
    rows = []
    for summary in sorted(Path(results_dir).glob("*/summary.csv")):
        table = pd.read_csv(summary)
        for _, r in table.iterrows():
            final = summary.parent / "folds" / r["cell_id"] / "final.json"
            if final.exists():
                uri = json.loads(final.read_text()).get("model_uri")
                if uri:
                    rows.append({"experiment": summary.parent.name, "dataset": r["dataset"],
                                 "model": r["model"], "normalisation": r["normalisation"],
                                 "features": r["features"], "uar": r["uar_mean"], "uri": uri})
    return pd.DataFrame(rows)


def ordered(models: pd.DataFrame) -> pd.DataFrame:
    """Global-normalisation models first, best UAR first: a speaker-normalised model needs
    several recordings of a speaker, and the page predicts one file."""
    key = models.assign(_spk=models["normalisation"] != "global", _neg=-models["uar"])
    return key.sort_values(["_spk", "_neg"], kind="stable").drop(columns=["_spk", "_neg"]
                                                                ).reset_index(drop=True)


def allowed_path(path: str, data_root: str | None) -> Path:
    """``path`` if it lies under the data root (links resolved), else ``ValueError``."""
    if not data_root:
        raise ValueError("reading files by path is off: start the app with --data-root "
                         "(or SERBENCH_DATA) to allow files under that folder")
    root = Path(data_root).resolve()
    target = Path(path).resolve()
    if not target.is_relative_to(root):
        raise ValueError(f"{path}: only files under the data root {root} can be read")
    return target


def check_upload(name: str, data: bytes, settings: DemoSettings) -> None:
    """Refuse an upload over the size or duration limit before decoding it (a decoded
    signal and its spectrogram take many times the file's size in memory)."""
    mb = len(data) / 2**20
    if mb > settings.max_upload_mb:
        raise ValueError(f"{name}: {mb:.1f} MB is over the {settings.max_upload_mb:g} MB "
                         "upload limit (SERBENCH_APP_MAX_MB)")
    seconds = audio.info(name, data=data).duration_s
    if seconds > settings.max_seconds:
        raise ValueError(f"{name}: {seconds:.0f} s is over the {settings.max_seconds:g} s "
                         "limit (SERBENCH_APP_MAX_S)")
