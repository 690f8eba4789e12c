"""What a feature set is: the columns of one or more extractors, named, digested, cached.

An *extractor* turns a mono signal into one row of named utterance features and names the
cache folder its rows live in (:class:`features.bank.FeatureBank`, openSMILE, the classic
librosa recipe). A *feature set* is one extractor's columns (all, or a subset such as some
bank groups), or several sets fused early (columns side by side, names prefixed).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np


class Extractor(Protocol):
    """One row of utterance features per signal."""

    sr: int  # the rate signals are read at, Hz
    feature_names: list[str]

    def extract(self, y: np.ndarray, sr: int) -> np.ndarray:
        """Features of a mono signal; shape (len(feature_names),), float32, all finite."""

    def cache_namespace(self, kind: str = "features") -> str:
        """The cache folder of this extractor's rows: changes with any parameter or version."""


@dataclass(frozen=True)
class Part:
    """The columns of one extractor that a set uses, and the prefix they carry in a fusion."""

    extractor: Extractor
    columns: tuple[str, ...]  # a subset of extractor.feature_names, in its order
    prefix: str = ""

    @property
    def names(self) -> list[str]:
        return [self.prefix + c for c in self.columns]

    @cached_property
    def indices(self) -> np.ndarray | None:
        """Positions of :attr:`columns` in the extractor's row; ``None`` when it is all."""
        names = self.extractor.feature_names
        if list(self.columns) == list(names):
            return None
        where = {n: i for i, n in enumerate(names)}
        return np.array([where[c] for c in self.columns])


@dataclass(frozen=True)
class FeatureSet:
    """A named feature set, as written in an experiment config (``"bank[mfcc,pitch]"``,
    ``"egemaps"``, ``"bank+egemaps"``): its parts, its column names, its digest."""

    name: str
    parts: tuple[Part, ...]

    @property
    def feature_names(self) -> list[str]:
        return [n for p in self.parts for n in p.names]

    @property
    def fused(self) -> bool:
        return len(self.parts) > 1

    def digest(self) -> str:
        """Changes when the set's name, any extractor parameter or version, or its columns
        change: it names the set's cells and its logged models."""
        h = hashlib.sha256(self.name.encode())
        for p in self.parts:
            h.update(f"\0{p.extractor.cache_namespace()}\0{p.prefix}\0".encode())
            h.update("\0".join(p.columns).encode())
        return h.hexdigest()[:16]

    def __hash__(self) -> int:
        return hash((self.name, self.digest()))


def utterance_namespace(label: str, kind: str, *key) -> str:
    """The cache folder of an extractor of utterance rows only (not frame-level ``logmel``):
    ``set-<label>-<hash of key>``, the key holding its parameters and library version."""
    if kind != "features":
        raise ValueError(f"{label} computes utterance features only, not {kind!r}")
    digest = hashlib.sha256(":".join(map(str, key)).encode()).hexdigest()[:12]
    return f"set-{label}-{digest}"


def check_finite(values: np.ndarray, names: list[str]) -> np.ndarray:
    """``values`` as float32, or ``FloatingPointError`` naming the first non-finite column."""
    out = np.asarray(values, dtype=np.float32).ravel()
    if out.size != len(names):
        raise ValueError(f"{out.size} values for {len(names)} feature names")
    bad = ~np.isfinite(out)
    if bad.any():
        raise FloatingPointError(f"non-finite feature {names[int(np.argmax(bad))]}")
    return out
