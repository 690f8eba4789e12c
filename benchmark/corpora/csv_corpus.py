"""A generic corpus described by a CSV: columns ``path, emotion, speaker`` (+ ``gender``),
paths relative to the CSV's folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from benchmark.corpora.base import Corpus, Labels, ParseError

REQUIRED = ("path", "emotion", "speaker")


class CsvCorpus(Corpus):
    name = "csv"
    folders = ()
    convention = "a CSV row with path, emotion, speaker[, gender]"

    def __init__(self, csv_path, name: str | None = None):
        csv_path = Path(csv_path)
        if not csv_path.is_file():
            raise FileNotFoundError(f"corpus CSV {csv_path} does not exist")
        super().__init__(csv_path.parent)
        self.csv_path = csv_path
        self.name = name or csv_path.stem
        table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
        missing = [c for c in REQUIRED if c not in table.columns]
        if missing:
            raise ValueError(f"{csv_path}: missing column(s) {missing}; need {list(REQUIRED)}")
        self._rows: dict[str, dict] = {}
        self._duplicates: list[dict] = []
        for line, row in enumerate(table.to_dict("records"), start=2):
            path = str((self.root / row["path"]).resolve())
            if path in self._rows:
                self._duplicates.append({"path": path, "corpus": self.name,
                                         "reason": f"duplicate row (CSV line {line})"})
            else:
                self._rows[path] = row

    def rejected(self) -> list[dict]:
        return list(self._duplicates)

    def files(self) -> Iterator[Path]:
        yield from (Path(p) for p in self._rows)

    def others(self) -> list[dict]:
        return []  # the table names its files: the rest of the folder is not the corpus

    def labels(self, path: Path) -> Labels:
        row = self._rows[str(path)]
        if not row["speaker"].strip():
            raise ParseError("empty speaker")
        gender = (row.get("gender") or "unknown").strip().lower() or "unknown"
        return Labels(speaker=row["speaker"].strip(), emotion=row["emotion"],
                      label_raw=row["emotion"], gender=gender)
