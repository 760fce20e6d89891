"""YAML/JSON data <-> typed frozen dataclasses, with errors that name the bad field by its dotted path.

Fields may be bool, int, float (a string such as "1e-3" too: YAML 1.1 reads 1e-3 without a dot as a string),
str, dict, `X | None`, tuples (`tuple[T, ...]` also accepts a single item), nested dataclasses, and classes
with a `parse(str)` classmethod, written as that string or as a mapping of their fields. A dataclass checks
its own values in `__post_init__`, raising FieldError(field name, reason).
"""
from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from ..errors import BadInput


class ConfigError(BadInput):
    """A bad configuration value; the message starts with the dotted name of the field."""


class FieldError(BadInput):
    def __init__(self, name: str, reason: str):
        super().__init__(reason)
        self.name = name


def require(condition: bool, name: str, reason: str) -> None:
    if not condition:
        raise FieldError(name, reason)


def from_data(cls: type, data: Any) -> Any:
    return _build(cls, data, "")


def _build(cls: type, data: Any, prefix: str) -> Any:
    where = prefix.rstrip(".") or "config"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown field; {where} has {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, f in fields.items():
        if name in data:
            values[name] = _convert(data[name], hints[name], f"{prefix}{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{prefix}{name}: required field is missing")
    try:
        return cls(**values)
    except FieldError as error:
        raise ConfigError(f"{prefix}{error.name}: {error}") from None


def _convert(value: Any, hint: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _convert(value, next(a for a in args if a is not type(None)), where)
    if dataclasses.is_dataclass(hint) and not hasattr(hint, "parse"):
        return _build(hint, value, f"{where}.")
    if origin is tuple:
        return _convert_tuple(value, args, where)
    try:
        return _convert_scalar(value, hint)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: {error}") from None


def _convert_tuple(value: Any, args: tuple, where: str) -> tuple:
    if args[-1] is Ellipsis and not isinstance(value, list):
        value = [value]  # a single item where a list is expected
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list, got {value!r}")
    if args[-1] is not Ellipsis and len(value) != len(args):
        raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
    item_types = [args[0]] * len(value) if args[-1] is Ellipsis else list(args)
    return tuple(_convert(v, t, f"{where}[{i}]") for i, (v, t) in enumerate(zip(value, item_types)))


def _convert_scalar(value: Any, hint: Any) -> Any:
    if hasattr(hint, "parse"):
        if isinstance(value, dict):
            return hint(**value)
        if isinstance(value, str):
            return hint.parse(value)
        raise TypeError(f"expected a {hint.__name__} as a string or a mapping, got {value!r}")
    if hint is bool:
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise TypeError(f"expected a number, got {value!r}")
        return float(value)  # YAML reads 1e-3 (no dot) as a string
    if hint is str:
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {value!r}")
        return value
    if typing.get_origin(hint) is dict or hint is dict:
        if not isinstance(value, dict):
            raise TypeError(f"expected a mapping, got {value!r}")
        return dict(value)
    raise TypeError(f"unsupported field type {hint}")


def to_data(value: Any) -> Any:
    """Dataclasses to YAML/JSON-ready data (a class with `parse` as its string)."""
    if hasattr(type(value), "parse"):
        return str(value)
    if dataclasses.is_dataclass(value):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [to_data(v) for v in value]
    if isinstance(value, dict):
        return {k: to_data(v) for k, v in value.items()}
    return value
