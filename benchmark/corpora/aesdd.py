"""AESDD (Acted Emotional Speech Dynamic Database, Greek): emotion folders, files such as
``a01 (1).wav`` = emotion letter, utterance number, speaker in parentheses.
Vryzas et al. (2018), doi:10.17743/jaes.2018.0036."""

from __future__ import annotations

import re
from pathlib import Path

from benchmark.corpora.base import Corpus, Labels, ParseError, match

EMOTIONS = {"a": "angry", "d": "disgust", "f": "fearful", "h": "happy", "s": "sad"}
FOLDERS = {"anger": "a", "disgust": "d", "fear": "f", "happiness": "h", "sadness": "s"}
_PATTERN = re.compile(r"(?P<emo>[adfhs])(?P<utt>\d{2})\s*\((?P<spk>\d+)\)\s*[a-z]?",
                      re.IGNORECASE)


class Aesdd(Corpus):
    name = "aesdd"
    folders = ("aesdd", "AESDD")
    convention = "<emotion folder>/<letter><NN> (<speaker>), e.g. anger/a01 (1).wav"

    def labels(self, path: Path) -> Labels:
        m = match(_PATTERN, path)
        code = m["emo"].lower()
        folder = FOLDERS.get(path.parent.name.lower())
        if folder is not None and folder != code:
            raise ParseError(f"letter {code!r} disagrees with folder {path.parent.name!r}")
        return Labels(speaker=m["spk"], emotion=EMOTIONS[code], label_raw=code,
                      text=f"{code}{m['utt']}")
