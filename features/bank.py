"""The feature bank: one STFT per signal, every descriptor group, utterance functionals."""

from __future__ import annotations

from functools import cached_property

import numpy as np
import soxr

from features import balance, cepstral, chroma, formants, pitch, prosody, spectral, temporal, voice
from features.config import FeatureConfig
from features.functionals import (
    ALL,
    FINITE,
    WHERE,
    WHERE_NOT,
    functionals,
    functionals_where,
    width,
)
from features.layout import BALANCE_ALL_IDX, BALANCE_SPLIT_IDX, Layout
from features.stft import spectra

#: Groups that need the F0 track (and any group summarised over voiced frames).
F0_GROUPS = frozenset({"pitch", "balance", "prosody", "voice", "formants"})


class FeatureBank:
    """Computes the configured descriptor groups of a signal from one shared STFT.

    >>> bank = FeatureBank(FeatureConfig(groups=("mfcc", "pitch")))
    >>> x = bank.extract(y, sr)            # shape (len(bank.feature_names),), float32
    """

    def __init__(self, config: FeatureConfig | None = None):
        self.config = config or FeatureConfig()

    def __repr__(self) -> str:
        return f"FeatureBank({self.config.digest()})"

    def __eq__(self, other) -> bool:
        return isinstance(other, FeatureBank) and other.config == self.config

    def __hash__(self) -> int:
        return hash(self.config)

    @property
    def sr(self) -> int:
        """The rate signals are resampled to, Hz."""
        return self.config.sr

    def cache_namespace(self, kind: str = "features") -> str:
        """Cache folder of utterance features or frame-level log-mels of this config (the
        latter named by the parameters the log-mel reads: :meth:`FeatureConfig.logmel_digest`)."""
        if kind not in ("features", "logmel"):
            raise ValueError(f"unknown kind {kind!r}; one of ('features', 'logmel')")
        digest = self.config.digest() if kind == "features" else self.config.logmel_digest()
        return f"{kind}-{digest}"

    # -- names (features.layout) -------------------------------------------------------
    @cached_property
    def layout(self) -> Layout:
        """Which columns this bank gives, in order (:class:`features.layout.Layout`)."""
        return Layout(self.config)

    @property
    def frame_names(self) -> list[str]:
        """Names of the frame-level rows summarised by every statistic (pitch excluded)."""
        return self.layout.frame_names

    @property
    def feature_names(self) -> list[str]:
        """Column names of :meth:`extract`'s output, e.g. ``mfcc_03_d1_std``."""
        return self.layout.feature_names

    def group_columns(self) -> dict[str, list[str]]:
        """Feature columns per descriptor group, so an ablation selects columns of one table
        instead of extracting again."""
        return self.layout.group_columns()

    # -- computation ---------------------------------------------------------------------
    @property
    def _warped(self) -> bool:
        """Whether the MFCCs read warped filters (``vtln``), for which the F0 track and the
        formants are computed even if no group of the config reports them."""
        return self.config.vtln and "mfcc" in self.config.groups

    def _prepare(self, y: np.ndarray, sr: int) -> np.ndarray:
        y = np.asarray(y, dtype=np.float32)
        if y.ndim != 1:
            raise ValueError(f"expected a mono signal, got shape {y.shape}")
        if y.size == 0:
            raise ValueError("empty signal")
        if sr != self.config.sr:
            y = soxr.resample(y, sr, self.config.sr, quality="HQ").astype(np.float32)
        return y

    def frames(self, y: np.ndarray, sr: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Frame-level descriptors.

        Returns
        -------
        matrix : np.ndarray, shape (len(frame_names), n_frames), float32
        extra : dict
            ``f0`` (Hz, 0 when unvoiced) and ``voicing`` rows when the pitch, balance or
            prosody group is on; ``balance`` (rows of ``balance.NAMES``) for balance or
            prosody; ``formants`` for voice, formants or warped MFCCs (``vtln``, whose warp
            they give).
        """
        cfg = self.config
        y = self._prepare(y, sr)
        sp = spectra(y, cfg)
        extra = self._contours(y, sp)
        warp = formants.warp_factor(extra["formants"][2]) if self._warped else 1.0
        log_mels: dict[float, np.ndarray] = {}  # by warp: the log-mel rows and the MFCCs share

        def log_mel(w: float) -> np.ndarray:
            if w not in log_mels:
                log_mels[w] = cepstral.logmel(sp, cfg, w)
            return log_mels[w]

        rows: list[np.ndarray] = []
        for group in cfg.groups:
            if group == "temporal":
                rows += [temporal.zcr(y, sp.n_frames, cfg)[None], temporal.rms(sp, cfg)[None]]
            elif group == "spectral":
                rows.append(spectral.shape(sp, cfg))
            elif group == "contrast":
                rows.append(spectral.contrast(sp, cfg))
            elif group == "chroma":
                rows.append(chroma.chroma(sp, cfg))
            elif group == "mfcc":
                rows += cepstral.cepstrum(log_mel(warp), cfg)
            elif group == "logmel":
                rows.append(log_mel(1.0))
        matrix = (np.concatenate([np.asarray(r, dtype=np.float32) for r in rows], axis=0)
                  if rows else np.zeros((0, sp.n_frames), np.float32))
        return matrix, extra

    def _contours(self, y: np.ndarray, sp) -> dict[str, np.ndarray]:
        """The F0 track, balance rows, formants and voice rows the config needs (the ``extra``
        of :meth:`frames`), from the signal and its shared spectra."""
        cfg = self.config
        extra = {}
        if F0_GROUPS & set(cfg.groups) or self.layout.voiced_rows.any() or self._warped:
            extra["f0"], extra["voicing"] = pitch.pitch(sp, cfg)
        if {"balance", "prosody"} & set(cfg.groups):
            extra["balance"] = balance.balance(sp, cfg)
        if {"voice", "formants"} & set(cfg.groups) or self._warped:
            extra["formants"] = formants.formants(sp, extra["f0"] > 0, cfg.sr, cfg.n_fft)
        if "voice" in cfg.groups:
            f0 = extra["f0"]
            y64 = y.astype(np.float64)  # what both kernels read; converted once
            times, amps, seg = voice.pulses(y64, f0, cfg.hop_length, cfg.sr, cfg.f0_min,
                                            cfg.f0_max)
            hnr = voice.period_hnr(y64, times, seg, cfg.hop_length, sp.n_frames)
            levels = extra["formants"][[k - 1 for k in cfg.formant_levels]]
            extra["voice"] = voice.voice_frames(sp, f0, hnr, levels, cfg.sr, cfg.n_fft)
            extra["perturbation"] = voice.perturbation(times, amps, seg, cfg.sr, cfg.f0_min,
                                                       cfg.f0_max)
        return extra

    def extract(self, y: np.ndarray, sr: int) -> np.ndarray:
        """Utterance-level features of a mono signal; shape (len(feature_names),), float32.

        Raises ``FloatingPointError`` naming the first non-finite column, so a numerical
        defect can never reach a model silently.
        """
        cfg = self.config
        hop_s = cfg.hop_length / cfg.sr
        matrix, extra = self.frames(y, sr)
        voiced = extra["f0"] > 0 if "f0" in extra else None
        voiced_rows = self.layout.voiced_rows
        if voiced_rows.any() and voiced.any():
            stats = np.empty((matrix.shape[0], width(cfg.percentiles)))
            stats[~voiced_rows] = functionals(matrix[~voiced_rows], cfg.percentiles, hop_s)
            stats[voiced_rows] = functionals(matrix[voiced_rows][:, voiced], cfg.percentiles,
                                             hop_s)
        else:  # nothing voiced: the envelope over all frames, rather than no value
            stats = functionals(matrix, cfg.percentiles, hop_s)
        summary = self._row_summaries(extra, voiced, hop_s)
        parts = [stats.ravel()[self.layout.frame_columns[1]]]
        if "pitch" in cfg.groups:
            parts += [summary["pitch"], np.array([voiced.mean()])]
        if "balance" in cfg.groups:
            parts.append(summary["balance"])
        if "prosody" in cfg.groups:
            parts.append(prosody.prosody(extra["f0"], extra["balance"][0], hop_s))
        if "voice" in cfg.groups:
            parts += [summary["voice"], np.nan_to_num(extra["perturbation"], nan=0.0)]
        if "formants" in cfg.groups:
            parts.append(summary["formants"])
        out = np.concatenate(parts).astype(np.float32)
        bad = ~np.isfinite(out)
        if bad.any():
            raise FloatingPointError(f"non-finite feature {self.feature_names[np.argmax(bad)]}")
        return out

    def _row_summaries(self, extra: dict, voiced: np.ndarray | None, hop_s: float
                       ) -> dict[str, np.ndarray]:
        """The statistics (``cfg.statistics`` per row, flattened) of the pitch, balance,
        voice and formant rows, each row over its own frames: F0 over ``voiced`` frames,
        voice and formant rows where defined, balance's split rows over voiced and unvoiced
        frames (voice quality differs by phonation, as in eGeMAPS). The float64 rows in one
        call, the float32 balance rows (which stay float32) in another."""
        cfg = self.config
        rows: list[np.ndarray] = []  # the float64 rows, stacked
        modes: list[int] = []  # which frames of each row
        sizes: dict[str, int] = {}  # rows per group, in order
        if "pitch" in cfg.groups:
            rows += [extra["f0"][None], extra["voicing"][None]]
            modes += [WHERE, ALL]
            sizes["pitch"] = 2
        for group in ("voice", "formants"):
            if group in cfg.groups:
                rows.append(extra[group])
                modes += [FINITE] * len(extra[group])
                sizes[group] = len(extra[group])
        out = {}
        if rows:
            matrix = np.concatenate(rows)
            stats = functionals_where(matrix, range(len(matrix)), modes, voiced,
                                      cfg.percentiles, hop_s)[:, cfg.statistic_index]
            ends = np.cumsum(list(sizes.values()))
            out.update({g: part.ravel() for g, part in
                        zip(sizes, np.split(stats, ends[:-1]), strict=True)})
        if "balance" in cfg.groups:
            split = list(BALANCE_SPLIT_IDX)
            stats = functionals_where(
                extra["balance"], list(BALANCE_ALL_IDX) + split + split,
                [ALL] * len(BALANCE_ALL_IDX) + [WHERE] * len(split) + [WHERE_NOT] * len(split),
                voiced, cfg.percentiles, hop_s)
            out["balance"] = stats[:, cfg.statistic_index].ravel()
        return out

    def undefined(self, y: np.ndarray, sr: int) -> list[str]:
        """Columns of :meth:`extract` that hold a stand-in 0 for this signal because what
        they summarise is absent from it: F0 statistics without a voiced frame, voiced or
        unvoiced balance statistics without such frames, prosody without movements. Every
        other column is defined (and all are finite)."""
        cfg = self.config
        _, extra = self.frames(y, sr)
        if "f0" not in extra:
            return []
        stats, voiced = cfg.statistics, extra["f0"] > 0
        names: list[str] = []
        if "pitch" in cfg.groups and not voiced.any():
            names += [f"f0_voiced_{s}" for s in stats]
        if "balance" in cfg.groups:
            for part, frames in (("voiced", voiced), ("unvoiced", ~voiced)):
                if not frames.any():
                    names += [f"{row}_{part}_{s}" for row in balance.SPLIT for s in stats]
        if "prosody" in cfg.groups:
            names += prosody.undefined(extra["f0"], cfg.hop_length / cfg.sr)
        rows = []
        if "voice" in cfg.groups:
            rows += list(zip(voice.frame_names(cfg.formant_levels), extra["voice"],
                             strict=True))
            names += [n for n, v in zip(voice.UTTERANCE_NAMES, extra["perturbation"],
                                        strict=True) if not np.isfinite(v)]
        if "formants" in cfg.groups:
            rows += list(zip(formants.NAMES, extra["formants"], strict=True))
        names += [f"{n}_{s}" for n, row in rows if not np.isfinite(row).any() for s in stats]
        return names

    def logmel(self, y: np.ndarray, sr: int) -> np.ndarray:
        """Frame-level log-mel (dB) for spectrogram models; shape (n_mels, n_frames), float32."""
        y = self._prepare(y, sr)
        return cepstral.logmel(spectra(y, self.config), self.config).astype(np.float32)
