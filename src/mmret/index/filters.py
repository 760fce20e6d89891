"""Metadata filters: a `where` (dict) compiled into a boolean mask over row ids, plus the CLI's text syntax.

    {"folder": "cats"}                          equality; several keys are ANDed
    {"width": {"$gte": 640, "$lt": 2000}}       ranges: $gt $gte $lt $lte; also $eq $ne $in $nin
    {"$or": [{...}, {...}]}, {"$and": [...]}, {"$not": {...}}
    {"modality": "image"}, {"path": "/x/a.jpg"}, {"path_prefix": "/x/"}   the record's own fields

A number matches a stored number or a stored text that spells it (CSV cells are stored as text), and a
text that spells a number matches that number; True and False match only booleans.
"""

from __future__ import annotations

import json
import math
import operator
import re
from typing import Any

import numpy as np

from mmret.index.columns import (
    FALSE,
    FIELDS,
    NULL,
    NUMBER,
    TEXT,
    TRUE,
    Column,
    MetadataColumns,
    number_in,
)

_RANGES = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}
_OPERATORS = {"$eq", "$ne", "$in", "$nin", *_RANGES}
_CLI_FILTER = re.compile(r"(?P<key>[^=!<>]+)(?P<op>!=|>=|<=|=|>|<)(?P<value>.*)", re.DOTALL)
_CLI_OPERATORS = {">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte"}


def compile_where(where: dict[str, Any], columns: MetadataColumns) -> np.ndarray:
    """Boolean mask over row ids of the stored items matching `where`; ValueError names a bad part."""
    return _clause(where, columns) & columns.alive


def keys_of(where: dict[str, Any]) -> set[str]:
    """The metadata keys a `where` refers to (not the record fields)."""
    keys = set()
    for key, value in where.items():
        if key in ("$and", "$or"):
            keys.update(*(keys_of(part) for part in value))
        elif key == "$not":
            keys.update(keys_of(value))
        elif key not in (*FIELDS, "path_prefix"):
            keys.add(key)
    return keys


def _clause(where: dict[str, Any], columns: MetadataColumns) -> np.ndarray:
    if not isinstance(where, dict):
        raise ValueError(f"a filter must be a dict, got {type(where).__name__}: {where!r}")  # noqa: TRY004
    mask = np.ones(len(columns.alive), dtype=bool)
    for key, value in where.items():
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise ValueError(f"{key} needs a non-empty list of filters, got {value!r}")
            parts = [_clause(part, columns) for part in value]
            mask &= np.logical_and.reduce(parts) if key == "$and" else np.logical_or.reduce(parts)
        elif key == "$not":
            mask &= ~_clause(value, columns)
        elif key.startswith("$"):
            raise ValueError(f"unknown filter operator {key!r}; use $and, $or, $not or a metadata key")
        else:
            mask &= _condition(key, value, columns)
    return mask


def _condition(key: str, condition: Any, columns: MetadataColumns) -> np.ndarray:
    if key == "path_prefix":
        if not isinstance(condition, str):
            raise ValueError(f"filter path_prefix must be a string, got {condition!r}")
        column = columns.column("path")
        return np.isin(column.code, [code for text, code in column.codes.items() if text.startswith(condition)])
    column = columns.column(key)
    if not (isinstance(condition, dict) and condition and all(op.startswith("$") for op in condition)):
        return _equal(key, column, condition)
    mask = np.ones(len(column.kind), dtype=bool)
    for op, value in condition.items():
        if op not in _OPERATORS:
            raise ValueError(f"filter {key!r}: unknown operator {op!r}; known are {sorted(_OPERATORS)}")
        if op in ("$in", "$nin"):
            if not isinstance(value, list):
                raise ValueError(f"filter {key!r}: {op} needs a list of values, got {value!r}")
            found = np.zeros(len(column.kind), dtype=bool)
            for each in value:
                found |= _equal(key, column, each)
            mask &= found if op == "$in" else ~found
        elif op in ("$eq", "$ne"):
            mask &= _equal(key, column, value) if op == "$eq" else ~_equal(key, column, value)
        else:
            mask &= _range(key, column, _RANGES[op], value)
    return mask


def _equal(key: str, column: Column, value: Any) -> np.ndarray:
    if value is None:
        return column.kind == NULL
    if isinstance(value, bool):
        return column.kind == (TRUE if value else FALSE)
    if isinstance(value, (int, float)):
        return _numeric(column) & (column.number == value)
    if isinstance(value, str):
        mask = column.code == column.codes.get(value, -2)
        spelled = number_in(value)
        if not math.isnan(spelled):  # also match the number it spells
            mask |= (column.kind == NUMBER) & (column.number == spelled)
        return mask
    raise ValueError(f"metadata filter {key!r}: unsupported value type {type(value).__name__} ({value!r})")


def _range(key: str, column: Column, compare, value: Any) -> np.ndarray:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"filter {key!r}: a range bound must be a number or a text, got {value!r}")  # noqa: TRY004
    spelled = value if not isinstance(value, str) else number_in(value)
    if not math.isnan(spelled):
        with np.errstate(invalid="ignore"):
            return _numeric(column) & compare(column.number, spelled)
    return np.isin(column.code, [code for text, code in column.codes.items() if compare(text, value)])


def _numeric(column: Column) -> np.ndarray:
    return (column.kind == NUMBER) | (column.kind == TEXT)  # a text that spells no number holds NaN


def parse_filters(arguments: list[str]) -> dict[str, Any] | None:
    """A `where` from CLI filters: KEY=VALUE, KEY!=VALUE, KEY>VALUE, KEY>=VALUE, KEY<VALUE, KEY<=VALUE.

    Filters on different keys are ANDed; several KEY=VALUE on one key are ORed (any of the values), and
    other operators on that key are ANDed with them (`year>=2000 year<2010` is a range).
    """
    per_key: dict[str, dict[str, Any]] = {}
    for argument in arguments:
        match = _CLI_FILTER.fullmatch(argument)
        if not match or not match["key"].strip():
            raise ValueError(f"--filter {argument!r}: expected KEY=VALUE, KEY!=VALUE, KEY>VALUE, KEY>=VALUE, "
                             "KEY<VALUE or KEY<=VALUE")
        key, op, value = match["key"].strip(), match["op"], _typed(match["value"])
        condition = per_key.setdefault(key, {})
        if op in ("=", "!="):
            condition.setdefault("$in" if op == "=" else "$nin", []).append(value)
        elif _CLI_OPERATORS[op] in condition:
            raise ValueError(f"--filter {argument!r}: {key}{op} is given twice")
        else:
            condition[_CLI_OPERATORS[op]] = value
    return {key: _simplest(condition) for key, condition in per_key.items()} or None


def _simplest(condition: dict[str, Any]) -> Any:
    if list(condition) == ["$in"] and len(condition["$in"]) == 1:
        return condition["$in"][0]
    return condition


def _typed(value: str):
    """Numbers and true/false as such, anything else as the text given."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return value
    return parsed if isinstance(parsed, (int, float, bool)) else value
