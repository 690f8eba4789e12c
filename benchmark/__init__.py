"""serbench: speaker-independent speech emotion recognition benchmarks."""

__version__ = "0.1.0"
