"""Reports from stored runs: tables, statistics, figures and a reproducibility manifest."""

from benchmark.report.build import write_report

__all__ = ["write_report"]
