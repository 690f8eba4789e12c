"""Content-addressed, atomic, verified on-disk store of feature arrays.

An entry's key is the hash of the audio file's bytes, under a folder named by the feature
config digest (which includes the feature-code version): renaming or moving a file keeps its
entry, editing a single sample or a parameter misses. Entries are plain ``.npy`` payloads
behind a 4-byte magic and a 16-byte BLAKE2b checksum over (namespace, key, payload), so an
entry copied under another file's key fails verification; no pickle is ever loaded. Writes go
to a temporary file that is renamed into place, so a killed process leaves no half entry and
two processes extracting the same corpus at once both succeed.

The root carries a marker file (:data:`MARKER`, with the format version). A folder without
it is never written into, cleared or verified unless it is empty or holds only what a
serbench cache holds, so ``SERBENCH_CACHE=$HOME`` cannot cost anyone a file.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
import stat
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"SBC2"
_DIGEST = 16
MARKER = ".serbench-cache"
FORMAT = "2"
#: What a serbench cache root may hold: namespaces (``features-<digest>[-<transform>]``,
#: ``logmel-...``, a feature set's ``set-...``) and the synthetic corpus.
_ROOT_ENTRY = re.compile(r"^(features|logmel|set)-[0-9a-z.-]+$|^synth-corpus-\d+$")
_ENTRY = re.compile(r"^[0-9a-f]{2}$")
_KEY = re.compile(r"^[0-9a-f]{32}\.npy$")


class CacheCorruptionWarning(UserWarning):
    """An entry failed verification; it was removed and will be recomputed."""


class NotACacheError(ValueError):
    """A folder that is not a serbench cache: nothing in it is written, cleared or removed."""


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

    @property
    def marked(self) -> bool:
        return (self.root / MARKER).is_file()

    def claim(self) -> Path:
        """Make :attr:`root` a cache (create it, write the marker) if it is new, empty, or
        holds only what a serbench cache holds; else raise :class:`NotACacheError`."""
        if self.marked:
            return self.root
        if self.root.exists():
            foreign = sorted(p.name for p in self.root.iterdir()
                             if not (p.is_dir() and _ROOT_ENTRY.match(p.name)))
            if foreign:
                shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
                raise NotACacheError(
                    f"{self.root} is not a serbench cache (no {MARKER} file, and it holds "
                    f"{shown}); point --cache-dir or SERBENCH_CACHE at a folder of its own")
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / MARKER).write_text(f"serbench feature cache, format {FORMAT}\n")
        return self.root

    def _require_marked(self, action: str) -> None:
        if not self.marked:
            raise NotACacheError(f"refusing to {action} {self.root}: it has no {MARKER} "
                                 "marker, so it is not (or not yet) a serbench cache")

    def get(self, namespace: str, key: str) -> np.ndarray | None:
        """The stored array, or ``None`` when absent or corrupt (a corrupt entry is removed and
        reported with a :class:`CacheCorruptionWarning` naming it; a folder found where the
        entry belongs is reported and left alone)."""
        path = self._path(namespace, key)
        try:
            return _decode(_read_entry(path), namespace, key)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            if path.is_dir() and not path.is_symlink():
                warnings.warn(f"cache entry {path} is a folder, not ours to remove; computing "
                              "without the cache", CacheCorruptionWarning, stacklevel=2)
                return None
            warnings.warn(f"cache entry {path} is corrupt ({_reason(exc)}); recomputing",
                          CacheCorruptionWarning, stacklevel=2)
            path.unlink(missing_ok=True)
            return None

    def put(self, namespace: str, key: str, array: np.ndarray) -> None:
        """Write atomically: a temporary file in the same folder, then ``os.replace``."""
        path = self._path(namespace, key)
        if not self.marked:
            self.claim()
        if path.is_dir() and not path.is_symlink():
            return  # a folder where the entry belongs: said by get(), left alone
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
        payload = buf.getvalue()
        digest = _checksum(namespace, key, payload)
        try:  # the folder nearly always exists: try first, create only when it does not
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(MAGIC + digest + payload)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _under_namespaces(self):
        """Every path two levels under a namespace of ours, sorted, with whether it sits
        where an entry belongs (``<namespace>/<xx>/<key>.npy``, ``xx`` the key's start)."""
        if not self.marked:
            return []
        return [(p, bool(_KEY.match(p.name) and _ENTRY.match(p.parent.name)
                         and p.name[:2] == p.parent.name))
                for p in sorted(self.root.glob("*/*/*"))
                if _ROOT_ENTRY.match(p.parent.parent.name) and p.parent.is_dir()
                and not p.parent.is_symlink() and not p.name.startswith(".tmp-")]

    def entries(self):
        """Every entry of a marked cache, sorted: whatever sits where an entry belongs
        (``<namespace>/<xx>/<key>.npy``) and is not a folder. The cache owns those paths:
        what is there is an entry, good or corrupt, never someone else's file."""
        return [p for p, entry in self._under_namespaces()
                if entry and (p.is_symlink() or not p.is_dir())]

    def foreign(self) -> list[Path]:
        """What sits under a namespace of ours but not where an entry belongs (another
        name, a folder in an entry's place): reported by ``verify``, never removed."""
        return [p for p, entry in self._under_namespaces()
                if not entry or (p.is_dir() and not p.is_symlink())]

    def stats(self) -> CacheStats:
        files = self.entries()
        spaces: dict[str, int] = {}
        for p in files:
            spaces[p.parent.parent.name] = spaces.get(p.parent.parent.name, 0) + 1
        return CacheStats(len(files), sum(p.lstat().st_size for p in files), spaces)

    def verify(self, remove: bool = True) -> list[tuple[Path, str]]:
        """Check every entry by content, reading at most its size (a link to ``/dev/zero``
        is refused, not read); returns ``(path, reason)`` for the corrupt ones (removed if
        asked) and sweeps temporaries left by killed writers. What is not an entry
        (:meth:`foreign`) is left alone; a folder without the marker is refused
        (:class:`NotACacheError`)."""
        self._require_marked("verify")
        bad = []
        for p in self.entries():
            try:
                _decode(_read_entry(p), p.parent.parent.name, p.stem)
            except (OSError, ValueError) as exc:
                bad.append((p, _reason(exc)))
                if remove:
                    p.unlink(missing_ok=True)
        for tmp in self.root.glob("*/*/.tmp-*.npy"):
            if _ROOT_ENTRY.match(tmp.parent.parent.name) and _ENTRY.match(tmp.parent.name):
                tmp.unlink(missing_ok=True)
        return bad

    def clear(self) -> int:
        """Remove every entry (and then empty folders of ours); returns how many. Anything
        else in the folder stays; a folder without the marker is refused."""
        self._require_marked("clear")
        files = self.entries()
        for p in files:
            p.unlink(missing_ok=True)
        for sub in sorted(self.root.glob("*/*"), reverse=True):
            if sub.is_dir() and _ENTRY.match(sub.name) and _ROOT_ENTRY.match(sub.parent.name):
                _rmdir_if_empty(sub)
        for space in self.root.iterdir():
            if space.is_dir() and _ROOT_ENTRY.match(space.name) and not space.name.startswith(
                    "synth-corpus-"):
                _rmdir_if_empty(space)
        return len(files)


def _rmdir_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass  # not empty: something that is not ours is in it, and stays


def _read_entry(path: Path) -> bytes:
    """An entry's bytes, never more than its size: a link (to ``/dev/zero``, say), a FIFO, a
    device or a folder in an entry's place is refused without reading it."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file")
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read(st.st_size)
    finally:
        os.close(fd)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno == errno.ELOOP:
        return "a symbolic link, not an entry"
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def _checksum(namespace: str, key: str, payload: bytes) -> bytes:
    h = hashlib.blake2b(digest_size=_DIGEST)
    h.update(f"{namespace}/{key}\0".encode())
    h.update(payload)
    return h.digest()


def _decode(blob: bytes, namespace: str, key: str) -> np.ndarray:
    head = len(MAGIC) + _DIGEST
    if len(blob) < head or blob[: len(MAGIC)] != MAGIC:
        raise ValueError("bad header (truncated, or written by an older serbench)")
    payload = blob[head:]
    if _checksum(namespace, key, payload) != blob[len(MAGIC):head]:
        raise ValueError("checksum mismatch (damaged, or copied under another key)")
    return np.load(io.BytesIO(payload), allow_pickle=False)
