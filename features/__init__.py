"""The serbench feature bank: one STFT per file, numba kernels, a content-addressed cache."""

from features.bank import FeatureBank
from features.config import GROUPS, FeatureConfig

__all__ = ["GROUPS", "FeatureBank", "FeatureConfig"]
