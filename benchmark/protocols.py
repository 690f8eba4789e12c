"""Evaluation protocols: outer folds that keep every speaker on one side, and the inner folds
tuning uses. Every split is checked here, so no caller can forget to."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    LeaveOneGroupOut,
    StratifiedGroupKFold,
    StratifiedShuffleSplit,
)

from benchmark.config import ProtocolConfig


class LeakageError(AssertionError):
    """A split put the same speaker on both sides."""


@dataclass(frozen=True)
class Fold:
    index: int
    train: np.ndarray  # row positions into the dataset
    test: np.ndarray
    speaker_dependent: bool = False

    @property
    def name(self) -> str:
        return f"fold{self.index:02d}"


def check_disjoint(speakers: np.ndarray, train: np.ndarray, test: np.ndarray) -> None:
    """Raise :class:`LeakageError` naming the speakers found on both sides."""
    shared = set(speakers[train]) & set(speakers[test])
    if shared:
        raise LeakageError(f"speaker(s) on both sides of a split: {sorted(shared)[:10]}")


def make_folds(protocol: ProtocolConfig, data: pd.DataFrame, seed: int = 0) -> list[Fold]:
    """Outer folds over ``data`` (a feature table with ``speaker``, ``emotion``, ``corpus``)."""
    speakers = data["speaker"].to_numpy()
    labels = data["emotion"].to_numpy()
    idx = np.arange(len(data))
    if protocol.kind == "loso":
        splits = LeaveOneGroupOut().split(idx, labels, speakers)
    elif protocol.kind == "group_kfold":
        # a corpus with fewer speakers than k (TESS has 2) gets one fold per speaker
        n_spk = len(np.unique(speakers))
        if n_spk < 2:
            raise ValueError("speaker-independent folds need at least 2 speakers; "
                             f"the data has {n_spk}")
        splits = StratifiedGroupKFold(min(protocol.k, n_spk), shuffle=True,
                                      random_state=seed).split(idx, labels, speakers)
    elif protocol.kind == "cross_corpus":
        corpus = data["corpus"].to_numpy()
        train, test = np.isin(corpus, protocol.train), np.isin(corpus, protocol.test)
        if not train.any() or not test.any():
            raise ValueError(f"cross_corpus: no rows for train {protocol.train} or test "
                             f"{protocol.test} (corpora present: {sorted(set(corpus))})")
        splits = [(idx[train], idx[test])]
    elif protocol.kind == "cross_gender":
        # train on every speaker of one gender, test on every speaker of the other, both ways;
        # speakers of unknown gender are on neither side
        gender = data["gender"].to_numpy()
        female, male = idx[gender == "female"], idx[gender == "male"]
        if not len(female) or not len(male):
            present = sorted(set(gender))
            raise ValueError(f"cross_gender needs speakers of both genders; the data has "
                             f"{present}")
        splits = [(female, male), (male, female)]
    else:
        splits = StratifiedShuffleSplit(protocol.repeats, test_size=protocol.test_size,
                                        random_state=seed).split(idx, labels)
    folds = []
    for i, (train, test) in enumerate(splits):
        if not protocol.speaker_dependent:
            check_disjoint(speakers, train, test)
        folds.append(Fold(i, np.asarray(train), np.asarray(test), protocol.speaker_dependent))
    return folds


def inner_splits(speakers: np.ndarray, labels: np.ndarray, k: int, seed: int = 0
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped, stratified inner folds over the outer training rows only (for tuning).

    Uses ``min(k, n_speakers)`` folds; returns ``[]`` when fewer than two speakers remain, in
    which case there is no speaker-independent way to tune and the caller must say so.
    """
    n_spk = len(np.unique(speakers))
    if n_spk < 2:
        return []
    cv = StratifiedGroupKFold(min(k, n_spk), shuffle=True, random_state=seed)
    splits = []
    for train, val in cv.split(np.zeros(len(labels)), labels, speakers):
        check_disjoint(speakers, train, val)
        splits.append((train, val))
    return splits
