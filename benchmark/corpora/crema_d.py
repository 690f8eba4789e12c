"""CREMA-D: ``AAAA_SSS_EEE_LL`` (actor 1001-1091, sentence, emotion, level), gender from
``VideoDemographics.csv``. Cao et al. (2014), doi:10.1109/TAFFC.2014.2336244."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from benchmark.corpora.base import Corpus, Labels, match

EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy",
            "NEU": "neutral", "SAD": "sad"}
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
SENTENCES = {
    "IEO": "It's eleven o'clock", "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting", "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full", "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock", "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket", "ITS": "I think I've seen this before",
    "TSI": "The surface is slick", "WSI": "We'll stop in a couple of minutes",
}
_PATTERN = re.compile(
    r"(?P<actor>1\d{3})_(?P<sent>[A-Z]{3})_(?P<emo>ANG|DIS|FEA|HAP|NEU|SAD)_(?P<lvl>LO|MD|HI|XX)",
    re.IGNORECASE)


class CremaD(Corpus):
    name = "crema-d"
    folders = ("crema-d", "crema_d", "cremad", "CREMA-D")
    convention = "AAAA_SSS_EEE_LL, e.g. 1001_DFA_ANG_XX.wav"

    def __init__(self, root):
        super().__init__(root)
        self.genders = _read_demographics(self.root)

    def labels(self, path: Path) -> Labels:
        m = match(_PATTERN, path)
        actor, sent = m["actor"], m["sent"].upper()
        return Labels(
            speaker=actor,
            emotion=EMOTIONS[m["emo"].upper()],
            label_raw=m["emo"].upper(),
            gender=self.genders.get(actor, "unknown"),
            intensity=LEVELS[m["lvl"].upper()],
            text=SENTENCES.get(sent, sent),
        )


def _read_demographics(root: Path) -> dict[str, str]:
    """Actor id -> ``male``/``female`` from the first VideoDemographics.csv under ``root``."""
    found = sorted(root.rglob("VideoDemographics.csv"))
    if not found:
        return {}
    with open(found[0], newline="", encoding="utf-8-sig") as fh:
        return {row["ActorID"].strip(): row["Sex"].strip().lower()
                for row in csv.DictReader(fh) if row.get("ActorID") and row.get("Sex")}
