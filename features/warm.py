"""Compile the bank's numba kernels once, before any parallel work.

Every kernel is ``@njit(cache=True)``: compiled on first use and kept on disk beside its
module, so later processes load it in milliseconds. Compiling is done here, in one process,
because numba's on-disk cache is not safe when several fresh processes write it at once
(segfaults were seen); ``make`` calls :func:`warm` once after installing (``serbench warm``).
"""

from __future__ import annotations

import numpy as np

from features.bank import FeatureBank
from features.config import FeatureConfig

_DONE: set[str] = set()


def warm(config: FeatureConfig | None = None) -> None:
    """Run the bank once on a quarter second of noise (in this process, once per config)."""
    bank = FeatureBank(config or FeatureConfig())
    key = bank.config.digest()
    if key in _DONE:
        return
    rng = np.random.default_rng(0)
    bank.extract(rng.standard_normal(bank.config.sr // 4).astype(np.float32) * 0.1,
                 bank.config.sr)
    _DONE.add(key)
