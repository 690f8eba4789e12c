"""The columns of a bank config: which rows each group gives, which functionals summarise
them, and in what order they appear (what :class:`features.bank.FeatureBank` computes them
into, and what a feature set selects by name)."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from features import balance, chroma, formants, prosody, spectral, voice
from features.config import FeatureConfig
from features.functionals import width

#: Balance rows summarised over all frames, and those split into voiced and unvoiced ones.
BALANCE_ALL = tuple(n for n in balance.NAMES if n not in balance.SPLIT)
BALANCE_ALL_IDX = [balance.NAMES.index(n) for n in BALANCE_ALL]
BALANCE_SPLIT_IDX = [balance.NAMES.index(n) for n in balance.SPLIT]


def mfcc_statics(cfg: FeatureConfig) -> list[str]:
    """Row names of the MFCC statics (their deltas append ``_d1``, ``_d2``)."""
    return [f"mfcc_{i:02d}" for i in range(cfg.n_mfcc)]


class Layout:
    """The column layout of one config.

    >>> Layout(FeatureConfig()).feature_names[:2]
    ['mfcc_00_mean', 'mfcc_00_std']
    """

    def __init__(self, config: FeatureConfig):
        self.config = config

    @cached_property
    def frame_names(self) -> list[str]:
        """Names of the frame-level rows summarised by every statistic (pitch excluded)."""
        cfg = self.config
        names: list[str] = []
        for group in cfg.groups:
            if group == "temporal":
                names += ["zcr", "rms"]
            elif group == "spectral":
                names += list(spectral.SHAPE_NAMES)
            elif group == "contrast":
                names += [f"contrast_band{k}" for k in range(cfg.n_contrast_bands + 1)]
            elif group == "chroma":
                names += chroma.chroma_names(cfg)
            elif group == "mfcc":
                base = mfcc_statics(cfg)
                names += base
                for order in range(1, cfg.delta_order + 1):
                    names += [f"{b}_d{order}" for b in base]
            elif group == "logmel":
                names += [f"logmel_{i:02d}" for i in range(cfg.n_mels)]
        return names

    @cached_property
    def voiced_rows(self) -> np.ndarray:
        """Which frame rows are summarised over voiced frames only (``voiced_groups``)."""
        cfg = self.config
        return np.concatenate([
            np.full(len(Layout(cfg.with_groups([g])).frame_names), g in cfg.voiced_groups)
            for g in cfg.groups]) if cfg.groups else np.zeros(0, bool)

    @cached_property
    def frame_columns(self) -> tuple[list[str], np.ndarray]:
        """The frame rows' column names, and where each is in the flattened (rows x every
        functional) matrix ``functionals()`` gives: each row by ``functionals``, the MFCC
        statics by ``mfcc_functionals``."""
        cfg = self.config
        n = width(cfg.percentiles)
        statics = set(mfcc_statics(cfg)) if "mfcc" in cfg.groups else set()
        names, take = [], []
        for r, row in enumerate(self.frame_names):
            static = row in statics
            stats = cfg.mfcc_statistics if static else cfg.statistics
            index = cfg.mfcc_statistic_index if static else cfg.statistic_index
            names += [f"{row}_{s}" for s in stats]
            take += [r * n + i for i in index]
        return names, np.asarray(take, dtype=np.intp)

    @cached_property
    def feature_names(self) -> list[str]:
        """Column names of :meth:`FeatureBank.extract`'s output, e.g. ``mfcc_03_d1_std``."""
        stats = self.config.statistics
        names = list(self.frame_columns[0])
        if "pitch" in self.config.groups:
            names += [f"f0_voiced_{s}" for s in stats]
            names += [f"voicing_{s}" for s in stats]
            names.append("voiced_fraction")
        if "balance" in self.config.groups:
            names += [f"{row}_{s}" for row in BALANCE_ALL for s in stats]
            for part in ("voiced", "unvoiced"):
                names += [f"{row}_{part}_{s}" for row in balance.SPLIT for s in stats]
        if "prosody" in self.config.groups:
            names += list(prosody.NAMES)
        if "voice" in self.config.groups:
            names += [f"{row}_{s}" for row in voice.frame_names(self.config.formant_levels)
                      for s in stats]
            names += list(voice.UTTERANCE_NAMES)
        if "formants" in self.config.groups:
            names += [f"{row}_{s}" for row in formants.NAMES for s in stats]
        return names

    def group_columns(self) -> dict[str, list[str]]:
        """Feature columns per descriptor group, so an ablation selects columns of one table
        instead of extracting again."""
        return {g: Layout(self.config.with_groups([g])).feature_names
                for g in self.config.groups}
