"""Corpus names, the folders that hold them, and discovery under a data root."""

from __future__ import annotations

import os
from pathlib import Path

from benchmark.corpora.aesdd import Aesdd
from benchmark.corpora.base import Corpus
from benchmark.corpora.crema_d import CremaD
from benchmark.corpora.csv_corpus import CsvCorpus
from benchmark.corpora.emodb import EmoDB
from benchmark.corpora.ravdess import Ravdess
from benchmark.corpora.savee import Savee
from benchmark.corpora.tess import Tess


class Synth(Ravdess):
    """The built-in synthetic corpus: RAVDESS names, so the RAVDESS convention reads it."""

    name = "synth"
    folders = ("synth",)


CORPORA: dict[str, type[Corpus]] = {
    c.name: c for c in (Ravdess, CremaD, Tess, Savee, EmoDB, Aesdd, Synth)
}


def data_root(explicit: str | os.PathLike | None = None) -> Path:
    """``--data-root`` > ``$SERBENCH_DATA`` > ``./data``."""
    return Path(explicit or os.environ.get("SERBENCH_DATA") or "data")


def corpus_folder(name: str, root: str | os.PathLike) -> Path | None:
    """The folder under ``root`` that holds corpus ``name``, if any."""
    for folder in CORPORA[name].folders:
        candidate = Path(root) / folder
        if candidate.is_dir():
            return candidate
    return None


def find(root: str | os.PathLike, include_synth: bool = False) -> dict[str, Path]:
    """Every known corpus present under ``root``, in registry order."""
    found = {}
    for name in CORPORA:
        if name == "synth" and not include_synth:
            continue
        folder = corpus_folder(name, root)
        if folder is not None:
            found[name] = folder
    return found


def open_corpus(name: str, root: str | os.PathLike | None = None) -> Corpus:
    """A corpus by registry name (found under ``root``), or a CSV file path (a relative one
    is resolved against the data root, like the corpora, not the working directory)."""
    if name.lower().endswith(".csv"):
        path = Path(name)
        return CsvCorpus(path if path.is_absolute() else data_root(root) / path)
    if name not in CORPORA:
        raise KeyError(f"unknown corpus {name!r}; known: {sorted(CORPORA)} or a .csv file")
    root = data_root(root)
    folder = corpus_folder(name, root)
    if folder is None:
        raise FileNotFoundError(
            f"corpus {name!r} not found under {root} (looked for {CORPORA[name].folders}); "
            "point --data-root or SERBENCH_DATA at the folder holding it")
    return CORPORA[name](folder)
