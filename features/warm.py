"""Compile the bank's numba kernels once, before any parallel work.

Every kernel is ``@njit(cache=True)``: compiled on first use and kept on disk beside its
module, so later processes load it in milliseconds. Compiling is done here, in one process,
because numba's on-disk cache is not safe when several fresh processes write it at once
(segfaults were seen); ``make`` calls :func:`warm` once after installing (``serbench warm``).
Once done, a stamp beside numba's cache says so, named by what that cache is keyed on (each
source file's modification time and size, numba's and Python's versions): a later run then
starts its workers at once instead of loading every kernel in the parent first (~0.8 s).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import numpy as np

from features.bank import FeatureBank
from features.config import FeatureConfig

_DONE: set[str] = set()


def stamp_path(config: FeatureConfig) -> Path:
    """The stamp saying the kernels of this code and config are compiled: in
    ``NUMBA_CACHE_DIR`` when set, else in ``features/__pycache__`` (where numba keeps them),
    so that removing numba's cache removes the stamp with it."""
    import numba

    package = Path(__file__).resolve().parent
    stats = [(str(p.relative_to(package)), p.stat()) for p in sorted(package.rglob("*.py"))]
    state = [numba.__version__, sys.version, config.digest()] + [
        (name, st.st_mtime_ns, st.st_size) for name, st in stats]
    key = hashlib.sha256(repr(state).encode()).hexdigest()[:16]
    where = os.environ.get("NUMBA_CACHE_DIR")
    return (Path(where) if where else package / "__pycache__") / f"serbench-warm-{key}"


def warm(config: FeatureConfig | None = None) -> None:
    """Run the bank once on a quarter second of noise (once per config and process), unless
    a stamp says an earlier process compiled these kernels already."""
    bank = FeatureBank(config or FeatureConfig())
    key = bank.config.digest()
    if key in _DONE:
        return
    stamp = stamp_path(bank.config)
    if not stamp.exists():
        rng = np.random.default_rng(0)
        bank.extract(rng.standard_normal(bank.config.sr // 4).astype(np.float32) * 0.1,
                     bank.config.sr)
        try:
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.touch()
        except OSError:  # a read-only install: numba keeps its cache elsewhere; warm each run
            pass
    _DONE.add(key)
