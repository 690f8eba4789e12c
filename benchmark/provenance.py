"""Where a result came from: code version, packages, and the data's fingerprint."""

from __future__ import annotations

import hashlib
import subprocess
from importlib import metadata
from pathlib import Path

import pandas as pd

PACKAGES = ("serbench", "numpy", "scipy", "librosa", "numba", "scikit-learn", "xgboost",
            "optuna", "mlflow", "pandas", "soundfile", "soxr", "torch")


def git_state(root: str | Path = ".") -> dict:
    """``{"commit": sha or "unknown", "dirty": bool}`` of the working tree at ``root``;
    ``dirty`` means changed code or configuration, not the results a run writes under
    ``results/``."""
    def git(*args):
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no", "--", ".",
                 ":(exclude)results")
    return {"commit": commit or "unknown", "dirty": bool(status)}


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def file_digests(paths) -> dict[str, str]:
    """BLAKE2b (128 bit, hex) of each file's bytes, by path: what identifies a recording
    whatever its name or folder."""
    return {p: hashlib.blake2b(Path(p).read_bytes(), digest_size=16).hexdigest() for p in paths}


def corpus_fingerprint(manifest: pd.DataFrame, digests: dict[str, str] | None = None) -> dict:
    """File count, speakers, total bytes and one BLAKE2b over (relative name, size, content,
    speaker, emotion) of every file: a reader can tell whether their copy of a corpus is
    byte-identical to ours, and a run whether its checkpoints were computed on this data.
    ``digests``: :func:`file_digests` of the manifest's files, when already computed."""
    h = hashlib.blake2b(digest_size=16)
    total = 0
    rows = manifest.sort_values("path")
    paths = list(rows["path"])
    digests = digests if digests is not None else file_digests(paths)
    root = Path(paths[0]).parents[1] if paths else Path(".")
    for p, speaker, emotion in zip(paths, rows["speaker"], rows["emotion"], strict=True):
        size = Path(p).stat().st_size
        total += size
        try:
            rel = str(Path(p).relative_to(root))
        except ValueError:
            rel = Path(p).name
        h.update(f"{rel}\0{size}\0{speaker}\0{emotion}\0".encode())
        h.update(bytes.fromhex(digests[p]))
    return {"files": len(paths), "speakers": int(rows["speaker"].nunique()), "bytes": total,
            "blake2b": h.hexdigest()}


def shared_recordings(table: pd.DataFrame, digests: dict[str, str]) -> list[str]:
    """Recordings whose identical bytes sit under two or more speakers (corpus-qualified, so
    two corpora too) of one dataset, in words: a speaker-grouped split could put one copy in
    training and the other in test."""
    content = table["path"].map(digests)
    said = []
    for _, grp in table.assign(_content=content).groupby("_content", sort=True):
        if grp["speaker"].nunique() > 1:
            said.append(" = ".join(f"{p} ({s})" for p, s in
                                   zip(grp["path"], grp["speaker"], strict=True)))
    return said
