"""TESS: ``{OAF|YAF}_<word>_<emotion>``, two female speakers, in per-emotion folders or not.
Pichora-Fuller & Dupuis (2020), doi:10.5683/SP2/E8H2MF.

The public release has a file named ``OA_bite_neutral``: a truncated speaker prefix is resolved
from the enclosing ``OAF_*``/``YAF_*`` folder when that folder names the speaker unambiguously.
"""

from __future__ import annotations

import re
from pathlib import Path

from benchmark.corpora.base import Corpus, Labels, ParseError, match

SPEAKERS = ("OAF", "YAF")
_PATTERN = re.compile(
    r"(?P<spk>[a-z]{1,3})_(?P<word>[a-z]+)_"
    r"(?P<emo>angry|disgust|fear|happy|neutral|ps|pleasant_surprised?|sad)",
    re.IGNORECASE)


class Tess(Corpus):
    name = "tess"
    folders = ("tess", "TESS")
    convention = "{OAF|YAF}_<word>_<emotion>, e.g. OAF_back_angry.wav"

    def labels(self, path: Path) -> Labels:
        m = match(_PATTERN, path)
        speaker = m["spk"].upper()
        if speaker not in SPEAKERS:
            folder = path.parent.name.upper()
            owner = next((s for s in SPEAKERS if folder.startswith(s + "_")), None)
            if owner is None or not owner.startswith(speaker):
                raise ParseError(f"speaker prefix {m['spk']!r} is not OAF or YAF")
            speaker = owner
        raw = m["emo"].lower()
        return Labels(speaker=speaker, emotion=raw, label_raw=raw, gender="female",
                      text=m["word"].lower())
