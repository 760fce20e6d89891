"""A `where` tree (see ../where.py for the syntax) compiled into a Milvus boolean expression.

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
from mmret.index.where import And, Condition, Not, Or, PathPrefix, Value, Where

NOTHING = 'item_id == ""'  # item ids are never empty
TEXT_MARK, TEXT_END = "t:", "t;"  # a text's prefix in a value column, and the first string past all of them
EVERYTHING = 'item_id != ""'
_RANGES = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def compile_expression(where: Where, slots: dict[str, str]) -> str:
    """The Milvus expression of `where`, using the columns of the keys in `slots` (key -> column prefix, see
    rows.py); ValueError if it compares `modality` or `path` with a number."""
    match where:
        case And(parts):
            return _joined([compile_expression(part, slots) for part in parts], " and ") if parts else EVERYTHING
        case Or(parts):
            return _joined([compile_expression(part, slots) for part in parts], " or ")
        case Not(part):
            return f"not ({compile_expression(part, slots)})"
        case PathPrefix(prefix):
            pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            return f"path is not null and path like {quoted(pattern + '%')}"
        case Condition(key, op, value):
            return _condition(_terms_of(key, slots), op, value)
    raise TypeError(f"not a where tree: {where!r}")


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


def _terms_of(key: str, slots: dict[str, str]) -> _MetadataTerms | _FieldTerms:
    if key in FIELDS:
        return _FieldTerms(key)
    return _ColumnTerms(key, slots[key]) if key in slots else _JsonTerms(key)


def _condition(terms: _MetadataTerms | _FieldTerms, op: str, value: Any) -> str:
    if op in ("$in", "$nin"):
        found = _joined([terms.equal(each) for each in value], " or ") if value else NOTHING
        return found if op == "$in" else f"not ({found})"
    if op in ("$eq", "$ne"):
        return terms.equal(value) if op == "$eq" else f"not ({terms.equal(value)})"
    return terms.range(_RANGES[op], value)


class _MetadataTerms:
    """Conditions on one metadata key; the subclasses say where its kind, number and text are stored."""

    def __init__(self, key: str):
        self.key = key

    def equal(self, value: Value) -> str:
        if value is None or isinstance(value, bool):
            return self._is(kind_of(value))
        if isinstance(value, (int, float)):
            return self._compare_number("==", value)
        text = self._text("==", value)
        spelled = number_in(value)
        if math.isnan(spelled):
            return text
        return f"({text}) or ({self._is('number')} and {self._number(spelled, '==')})"

    def range(self, op: str, value: float | str) -> str:
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

    def equal(self, value: Value) -> str:
        if value is None or isinstance(value, bool):
            return NOTHING  # the fields hold texts (or nothing), never null or a boolean
        if isinstance(value, str):
            return f"{self.key} is not null and {self.key} == {quoted(value)}"
        raise self._no_numbers(value)

    def range(self, op: str, value: float | str) -> str:
        if not isinstance(value, str) or not math.isnan(number_in(value)):
            raise self._no_numbers(value)
        return f"{self.key} is not null and {self.key} {op} {quoted(value)}"

    def _no_numbers(self, value: Any) -> ValueError:
        return ValueError(f"filter {self.key!r}: a Milvus collection compares {self.key} as text only, "
                          f"not with the number {value!r}")


def _number(value: float) -> str:
    return repr(float(value))


def _joined(parts: list[str], operator: str) -> str:
    return parts[0] if len(parts) == 1 else operator.join(f"({part})" for part in parts)
