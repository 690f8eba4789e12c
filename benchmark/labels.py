"""One emotion vocabulary across corpora, and the label mappings configs may apply."""

from __future__ import annotations

from collections.abc import Mapping

#: The canonical vocabulary, in the order tables and confusion matrices use.
EMOTIONS: tuple[str, ...] = (
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
    "boredom",
)

_SYNONYMS: dict[str, str] = {
    "neu": "neutral",
    "anger": "angry",
    "ang": "angry",
    "happiness": "happy",
    "hap": "happy",
    "joy": "happy",
    "sadness": "sad",
    "fear": "fearful",
    "fea": "fearful",
    "afraid": "fearful",
    "disgusted": "disgust",
    "dis": "disgust",
    "surprise": "surprised",
    "ps": "surprised",
    "pleasant_surprise": "surprised",
    "pleasant_surprised": "surprised",
    "pleasant surprise": "surprised",
    "bored": "boredom",
}


def canonical_emotion(raw: str) -> str:
    """Map a corpus's own label (any case) to the canonical vocabulary.

    Raises ``KeyError`` naming the label when it has no canonical equivalent.
    """
    key = raw.strip().lower()
    if key in EMOTIONS:
        return key
    if key in _SYNONYMS:
        return _SYNONYMS[key]
    raise KeyError(f"emotion label {raw!r} is not in the vocabulary {EMOTIONS} or its synonyms")


def apply_label_map(emotions, mapping: Mapping[str, str | None]):
    """Rename or merge labels (``{"calm": "neutral"}``) or drop them (``{"calm": None}``).

    Works on a pandas Series; dropped labels become missing values (the caller filters them and
    says how many rows went).
    """
    for target in mapping.values():
        if target is not None and target not in EMOTIONS:
            raise KeyError(f"label map target {target!r} is not in the vocabulary {EMOTIONS}")
    return emotions.map(lambda e: mapping.get(e, e) if e in mapping else e)
