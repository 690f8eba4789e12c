"""The log-mel CNN baseline: a network (``network``), its inputs (``data``: normalisation,
crops, masks), its training loop (``training``) and the scikit-learn estimator
(``estimator.LogMelCNN``) that the benchmark tunes and serves like any other model."""

from benchmark.cnn.estimator import LogMelCNN

__all__ = ["LogMelCNN"]
