"""Feature sets: the serbench bank, the field's reference sets, and their fusions."""

from features.sets.base import Extractor, FeatureSet, Part
from features.sets.registry import SETS, feature_set

__all__ = ["SETS", "Extractor", "FeatureSet", "Part", "feature_set"]
