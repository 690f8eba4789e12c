"""The network's inputs: per-band normalisation (global or per speaker), crops, masks.

Log-mels arrive as a list of (n_mels, n_frames) arrays. They are normalised once, then held
in one zero-padded array so that a batch of random crops is one gather, with no Python loop
per sample.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-5


def band_stats(mels: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each mel band over all frames; each (n_mels, 1)."""
    frames = np.concatenate(mels, axis=1)
    return (frames.mean(axis=1, keepdims=True).astype(np.float32),
            (frames.std(axis=1, keepdims=True) + EPS).astype(np.float32))


def normalise(mels: list[np.ndarray], speakers: np.ndarray,
              stats: tuple[np.ndarray, np.ndarray] | None) -> list[np.ndarray]:
    """Each log-mel minus a band mean, over a band std: the given ``stats`` (global, from the
    training rows), or with ``stats=None`` each speaker's own, from that speaker's rows in
    ``mels`` only (unlabelled recordings, as the feature models' per-speaker scaling)."""
    if stats is not None:
        mean, std = stats
        return [((m - mean) / std).astype(np.float32) for m in mels]
    out: list[np.ndarray] = [None] * len(mels)  # type: ignore[list-item]
    for spk in np.unique(speakers):
        rows = np.flatnonzero(speakers == spk)
        mean, std = band_stats([mels[i] for i in rows])
        for i in rows:
            out[i] = ((mels[i] - mean) / std).astype(np.float32)
    return out


class Padded:
    """Normalised log-mels zero-padded to one (n, n_mels, longest) array, with lengths."""

    def __init__(self, mels: list[np.ndarray], min_frames: int):
        self.lengths = np.array([m.shape[1] for m in mels])
        longest = max(int(self.lengths.max()), min_frames)
        self.x = np.zeros((len(mels), mels[0].shape[0], longest), np.float32)
        for i, m in enumerate(mels):
            self.x[i, :, : m.shape[1]] = m

    def random_crops(self, rows: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
        """One random ``length``-frame crop of each row (zero-padded if shorter); shape
        (len(rows), n_mels, length)."""
        room = np.maximum(self.lengths[rows] - length + 1, 1)
        starts = (rng.random(len(rows)) * room).astype(int)
        cols = starts[:, None] + np.arange(length)[None, :]
        return np.take_along_axis(self.x[rows], cols[:, None, :], axis=2)


def _stripes(n: int, size: int, limit: float, rng: np.random.Generator) -> np.ndarray:
    """One random stripe per example, up to ``limit`` of ``size`` wide; (n, size) bool."""
    width = (rng.random(n) * (int(size * limit) + 1)).astype(int)
    start = (rng.random(n) * (size - width + 1)).astype(int)
    pos = np.arange(size)[None, :]
    return (pos >= start[:, None]) & (pos < (start + width)[:, None])


def spec_augment(batch: np.ndarray, rng: np.random.Generator, n_masks: int = 2,
                 max_band: float = 1 / 8, max_time: float = 1 / 10) -> np.ndarray:
    """Zero ``n_masks`` random mel-band stripes (up to ``max_band`` of the bands) and as many
    frame stripes (up to ``max_time`` of the crop) in every example, in place (Park et al.
    2019, SpecAugment, doi:10.21437/Interspeech.2019-2680)."""
    n, n_mels, n_frames = batch.shape
    for _ in range(n_masks):
        bands = _stripes(n, n_mels, max_band, rng)
        frames = _stripes(n, n_frames, max_time, rng)
        batch[bands[:, :, None] | frames[:, None, :]] = 0.0
    return batch


def tiles(x: np.ndarray, length: int) -> np.ndarray:
    """Half-overlapping ``length``-frame crops covering the whole utterance (zero-padded if
    shorter); shape (n_crops, n_mels, length)."""
    n = x.shape[1]
    if n <= length:
        out = np.zeros((1, x.shape[0], length), dtype=x.dtype)
        out[0, :, :n] = x
        return out
    starts = list(range(0, n - length + 1, max(1, length // 2)))
    if starts[-1] != n - length:
        starts.append(n - length)
    return np.stack([x[:, s:s + length] for s in starts])
