"""mmret's `where` filters (see ../filters.py for the syntax) compiled into Milvus boolean expressions.

The meaning is the embedded backend's: a number matches a stored number or a text spelling it, a text
spelling a number matches that number, and True and False match only booleans. So each row stores, per
metadata key, the value's kind ("null", "true", "false", "number", "text" or "other") and its number (for
numbers and for texts that spell one): in a pair of scalar columns for the first keys a collection meets
(fast to filter), and in the `kinds` and `numbers` JSON fields for every key (see rows.py).

Every condition is guarded (`exists` on a JSON key, `is not null` on a column): Milvus leaves a comparison on
a missing value unknown, and `not unknown` stays unknown, whereas the embedded $ne, $nin and $not match the
items that lack the key. One difference is refused: numbers compared with the record fields `modality` and
`path` (the embedded backend reads a path that spells a number as that number; Milvus compares them as text).
"""

from __future__ import annotations

import math
from typing import Any

from mmret.index.columns import FIELDS, number_in

NOTHING = 'item_id == ""'  # item ids are never empty
TEXT_MARK, TEXT_END = "t:", "t;"  # a text's prefix in a value column, and the first string past all of them
EVERYTHING = 'item_id != ""'
_RANGES = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_OPERATORS = {"$eq", "$ne", "$in", "$nin", *_RANGES}


def compile_where(where: dict[str, Any], slots: dict[str, str]) -> str:
    """The Milvus expression of `where`, using the columns of the keys in `slots` (key -> column prefix, see
    rows.py); ValueError names a bad part (with the embedded backend's wording)."""
    return _clause(where, slots)


def has_key(key: str, slots: dict[str, str]) -> str:
    """The expression of the items whose metadata has `key`."""
    return f"{slots[key]}_value is not null" if key in slots else f"exists kinds[{quoted(key)}]"


def quoted(text: str) -> str:
    """A Milvus string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def kind_of(value: Any) -> str:
    """The `kinds` entry of a stored metadata value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return "number"
    return "text" if isinstance(value, str) else "other"


def number_of(value: Any) -> float:
    """The `numbers` entry of a stored metadata value, NaN for none."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return math.nan
    return float(value) if not isinstance(value, str) else number_in(value)


def _clause(where: dict[str, Any], slots: dict[str, str]) -> str:
    if not isinstance(where, dict):
        raise ValueError(f"a filter must be a dict, got {type(where).__name__}: {where!r}")  # noqa: TRY004
    parts = []
    for key, value in where.items():
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise ValueError(f"{key} needs a non-empty list of filters, got {value!r}")
            parts.append(_joined([_clause(part, slots) for part in value], " and " if key == "$and" else " or "))
        elif key == "$not":
            parts.append(f"not ({_clause(value, slots)})")
        elif key.startswith("$"):
            raise ValueError(f"unknown filter operator {key!r}; use $and, $or, $not or a metadata key")
        else:
            parts.append(_condition(key, value, slots))
    return _joined(parts, " and ") if parts else EVERYTHING


def _condition(key: str, condition: Any, slots: dict[str, str]) -> str:
    if key == "path_prefix":
        if not isinstance(condition, str):
            raise ValueError(f"filter path_prefix must be a string, got {condition!r}")
        pattern = condition.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"path is not null and path like {quoted(pattern + '%')}"
    if key in FIELDS:
        terms = _FieldTerms(key)
    else:
        terms = _ColumnTerms(key, slots[key]) if key in slots else _JsonTerms(key)
    if not (isinstance(condition, dict) and condition and all(op.startswith("$") for op in condition)):
        return terms.equal(condition)
    parts = []
    for op, value in condition.items():
        if op not in _OPERATORS:
            raise ValueError(f"filter {key!r}: unknown operator {op!r}; known are {sorted(_OPERATORS)}")
        if op in ("$in", "$nin"):
            if not isinstance(value, list):
                raise ValueError(f"filter {key!r}: {op} needs a list of values, got {value!r}")
            found = _joined([terms.equal(each) for each in value], " or ") if value else NOTHING
            parts.append(found if op == "$in" else f"not ({found})")
        elif op in ("$eq", "$ne"):
            parts.append(terms.equal(value) if op == "$eq" else f"not ({terms.equal(value)})")
        else:
            parts.append(terms.range(_RANGES[op], value))
    return _joined(parts, " and ")


class _MetadataTerms:
    """Conditions on one metadata key; the subclasses say where its kind, number and text are stored."""

    def __init__(self, key: str):
        self.key = key

    def equal(self, value: Any) -> str:
        if value is None or isinstance(value, bool):
            return self._is(kind_of(value))
        if isinstance(value, (int, float)):
            return self._compare_number("==", value)
        if isinstance(value, str):
            text = self._text("==", value)
            spelled = number_in(value)
            if math.isnan(spelled):
                return text
            return f"({text}) or ({self._is('number')} and {self._number(spelled, '==')})"
        raise ValueError(f"metadata filter {self.key!r}: unsupported value type {type(value).__name__} ({value!r})")

    def range(self, op: str, value: Any) -> str:
        _check_bound(self.key, value)
        spelled = value if not isinstance(value, str) else number_in(value)
        if not math.isnan(spelled):
            return self._compare_number(op, spelled)
        return self._text(op, value)

    def _compare_number(self, op: str, value: float) -> str:
        if math.isinf(value):  # stored numbers are finite: infinity bounds all or none of them
            below = (value > 0) == (op in ("<", "<="))
            return self._number(None, op) if below else NOTHING
        return NOTHING if math.isnan(value) else self._number(value, op)

    def _is(self, kind: str) -> str:
        """The stored value is of `kind` (see kind_of)."""
        raise NotImplementedError

    def _text(self, op: str, value: str) -> str:
        """The stored value is a text comparing so with `value`."""
        raise NotImplementedError

    def _number(self, value: float | None, op: str) -> str:
        """The stored value has a number (None: any) comparing so with `value`."""
        raise NotImplementedError


class _JsonTerms(_MetadataTerms):
    """A key without columns: the row's `metadata`, `kinds` and `numbers` JSON (slow: each row's JSON is parsed)."""

    def __init__(self, key: str):
        super().__init__(key)
        self._kind, self._value = f"kinds[{quoted(key)}]", f"metadata[{quoted(key)}]"
        self._numbers = f"numbers[{quoted(key)}]"

    def _is(self, kind: str) -> str:
        return f"exists {self._kind} and {self._kind} == {quoted(kind)}"

    def _text(self, op: str, value: str) -> str:
        return f"{self._is('text')} and {self._value} {op} {quoted(value)}"

    def _number(self, value: float | None, op: str) -> str:
        stored = f"exists {self._numbers}"
        return stored if value is None else f"{stored} and {self._numbers} {op} {_number(value)}"


class _ColumnTerms(_MetadataTerms):
    """A key with its own pair of columns (see rows.py): `<slot>_number` and `<slot>_value`, the latter holding
    the kind, or "t:" and the text for a text, so that text order is the order of the column's values."""

    def __init__(self, key: str, slot: str):
        super().__init__(key)
        self._value, self._numbers = f"{slot}_value", f"{slot}_number"

    def _is(self, kind: str) -> str:
        return f"{self._value} is not null and {self._value} == {quoted(kind)}"

    def _text(self, op: str, value: str) -> str:
        texts = f'{self._value} >= "{TEXT_MARK}" and {self._value} < "{TEXT_END}"'
        return f"{self._value} is not null and {texts} and {self._value} {op} {quoted(TEXT_MARK + value)}"

    def _number(self, value: float | None, op: str) -> str:
        stored = f"{self._numbers} is not null"
        return stored if value is None else f"{stored} and {self._numbers} {op} {_number(value)}"


class _FieldTerms:
    """Conditions on a record field (a text column)."""

    def __init__(self, key: str):
        self.key = key

    def equal(self, value: Any) -> str:
        if value is None or isinstance(value, bool):
            return NOTHING  # the fields hold texts (or nothing), never null or a boolean
        if isinstance(value, str):
            return f"{self.key} is not null and {self.key} == {quoted(value)}"
        if isinstance(value, (int, float)):
            raise self._no_numbers(value)
        raise ValueError(f"metadata filter {self.key!r}: unsupported value type {type(value).__name__} ({value!r})")

    def range(self, op: str, value: Any) -> str:
        _check_bound(self.key, value)
        if not isinstance(value, str) or not math.isnan(number_in(value)):
            raise self._no_numbers(value)
        return f"{self.key} is not null and {self.key} {op} {quoted(value)}"

    def _no_numbers(self, value: Any) -> ValueError:
        return ValueError(f"filter {self.key!r}: a Milvus collection compares {self.key} as text only, "
                          f"not with the number {value!r}")


def _check_bound(key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"filter {key!r}: a range bound must be a number or a text, got {value!r}")  # noqa: TRY004


def _number(value: float) -> str:
    return repr(float(value))


def _joined(parts: list[str], operator: str) -> str:
    return parts[0] if len(parts) == 1 else operator.join(f"({part})" for part in parts)
