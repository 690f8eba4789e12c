"""Config values checked against a frozen dataclass's annotations, one generic rule for all.

TOML gives lists, ints and strings; the configs want tuples, floats and booleans. Every value
is converted where the conversion cannot change its meaning (a list becomes a tuple, an int a
float, one scalar a one-element tuple) and refused otherwise, with an error naming the file,
the key, what was expected and what was given. ``speaker_norm = "no"`` is therefore an error,
not two speaker-normalised cells.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any


class ConfigError(ValueError):
    """A config value or key that cannot mean what the config says; names where and why."""


def _type_name(annotation) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_type_name(args[0])}"
        return f"a list of {len(args)} ({', '.join(_type_name(a) for a in args)})"
    if annotation is type(None):
        return "none"
    if annotation is types.MappingProxyType:
        return "a table"
    return getattr(annotation, "__name__", str(annotation))


def _given(value) -> str:
    return f"{value!r} ({type(value).__name__})"


def coerce(value: Any, annotation, where: str) -> Any:
    """``value`` as ``annotation`` (see the module doc), or :class:`ConfigError`."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    fail = ConfigError(f"{where}: expected {_type_name(annotation)}, given {_given(value)}")
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in args:
            if option is type(None):
                continue
            try:
                return coerce(value, option, where)
            except ConfigError:
                continue
        raise fail
    if origin is tuple:
        variadic = len(args) == 2 and args[1] is Ellipsis
        if variadic and not isinstance(value, list | tuple):
            return (coerce(value, args[0], where),)  # one scalar: a one-element list
        if not isinstance(value, list | tuple):
            raise fail
        if not variadic and len(value) != len(args):
            raise fail
        kinds = [args[0]] * len(value) if variadic else list(args)
        return tuple(coerce(v, k, f"{where}[{i}]") for i, (v, k) in
                     enumerate(zip(value, kinds, strict=True)))
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise fail
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise fail
    if annotation is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise fail
    if annotation is str:
        if isinstance(value, str):
            return value
        raise fail
    if annotation is types.MappingProxyType or origin is Mapping:
        if isinstance(value, Mapping):
            return types.MappingProxyType(dict(value))
        raise fail
    if isinstance(annotation, type) and isinstance(value, annotation):
        return value
    raise fail


def build(cls: type, values: Mapping, where: str,
          convert: Mapping[str, Callable[[Any], Any]] | None = None):
    """``cls(**values)`` after checking keys and types; ``convert`` builds nested fields.

    Errors from the dataclass's own checks (``__post_init__``) are re-raised with ``where``.
    """
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: expected a table, given {_given(values)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise KeyError(f"{where}: unknown key(s) {unknown}; known: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    out = {}
    for key, value in values.items():
        if convert and key in convert:
            out[key] = convert[key](value)
        else:
            out[key] = coerce(value, hints[key], f"{where} {key}")
    try:
        return cls(**out)
    except (ValueError, KeyError) as exc:
        if where in str(exc):
            raise
        msg = exc.args[0] if exc.args else str(exc)
        raise type(exc)(f"{where}: {msg}") from exc
