"""Features computed elsewhere, imported as a set: ``feature_sets = ["import:<table>"]``.

Embeddings of a self-supervised model computed on a GPU, or descriptors of another toolkit,
come in as a table (parquet, CSV, or ``.npz`` with ``path`` and ``features`` arrays and
optionally ``names``) with one row per audio file: a ``path`` column holding the file's path
relative to its data root (``ravdess/Actor_01/03-01-...flac``), optionally a ``blake2b``
column with the file's content hash (checked when present: a row computed from other audio is
refused), and numeric feature columns. A relative table path is read against the data root,
like the corpora. The set's digest is the hash of the table's bytes, so a changed value makes
new cells. The rows are looked up, never computed: such a set cannot be computed from audio.
"""

from __future__ import annotations

import hashlib
import os
from functools import cached_property
from pathlib import Path

import numpy as np

from features.sets.base import utterance_namespace

KEY, HASH = "path", "blake2b"
PREFIX = "import:"


class ImportedTable:
    """The rows of a feature table, by file. ``root``: what a relative ``path`` (of the
    table) is read against; ``None``: ``$SERBENCH_DATA``, else ``data``."""

    sr = 16000  # unused: nothing is decoded for it; the Extractor protocol asks for a rate

    def __init__(self, path: str, root: str | os.PathLike | None = None):
        self.path = path
        self.root = root

    def __repr__(self) -> str:
        return f"ImportedTable({self.path!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, ImportedTable) and other.file == self.file

    def __hash__(self) -> int:
        return hash(("import", str(self.file)))

    def __getstate__(self):  # workers need only where the table is, not its rows
        return {"path": self.path, "root": self.root}

    def __setstate__(self, state):
        self.__dict__.update(state)

    @property
    def file(self) -> Path:
        p = Path(self.path)
        if p.is_absolute():
            return p
        return Path(self.root or os.environ.get("SERBENCH_DATA") or "data") / p

    @cached_property
    def _bytes_digest(self) -> str:
        if not self.file.is_file():
            raise FileNotFoundError(f"{PREFIX}{self.path}: no table at {self.file.resolve()}")
        return hashlib.blake2b(self.file.read_bytes(), digest_size=16).hexdigest()

    @cached_property
    def _table(self) -> tuple[dict[str, int], np.ndarray, list[str], dict[str, str]]:
        """Key -> row index, the values (n, d) float32, the column names, key -> hash."""
        keys, values, names, hashes = _read(self.file, f"{PREFIX}{self.path}")
        index: dict[str, int] = {}
        dup = []
        for i, k in enumerate(keys):
            if k in index:
                dup.append(k)
            index[k] = i
        if dup:
            raise ValueError(f"{PREFIX}{self.path}: {len(dup)} duplicate key(s) in column "
                             f"{KEY!r}: {', '.join(sorted(set(dup))[:5])}; keep one row per file")
        return index, values, names, dict(zip(keys, hashes, strict=True)) if hashes else {}

    @property
    def feature_names(self) -> list[str]:
        return self._table[2]

    def cache_namespace(self, kind: str = "features") -> str:
        return utterance_namespace("import", kind, self._bytes_digest)

    def extract(self, y: np.ndarray, sr: int) -> np.ndarray:
        raise ValueError(f"{PREFIX}{self.path}: imported features come from their table; "
                         "they cannot be computed from audio")

    def rows_for(self, paths: list[str], root: str | os.PathLike
                 ) -> tuple[list[np.ndarray | None], list[tuple[str, str]], list[str]]:
        """Each file's row (``None`` where there is none, with the reason), and the table's
        keys that are no file of these (extra rows, reported, unused)."""
        from features.cache import content_hash

        index, values, _, hashes = self._table
        out: list[np.ndarray | None] = []
        errors: list[tuple[str, str]] = []
        used = set()
        for path in paths:
            key = Path(os.path.relpath(path, root)).as_posix()
            i = index.get(key)
            if i is None:
                out.append(None)
                errors.append((path, f"{path}: no row in {PREFIX}{self.path} (key {key!r})"))
                continue
            used.add(key)
            if key in hashes and hashes[key]:
                try:
                    actual = content_hash(Path(path).read_bytes())
                except OSError as exc:
                    actual = f"unreadable ({exc})"
                if actual != hashes[key]:
                    out.append(None)
                    errors.append((path, f"{path}: the row of {PREFIX}{self.path} was "
                                         f"computed from other audio ({HASH} {hashes[key]}, the "
                                         f"file's {actual})"))
                    continue
            row = values[i]
            if not np.all(np.isfinite(row)):
                out.append(None)
                errors.append((path, f"{path}: non-finite value(s) in its row of "
                                     f"{PREFIX}{self.path}"))
                continue
            out.append(row)
        return out, errors, sorted(set(index) - used)


def _read(file: Path, name: str) -> tuple[list[str], np.ndarray, list[str], list[str]]:
    """Keys, values, column names and hashes (empty when absent) of a table file."""
    import pandas as pd

    suffix = file.suffix.lower()
    if suffix == ".npz":
        with np.load(file, allow_pickle=False) as z:
            missing = [k for k in (KEY, "features") if k not in z.files]
            if missing:
                raise ValueError(f"{name}: the .npz lacks array(s) {missing} (has {z.files})")
            values = np.asarray(z["features"])
            keys = [str(k) for k in z[KEY]]
            names = ([str(n) for n in z["names"]] if "names" in z.files
                     else [f"f{i:04d}" for i in range(values.shape[1])])
            hashes = [str(h) for h in z[HASH]] if HASH in z.files else []
        if not np.issubdtype(values.dtype, np.number):
            raise ValueError(f"{name}: 'features' is {values.dtype}, not numbers")
        return keys, values.astype(np.float32), names, hashes
    if suffix == ".parquet":
        frame = pd.read_parquet(file)
    elif suffix == ".csv":
        frame = pd.read_csv(file)
    else:
        raise ValueError(f"{name}: a table is .parquet, .csv or .npz, not {suffix!r}")
    if KEY not in frame.columns:
        raise ValueError(f"{name}: no {KEY!r} column (the file's path relative to its data "
                         f"root); its columns: {list(frame.columns)[:8]}")
    features = [c for c in frame.columns if c not in (KEY, HASH)]
    text = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    if text:
        raise ValueError(f"{name}: non-numeric column(s) {text[:5]}: every column but {KEY!r} "
                         f"(and {HASH!r}) is a feature")
    if not features:
        raise ValueError(f"{name}: no feature column")
    hashes = frame[HASH].fillna("").astype(str).tolist() if HASH in frame.columns else []
    return (frame[KEY].astype(str).tolist(), frame[features].to_numpy(np.float32),
            [str(c) for c in features], hashes)
