"""The `where` of find and search (a metadata filter), checked once and parsed into a small immutable tree that
each backend compiles: a boolean mask over row ids (filters.py) or a Milvus expression (milvus/filters.py).

    {"folder": "cats"}                          equality; several keys are ANDed
    {"width": {"$gte": 640, "$lt": 2000}}       ranges: $gt $gte $lt $lte; also $eq $ne $in $nin
    {"$or": [{...}, {...}]}, {"$and": [...]}, {"$not": {...}}
    {"modality": "image"}, {"path": "/x/a.jpg"}, {"path_prefix": "/x/"}   the record's own fields

A number matches a stored number or a stored text that spells it (CSV cells are stored as text), and a
text that spells a number matches that number; True and False match only booleans.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mmret.errors import BadInput
from mmret.index.columns import FIELDS

RANGES = ("$gt", "$gte", "$lt", "$lte")
OPERATORS = ("$eq", "$ne", "$in", "$nin", *RANGES)
LOGICAL = ("$and", "$or", "$not")
PATH_PREFIX = "path_prefix"
MAX_DEPTH = 32  # nesting of a filter (and of any JSON a request sends), refused beyond before any recursion

Value = str | int | float | bool | None


@dataclass(frozen=True)
class Condition:
    """The value stored under `key` compared by `op` (one of OPERATORS) with `value`, a tuple for $in and $nin."""

    key: str
    op: str
    value: Value | tuple[Value, ...]


@dataclass(frozen=True)
class PathPrefix:
    """The record's path starts with `prefix`."""

    prefix: str


@dataclass(frozen=True)
class And:
    """Every part holds; no parts: every item."""

    parts: tuple[Where, ...]


@dataclass(frozen=True)
class Or:
    """At least one part holds (never empty)."""

    parts: tuple[Where, ...]


@dataclass(frozen=True)
class Not:
    part: Where


Where = And | Or | Not | Condition | PathPrefix


def parse_where(where: Any, depth: int = 1) -> Where:
    """The tree of a `where` dict; BadInput names the first bad part."""
    if not isinstance(where, dict):
        raise BadInput(f"a filter must be a dict, got {type(where).__name__}: {where!r}")
    if depth > MAX_DEPTH:
        raise BadInput(f"a filter nests deeper than {MAX_DEPTH} levels")
    return _all([_entry(key, value, depth) for key, value in where.items()])


def load_json(text: str, name: str) -> Any:
    """The JSON value of a request parameter (`where`, `parts`); BadInput when it is not JSON or nests deeper than
    MAX_DEPTH (counted on the text, so a deep value never reaches the recursive decoder)."""
    if json_depth(text) > MAX_DEPTH:
        raise BadInput(f"{name}: nests deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BadInput(f"{name}: not valid JSON ({error.msg} at character {error.pos})") from None


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in a JSON text (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def keys_of(where: Where) -> set[str]:
    """The metadata keys a tree compares (not the record fields)."""
    if isinstance(where, (And, Or)):
        return set().union(*map(keys_of, where.parts))
    if isinstance(where, Not):
        return keys_of(where.part)
    if isinstance(where, Condition) and where.key not in FIELDS:
        return {where.key}
    return set()


def _all(parts: list[Where]) -> Where:
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _entry(key: Any, value: Any, depth: int) -> Where:
    """One entry of a `where` dict: a logical operator, path_prefix, or a metadata key and its condition."""
    if not isinstance(key, str):
        raise BadInput(f"a filter key must be a text, got {key!r}")
    if key in ("$and", "$or"):
        if not isinstance(value, list) or not value:
            raise BadInput(f"{key} needs a non-empty list of filters, got {value!r}")
        parts = tuple(parse_where(each, depth + 1) for each in value)
        return And(parts) if key == "$and" else Or(parts)
    if key == "$not":
        return Not(parse_where(value, depth + 1))
    if key.startswith("$"):
        raise BadInput(f"unknown filter operator {key!r}; use $and, $or, $not or a metadata key")
    if key == PATH_PREFIX:
        if not isinstance(value, str):
            raise BadInput(f"filter path_prefix must be a string, got {value!r}")
        return PathPrefix(value)
    if not (isinstance(value, dict) and value and all(isinstance(op, str) and op.startswith("$") for op in value)):
        return Condition(key, "$eq", _value(key, value))  # a dict that is not of operators is refused there
    return _all([_condition(key, op, operand) for op, operand in value.items()])


def _condition(key: str, op: str, operand: Any) -> Condition:
    if op not in OPERATORS:
        raise BadInput(f"filter {key!r}: unknown operator {op!r}; known are {sorted(OPERATORS)}")
    if op in ("$in", "$nin"):
        if not isinstance(operand, list):
            raise BadInput(f"filter {key!r}: {op} needs a list of values, got {operand!r}")
        return Condition(key, op, tuple(_value(key, each) for each in operand))
    if op in RANGES and (isinstance(operand, bool) or not isinstance(operand, (int, float, str))):
        raise BadInput(f"filter {key!r}: a range bound must be a number or a text, got {operand!r}")
    return Condition(key, op, _value(key, operand))


def _value(key: str, value: Any) -> Value:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise BadInput(f"metadata filter {key!r}: unsupported value type {type(value).__name__} ({value!r})")
