"""A `where` tree (see where.py) compiled into a boolean mask over row ids, plus the CLI's text syntax for one."""

from __future__ import annotations

import json
import math
import operator
import re
from typing import Any

import numpy as np

from mmret.errors import BadInput
from mmret.index.columns import (
    FALSE,
    NULL,
    NUMBER,
    TEXT,
    TRUE,
    Column,
    MetadataColumns,
    number_in,
)
from mmret.index.where import And, Condition, Not, Or, PathPrefix, Value, Where

_RANGES = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}
_CLI_FILTER = re.compile(r"(?P<key>[^=!<>]+)(?P<op>!=|>=|<=|=|>|<)(?P<value>.*)", re.DOTALL)
_CLI_OPERATORS = {">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte"}


def compile_mask(where: Where, columns: MetadataColumns) -> np.ndarray:
    """Boolean mask over row ids of the stored items matching `where`."""
    return _mask(where, columns) & columns.alive


def _mask(where: Where, columns: MetadataColumns) -> np.ndarray:
    match where:
        case And(parts):
            mask = np.ones(len(columns.alive), dtype=bool)
            for part in parts:
                mask &= _mask(part, columns)
            return mask
        case Or(parts):
            return np.logical_or.reduce([_mask(part, columns) for part in parts])
        case Not(part):
            return ~_mask(part, columns)
        case PathPrefix(prefix):
            column = columns.column("path")
            return np.isin(column.code, [code for text, code in column.codes.items() if text.startswith(prefix)])
        case Condition(key, op, value):
            return _condition(columns.column(key), op, value)
    raise TypeError(f"not a where tree: {where!r}")


def _condition(column: Column, op: str, value: Any) -> np.ndarray:
    if op in ("$in", "$nin"):
        found = np.zeros(len(column.kind), dtype=bool)
        for each in value:
            found |= _equal(column, each)
        return found if op == "$in" else ~found
    if op in ("$eq", "$ne"):
        return _equal(column, value) if op == "$eq" else ~_equal(column, value)
    return _range(column, _RANGES[op], value)


def _equal(column: Column, value: Value) -> np.ndarray:
    if value is None:
        return column.kind == NULL
    if isinstance(value, bool):
        return column.kind == (TRUE if value else FALSE)
    if isinstance(value, (int, float)):
        return _numeric(column) & (column.number == value)
    mask = column.code == column.codes.get(value, -2)
    spelled = number_in(value)
    if not math.isnan(spelled):  # also match the number it spells
        mask |= (column.kind == NUMBER) & (column.number == spelled)
    return mask


def _range(column: Column, compare, value: float | str) -> np.ndarray:
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
            raise BadInput(f"--filter {argument!r}: expected KEY=VALUE, KEY!=VALUE, KEY>VALUE, KEY>=VALUE, "
                           "KEY<VALUE or KEY<=VALUE")
        key, op, value = match["key"].strip(), match["op"], _typed(match["value"].strip())
        condition = per_key.setdefault(key, {})
        if op in ("=", "!="):
            condition.setdefault("$in" if op == "=" else "$nin", []).append(value)
        elif _CLI_OPERATORS[op] in condition:
            raise BadInput(f"--filter {argument!r}: {key}{op} is given twice")
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
