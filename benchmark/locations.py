"""Where runs write, and where the commands that read them look.

An ordinary ``serbench run`` writes under ``runs/`` (git-ignored), with its MLflow store beside
it; the committed reference results under ``results/`` are written only on purpose (``make
reference``, or ``--results-dir results``). Readers (``report``, ``predict``, ``register``,
``ui``, the app) look in ``runs/`` first, then ``results/``, unless told a folder.
"""

from __future__ import annotations

from pathlib import Path

RUNS = "runs"  # ordinary runs: git-ignored, yours
REFERENCE = "results"  # the committed reference results
LAST = ".last-store"  # under RUNS: the MLflow tracking URI the last run wrote to


def search_dirs(explicit: str | Path | None = None) -> list[Path]:
    """The results folders a reader searches, in order."""
    return [Path(explicit)] if explicit else [Path(RUNS), Path(REFERENCE)]


def find_experiment(name: str, explicit: str | Path | None = None) -> Path:
    """The results folder holding experiment ``name`` (a folder with its ``folds/``).

    Raises ``FileNotFoundError`` naming every place looked at.
    """
    dirs = search_dirs(explicit)
    for d in dirs:
        if (d / name / "folds").is_dir():
            return d
    looked = ", ".join(str((d / name).resolve()) for d in dirs)
    raise FileNotFoundError(f"experiment {name!r} not found (looked in {looked}); run "
                            f"`serbench run experiments/{name}.toml` first")


def remember_store(tracking_uri: str) -> None:
    """Note the store a run wrote to, so ``serbench ui`` opens on it."""
    Path(RUNS).mkdir(exist_ok=True)
    (Path(RUNS) / LAST).write_text(tracking_uri + "\n")


def last_store() -> str | None:
    path = Path(RUNS) / LAST
    return path.read_text().strip() if path.exists() else None
