"""Feature sets by name: what an experiment's ``feature_sets = [...]`` may say.

``bank`` (the serbench bank, with the experiment's ``[features]`` parameters), ``bank[g1,g2]``
(some of its groups), ``bank_full`` (every group and functional), ``egemaps`` and ``compare``
(openSMILE eGeMAPSv02 and ComParE 2016 functionals), ``librosa_classic`` (the tutorials'
recipe), and any of them fused with ``+`` (``bank+egemaps``: columns side by side, each
prefixed with its set's name).
"""

from __future__ import annotations

import re

from features.bank import FeatureBank
from features.config import GROUPS, FeatureConfig
from features.sets.base import FeatureSet, Part
from features.sets.imported import PREFIX, ImportedTable
from features.sets.librosa_classic import LibrosaClassic
from features.sets.smile import OpenSmile

#: Names a set may have, each with what it is (for errors and docs).
SETS: dict[str, str] = {
    "bank": "the serbench bank ([features] parameters); bank[g1,g2]: some of its groups",
    "bank_full": "the bank with every group and every functional (chroma, log-mel, min/max, "
                 "skewness, kurtosis too)",
    "egemaps": "openSMILE eGeMAPSv02 functionals (88)",
    "compare": "openSMILE ComParE_2016 functionals (6,373)",
    "librosa_classic": "the SER tutorials' librosa recipe, mean and std (398)",
}
#: What data chose each set's design (its groups, functionals, parameters): the corpora, and
#: how, so that a report can say it beside numbers measured on those same corpora.
DESIGNED_ON: dict[str, tuple[tuple[str, ...], str]] = {
    "bank": (("ravdess", "tess"), "groups, functionals and parameters chosen by UAR on "
             "RAVDESS and TESS folds (features/README.md)"),
    "bank_full": (("ravdess", "tess"), "the bank's extractors, chosen on RAVDESS and TESS"),
    "egemaps": ((), "openSMILE's published eGeMAPSv02 (Eyben et al. 2016), not designed here"),
    "compare": ((), "openSMILE's published ComParE 2016 (Schuller et al. 2016), not designed "
                "here"),
    "librosa_classic": ((), "the SER tutorials' recipe, not designed here"),
}
_SPEC = re.compile(r"^(?P<name>[a-z_]+)(\[(?P<args>[a-z_, ]*)\])?$")


PLUGINS = "serbench.feature_sets"  # the entry-point group of plug-in extractors


def plugins() -> dict[str, object]:
    """Installed plug-in feature sets: entry-point name -> entry point (loaded on use)."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=PLUGINS)}


def _plugin_part(name: str, ep, prefix: str) -> Part:
    """A plug-in's extractor: its entry point loads a callable that returns one."""
    try:
        extractor = ep.load()()
    except Exception as exc:  # a broken plug-in is named, not a traceback from importlib
        raise ValueError(f"feature set {name!r}: its plug-in {ep.value} failed to load: "
                         f"{type(exc).__name__}: {exc}") from exc
    for attr in ("feature_names", "extract", "cache_namespace", "sr"):
        if not hasattr(extractor, attr):
            raise ValueError(f"feature set {name!r}: plug-in {ep.value} has no {attr!r} "
                             "(see docs/extending.md for the contract)")
    return Part(extractor, tuple(extractor.feature_names), prefix)


def _part(spec: str, bank_config: FeatureConfig, prefix: str, data_root=None) -> Part:
    if spec.strip().startswith(PREFIX):
        table = ImportedTable(spec.strip()[len(PREFIX):], data_root)
        if data_root is None and not table.file.is_file():
            return Part(table, (), prefix)  # a config's check, before its data root is known
        return Part(table, tuple(table.feature_names), prefix)
    m = _SPEC.match(spec.strip())
    installed = plugins()
    if m is not None and m["name"] in installed and m["name"] not in SETS:
        return _plugin_part(m["name"], installed[m["name"]], prefix)
    if m is None or m["name"] not in SETS:
        extra = f"; plug-ins installed: {sorted(installed)}" if installed else \
            "; no plug-in installed"
        raise ValueError(f"unknown feature set {spec!r}; known: {sorted(SETS)}, "
                         f"bank[group,...], import:<table> and fusions a+b{extra}")
    name, args = m["name"], m["args"]
    if args is not None and name != "bank":
        raise ValueError(f"feature set {spec!r}: only bank takes [groups]")
    if name == "bank_full":
        bank = FeatureBank(bank_config.full())
        return Part(bank, tuple(bank.feature_names), prefix)
    if name == "bank":
        bank = FeatureBank(bank_config)
        if args is None:
            return Part(bank, tuple(bank.feature_names), prefix)
        groups = [g.strip() for g in args.split(",") if g.strip()]
        unknown = [g for g in groups if g not in bank_config.groups]
        if unknown or not groups:
            raise ValueError(f"feature set {spec!r}: unknown or empty group(s) {unknown}; the "
                             f"bank's groups are {list(bank_config.groups)} (all: {GROUPS})")
        cols = bank.group_columns()
        keep = [c for g in bank_config.groups if g in groups for c in cols[g]]
        return Part(bank, tuple(keep), prefix)
    extractor = {"egemaps": lambda: OpenSmile("eGeMAPSv02"),
                 "compare": lambda: OpenSmile("ComParE_2016"),
                 "librosa_classic": lambda: LibrosaClassic()}[name]()
    return Part(extractor, tuple(extractor.feature_names), prefix)


def feature_set(spec: str, bank_config: FeatureConfig | None = None,
                data_root=None) -> FeatureSet:
    """The set ``spec`` names; ``ValueError`` naming it if it names none. ``data_root``: what
    an ``import:`` table's relative path is read against."""
    bank_config = bank_config or FeatureConfig()
    pieces = [p.strip() for p in spec.split("+")]
    if len(pieces) != len(set(pieces)) or not all(pieces):
        raise ValueError(f"feature set {spec!r}: empty or repeated part in a fusion")
    fused = len(pieces) > 1
    parts = tuple(_part(p, bank_config, f"{p}." if fused else "", data_root) for p in pieces)
    return FeatureSet(spec.replace(" ", ""), parts)
