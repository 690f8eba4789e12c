"""Shared fixtures: a small synthetic corpus and helpers that write real audio files."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from benchmark.synth import write_corpus

DATA = os.environ.get("SERBENCH_DATA")


def pytest_configure(config):
    """Compile every numba kernel the suite uses once, in the controller, before xdist
    workers start: several fresh processes writing numba's cache at once can segfault."""
    if hasattr(config, "workerinput"):
        return
    import librosa

    from features import FeatureBank

    y = tone(0.5)
    FeatureBank().extract(y, 16000)
    librosa.pyin(y, fmin=80, fmax=600, sr=16000, frame_length=1024, hop_length=160)


def tone(seconds: float = 1.0, sr: int = 16000, f0: float = 220.0, channels: int = 1,
         seed: int = 0) -> np.ndarray:
    """A harmonic tone with a little noise: a real, non-silent signal."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) * 0.2
    y = y + 0.01 * rng.standard_normal(t.size)
    if channels > 1:
        y = np.stack([y * (0.5 + 0.5 * c / channels) for c in range(channels)], axis=1)
    return y.astype(np.float32)


def write_tone(path: Path, seconds: float = 1.0, sr: int = 16000, channels: int = 1,
               fmt: str | None = None, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(seconds, sr, channels=channels, **kw), sr, format=fmt)
    return path


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    """A data root holding ``synth/``: 6 speakers x 60 files, RAVDESS names."""
    root = tmp_path_factory.mktemp("data")
    write_corpus(root / "synth", n_speakers=6, seed=0)
    return root


def real_corpus(name: str) -> Path:
    if not DATA or not (Path(DATA) / name).is_dir():
        pytest.skip(f"real corpus {name!r} not available (set SERBENCH_DATA)")
    return Path(DATA) / name


SMOKE = Path(__file__).parents[1] / "experiments" / "smoke.toml"


def fixed_smoke(name: str, *, top: str = "", speaker_norm: str | None = None,
                final_model: str = "none") -> str:
    """smoke.toml renamed, with logistic regression alone at its fixed configuration (no
    trials): the smallest run that still compares feature sets. ``top``: more top-level
    lines; ``speaker_norm``: its TOML list, e.g. ``"[false]"``."""
    edits = {'name = "smoke"': f'name = "{name}"\n{top}final_model = "{final_model}"',
             'models = ["svm_rbf", "logreg"]': 'models = ["logreg"]',
             "n_trials = 3": "n_trials = 0"}
    if speaker_norm is not None:
        edits["speaker_norm = [false, true]"] = f"speaker_norm = {speaker_norm}"
    text = SMOKE.read_text()
    for old, new in edits.items():  # each line must be there: smoke.toml changed otherwise
        assert text.count(old) == 1, f"smoke.toml no longer has {old!r}"
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="session")
def smoke_cache(tmp_path_factory) -> str:
    """One feature cache per test process for the smoke runs: the synthetic corpus is written
    into it once (5-6 s) and its features extracted once, whichever test runs first."""
    return str(tmp_path_factory.mktemp("smoke-cache"))


@pytest.fixture(scope="session")
def trained_smoke(tmp_path_factory, smoke_cache):
    """``experiments/smoke.toml`` run once: ``(results_dir, cache_dir)``, with final models."""
    from benchmark.config import load_experiment
    from benchmark.run import RunOptions, run

    root = tmp_path_factory.mktemp("smoke")
    cache = smoke_cache
    cfg = load_experiment(SMOKE, results_dir=str(root / "results"))
    run(cfg, RunOptions(cache_dir=cache, n_jobs=2, progress=False))
    return cfg.results_dir, cache


def synth_files(cache: str, actor: int) -> list[str]:
    """The synthetic corpus files of one actor, as the smoke run wrote them."""
    folder = Path(cache) / "synth-corpus-8" / "synth" / f"Actor_{actor:02d}"
    return [str(p) for p in sorted(folder.glob("*.wav"))]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(cmd: list[str], ready_url: str, env: dict | None = None, timeout: float = 120):
    """Run a server on loopback until ``ready_url`` answers; stop it (and its children)."""
    import signal
    import subprocess
    import time
    import urllib.request

    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + timeout
        while True:
            try:
                urllib.request.urlopen(ready_url, timeout=2)
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    pytest.fail(f"{cmd[0]} did not start serving {ready_url}")
                time.sleep(0.5)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
