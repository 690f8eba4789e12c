"""SAVEE: ``{DC|JE|JK|KL}_<code><NN>`` or ``<speaker>/<code><NN>``, four male speakers.
Haq & Jackson (2009), Speaker-dependent audio-visual emotion recognition, AVSP."""

from __future__ import annotations

import re
from pathlib import Path

from benchmark.corpora.base import Corpus, Labels, ParseError, match

SPEAKERS = ("DC", "JE", "JK", "KL")
EMOTIONS = {"a": "angry", "d": "disgust", "f": "fearful", "h": "happy", "n": "neutral",
            "sa": "sad", "su": "surprised"}
_FLAT = re.compile(r"(?P<spk>[a-z]{2})_(?P<code>sa|su|a|d|f|h|n)(?P<num>\d{2})", re.IGNORECASE)
_NESTED = re.compile(r"(?P<code>sa|su|a|d|f|h|n)(?P<num>\d{2})", re.IGNORECASE)


class Savee(Corpus):
    name = "savee"
    folders = ("savee", "SAVEE")
    convention = "{DC|JE|JK|KL}_<code><NN> or <speaker>/<code><NN>, e.g. DC_sa01.wav"

    def labels(self, path: Path) -> Labels:
        if _FLAT.fullmatch(path.stem):
            m = match(_FLAT, path)
            speaker = m["spk"].upper()
        else:
            m = match(_NESTED, path)
            speaker = path.parent.name.upper()
        if speaker not in SPEAKERS:
            raise ParseError(f"speaker {speaker!r} is not one of {SPEAKERS}")
        code = m["code"].lower()
        return Labels(speaker=speaker, emotion=EMOTIONS[code], label_raw=code, gender="male",
                      text=f"{code}{m['num']}")
