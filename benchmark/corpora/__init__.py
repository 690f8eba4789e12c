"""Corpus conventions: one module per corpus, each turning a folder into a manifest."""

from benchmark.corpora.base import MANIFEST_COLUMNS, Corpus, Labels, ParseError, ScanResult
from benchmark.corpora.registry import CORPORA, data_root, find, open_corpus

__all__ = ["CORPORA", "MANIFEST_COLUMNS", "Corpus", "Labels", "ParseError", "ScanResult",
           "data_root", "find", "open_corpus"]
