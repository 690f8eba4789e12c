"""Content-addressed, atomic, verified on-disk store of feature arrays.

An entry's key is the hash of the audio file's bytes, under a folder named by the feature
config digest (which includes the feature-code version): renaming or moving a file keeps its
entry, editing a single sample or a parameter misses. Entries are plain ``.npy`` payloads
behind a 4-byte magic and a 16-byte BLAKE2b checksum; no pickle is ever loaded. Writes go to a
temporary file that is renamed into place, so a killed process leaves no half entry and two
processes extracting the same corpus at once both succeed.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"SBC1"
_DIGEST = 16


class CacheCorruptionWarning(UserWarning):
    """An entry failed verification; it was removed and will be recomputed."""


def default_dir(explicit: str | os.PathLike | None = None) -> Path:
    """``--cache-dir`` > ``$SERBENCH_CACHE`` > the user cache directory."""
    if explicit:
        return Path(explicit)
    if os.environ.get("SERBENCH_CACHE"):
        return Path(os.environ["SERBENCH_CACHE"])
    import platformdirs

    return Path(platformdirs.user_cache_dir("serbench"))


def content_hash(data: bytes) -> str:
    """32 hex digits of BLAKE2b over a file's bytes: the content half of a cache key."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass(frozen=True)
class CacheStats:
    entries: int
    bytes: int
    namespaces: dict[str, int]


class Cache:
    """Store arrays under ``root/<namespace>/<key[:2]>/<key>.npy``.

    ``namespace`` names what is stored and with which config, e.g. ``features-<digest>``.
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = default_dir(root)

    def _path(self, namespace: str, key: str) -> Path:
        return self.root / namespace / key[:2] / f"{key}.npy"

    def get(self, namespace: str, key: str) -> np.ndarray | None:
        """The stored array, or ``None`` when absent or corrupt (a corrupt entry is removed and
        reported with a :class:`CacheCorruptionWarning` naming it)."""
        path = self._path(namespace, key)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return _decode(blob)
        except ValueError as exc:
            warnings.warn(f"cache entry {path} is corrupt ({exc}); recomputing",
                          CacheCorruptionWarning, stacklevel=2)
            path.unlink(missing_ok=True)
            return None

    def put(self, namespace: str, key: str, array: np.ndarray) -> None:
        """Write atomically: a temporary file in the same folder, then ``os.replace``."""
        path = self._path(namespace, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
        payload = buf.getvalue()
        digest = hashlib.blake2b(payload, digest_size=_DIGEST).digest()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(MAGIC + digest + payload)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def entries(self):
        """Every entry file (not temporaries), sorted."""
        if not self.root.exists():
            return []
        return sorted(p for p in self.root.glob("*/*/*.npy") if not p.name.startswith(".tmp-"))

    def stats(self) -> CacheStats:
        files = self.entries()
        spaces: dict[str, int] = {}
        for p in files:
            spaces[p.parent.parent.name] = spaces.get(p.parent.parent.name, 0) + 1
        return CacheStats(len(files), sum(p.stat().st_size for p in files), spaces)

    def verify(self, remove: bool = True) -> list[tuple[Path, str]]:
        """Check every entry; returns ``(path, reason)`` for the bad ones (removed if asked),
        and sweeps temporaries left by killed writers."""
        bad = []
        for p in self.entries():
            try:
                _decode(p.read_bytes())
            except ValueError as exc:
                bad.append((p, str(exc)))
                if remove:
                    p.unlink(missing_ok=True)
        for tmp in self.root.glob("*/*/.tmp-*"):
            tmp.unlink(missing_ok=True)
        return bad

    def clear(self) -> int:
        n = len(self.entries())
        if self.root.exists():
            shutil.rmtree(self.root)
        return n


def _decode(blob: bytes) -> np.ndarray:
    head = len(MAGIC) + _DIGEST
    if len(blob) < head or blob[: len(MAGIC)] != MAGIC:
        raise ValueError("bad header (truncated or not a serbench entry)")
    payload = blob[head:]
    if hashlib.blake2b(payload, digest_size=_DIGEST).digest() != blob[len(MAGIC):head]:
        raise ValueError("checksum mismatch")
    return np.load(io.BytesIO(payload), allow_pickle=False)
