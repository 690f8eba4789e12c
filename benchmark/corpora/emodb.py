"""EmoDB (Berlin): ``<speaker 2 digits><text 3 chars><emotion letter><version>``, e.g.
``03a01Fa``. Burkhardt et al. (2005), A database of German emotional speech, Interspeech."""

from __future__ import annotations

import re
from pathlib import Path

from benchmark.corpora.base import Corpus, Labels, ParseError, match

EMOTIONS = {"W": "angry", "L": "boredom", "E": "disgust", "A": "fearful", "F": "happy",
            "T": "sad", "N": "neutral"}
MALE = {"03", "10", "11", "12", "15"}
FEMALE = {"08", "09", "13", "14", "16"}
_PATTERN = re.compile(r"(?P<spk>\d{2})(?P<text>[ab]\d{2})(?P<emo>[WLEAFTN])(?P<ver>[a-z])")


class EmoDB(Corpus):
    name = "emodb"
    folders = ("emodb", "emo-db", "EmoDB", "EMODB")
    convention = "<speaker NN><text a01..b10><emotion W/L/E/A/F/T/N><version>, e.g. 03a01Fa.wav"

    def labels(self, path: Path) -> Labels:
        m = match(_PATTERN, path)
        spk = m["spk"]
        if spk not in MALE | FEMALE:
            raise ParseError(f"speaker {spk} is not one of EmoDB's ten")
        return Labels(speaker=spk, emotion=EMOTIONS[m["emo"]], label_raw=m["emo"],
                      gender="male" if spk in MALE else "female", intensity="",
                      text=m["text"])
