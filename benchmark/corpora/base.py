"""What every corpus convention shares: file discovery, audio validation, the manifest.

A corpus module only says how a file name becomes :class:`Labels`; :meth:`Corpus.scan` does the
rest, so every corpus validates audio and reports skipped files the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from benchmark import audio
from benchmark.labels import canonical_emotion

MANIFEST_COLUMNS: tuple[str, ...] = (
    "path",
    "corpus",
    "speaker",
    "gender",
    "emotion",
    "label_raw",
    "intensity",
    "text",
    "duration_s",
    "sample_rate",
    "channels",
)
SKIPPED_COLUMNS: tuple[str, ...] = ("path", "corpus", "reason")
NOT_AUDIO = "not named as audio (its extension)"


class ParseError(ValueError):
    """A file name that does not follow the corpus's convention."""


@dataclass(frozen=True)
class Labels:
    """What a corpus convention tells about one file. ``speaker`` is corpus-local here."""

    speaker: str
    emotion: str
    label_raw: str
    gender: str = "unknown"
    intensity: str = ""
    text: str = ""


@dataclass(frozen=True)
class ScanResult:
    """A corpus scan: the usable files and, never silently dropped, the rest with reasons."""

    manifest: pd.DataFrame
    skipped: pd.DataFrame


class Corpus:
    """Base class of a corpus convention rooted at a folder.

    Subclasses set :attr:`name` and implement :meth:`labels`; :meth:`files` may be overridden
    by corpora that are not a folder of audio files (the CSV corpus).
    """

    name: ClassVar[str] = ""
    #: Folder names under a data root that hold this corpus, first one canonical.
    folders: ClassVar[tuple[str, ...]] = ()
    #: A human description of the naming convention, quoted in parse errors.
    convention: ClassVar[str] = ""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        if not self.root.exists():
            raise FileNotFoundError(f"{self.name}: corpus folder {self.root} does not exist")

    def files(self) -> Iterator[Path]:
        """Everything under :attr:`root` named like audio, recursively, in a stable order:
        a dangling link, a folder or a FIFO so named too, so that the scan names it as a skip
        instead of passing over it."""
        for p in sorted(self.root.rglob("*")):
            if p.suffix.lower() in audio.AUDIO_EXTENSIONS:
                yield p

    def others(self) -> list[dict]:
        """The files under :attr:`root` not named like audio (a README, a transcript), as
        skips: listed, never silently passed over."""
        return [{"path": str(p), "corpus": self.name, "reason": NOT_AUDIO}
                for p in sorted(self.root.rglob("*"))
                if p.suffix.lower() not in audio.AUDIO_EXTENSIONS and not p.is_dir()]

    def labels(self, path: Path) -> Labels:
        raise NotImplementedError

    def _parse(self, path: Path) -> Labels:
        try:
            lab = self.labels(path)
            return Labels(**{**asdict(lab), "emotion": canonical_emotion(lab.emotion)})
        except (ParseError, KeyError) as exc:
            msg = exc.args[0] if exc.args else str(exc)
            raise ParseError(f"name does not parse ({msg}); expected {self.convention}") from exc

    def scan(self, min_duration_s: float = audio.MIN_DURATION_S, check_audio: bool = True,
             n_threads: int = 4
             ) -> ScanResult:
        """Build the manifest.

        Parameters
        ----------
        min_duration_s : float
            Files shorter than this are skipped (reason given).
        check_audio : bool
            Decode every file to catch truncated data and silence; off, only headers are read.
        n_threads : int
            Decoding threads (libsndfile releases the GIL).
        """
        paths = list(self.files())
        with ThreadPoolExecutor(max(1, n_threads)) as pool:
            outcomes = list(pool.map(
                lambda p: self._row(p, min_duration_s, check_audio), paths))
        rows = [o for o in outcomes if "reason" not in o]
        skipped = [o for o in outcomes if "reason" in o] + self.rejected() + self.others()
        manifest = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
        manifest = manifest.astype({"duration_s": float, "sample_rate": int, "channels": int})
        return ScanResult(manifest, pd.DataFrame(skipped, columns=list(SKIPPED_COLUMNS)))

    def _row(self, path: Path, min_duration_s: float, check_audio: bool) -> dict:
        try:
            lab = self._parse(path)
            excluded = self.exclusion(path, lab)
            if excluded:
                return {"path": str(path), "corpus": self.name, "reason": excluded}
            info = audio.info(path)
            if info.frames == 0:
                raise audio.AudioError(path, "no audio samples (empty file)")
            if info.duration_s < min_duration_s:
                raise audio.AudioError(
                    path, f"too short: {info.duration_s:.3f} s < minimum {min_duration_s:g} s")
            if check_audio:
                audio.load(path, sr=None, min_duration_s=min_duration_s)
        except (ParseError, audio.AudioError) as exc:
            reason = exc.reason if isinstance(exc, audio.AudioError) else str(exc)
            return {"path": str(path), "corpus": self.name, "reason": reason}
        return {
            "path": str(path),
            "corpus": self.name,
            "speaker": f"{self.name}:{lab.speaker}",
            "gender": lab.gender,
            "emotion": lab.emotion,
            "label_raw": lab.label_raw,
            "intensity": lab.intensity,
            "text": lab.text,
            "duration_s": round(info.duration_s, 4),
            "sample_rate": info.sample_rate,
            "channels": info.channels,
        }

    def rejected(self) -> list[dict]:
        """Entries refused before any file is looked at (a duplicated CSV row, say)."""
        return []

    def exclusion(self, path: Path, labels: Labels) -> str | None:
        """Why a well-named file is left out by this corpus's selection (``None``: kept)."""
        return None


def match(pattern: re.Pattern[str], path: Path) -> re.Match[str]:
    """Full-match a file stem (case-insensitive patterns), or raise :class:`ParseError`."""
    m = pattern.fullmatch(path.stem)
    if m is None:
        raise ParseError(f"{path.name!r} does not match")
    return m


def summarise(result: ScanResult) -> dict:
    """The numbers ``serbench corpora`` prints for one corpus."""
    m = result.manifest
    return {
        "files": len(m),
        "speakers": int(m["speaker"].nunique()) if len(m) else 0,
        "hours": float(np.round(m["duration_s"].sum() / 3600.0, 3)) if len(m) else 0.0,
        "emotions": m["emotion"].value_counts().sort_index().to_dict() if len(m) else {},
        "skipped": len(result.skipped),
    }
