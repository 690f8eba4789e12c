"""RAVDESS: ``MM-VV-EE-II-SS-RR-AA`` (modality, vocal channel, emotion, intensity, statement,
repetition, actor). Livingstone & Russo (2018), doi:10.1371/journal.pone.0196391."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from benchmark.corpora.base import Corpus, Labels, ParseError, match

EMOTIONS = {
    "01": "neutral", "02": "calm", "03": "happy", "04": "sad",
    "05": "angry", "06": "fearful", "07": "disgust", "08": "surprised",
}
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
INTENSITY = {"01": "normal", "02": "strong"}
CHANNELS = {"01": "speech", "02": "song"}
_PATTERN = re.compile(
    r"(?P<mod>0[1-3])-(?P<vc>0[12])-(?P<emo>\d\d)-(?P<int>0[12])-(?P<stm>0[12])-(?P<rep>0[12])"
    r"-(?P<actor>\d\d)")


class Ravdess(Corpus):
    name = "ravdess"
    folders = ("ravdess", "RAVDESS")
    convention = "MM-VV-EE-II-SS-RR-AA, e.g. 03-01-05-02-01-01-07.wav"
    #: Which vocal channels to keep: ``("speech",)``, ``("song",)`` or both.
    vocal_channels: ClassVar[tuple[str, ...]] = ("speech",)

    def __init__(self, root, vocal_channels: tuple[str, ...] | None = None):
        super().__init__(root)
        if vocal_channels is not None:
            self.vocal_channels = tuple(vocal_channels)

    def labels(self, path: Path) -> Labels:
        m = match(_PATTERN, path)
        if m["emo"] not in EMOTIONS:
            raise ParseError(f"emotion code {m['emo']} is not 01-08")
        actor = int(m["actor"])
        if not 1 <= actor <= 99:
            raise ParseError(f"actor {m['actor']} out of range")
        return Labels(
            speaker=f"{actor:02d}",
            emotion=EMOTIONS[m["emo"]],
            label_raw=m["emo"],
            gender="male" if actor % 2 else "female",
            intensity=INTENSITY[m["int"]],
            text=STATEMENTS[m["stm"]],
        )

    def exclusion(self, path: Path, labels: Labels) -> str | None:
        channel = CHANNELS[match(_PATTERN, path)["vc"]]
        if channel not in self.vocal_channels:
            return f"excluded: vocal channel {channel!r} not selected ({self.vocal_channels})"
        return None
