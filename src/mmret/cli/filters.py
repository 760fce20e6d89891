"""`--filter` as the CLI reads it (relative paths taken from the working directory), and why filters that match
nothing did so: the key each filter names, the values stored under it (all of them when they are few, else the
closest ones to what was asked)."""
from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

from ..index.where import PATH_PREFIX

ALL_VALUES_UP_TO = 12  # a key with at most this many stored values has them all listed
OWN_FIELDS = ("modality", "path")  # a record's own fields, filtered like metadata keys


def cli_where(arguments: list[str]) -> dict[str, Any] | None:
    """The `where` of the --filter arguments, with a relative `path` or `path_prefix` made absolute as `remove` and
    `--like` take paths."""
    from ..index.filters import parse_filters

    where = parse_filters(arguments)
    for key in (PATH_PREFIX, "path"):
        if where and key in where:
            where[key] = _absolute(where[key], keep_separator=key == PATH_PREFIX)
    return where


def _absolute(condition: Any, keep_separator: bool) -> Any:
    """A relative path (in a condition, or a list of them) made absolute as stored paths are: resolved."""
    if isinstance(condition, dict):
        return {op: _absolute(value, keep_separator) for op, value in condition.items()}
    if isinstance(condition, list):
        return [_absolute(value, keep_separator) for value in condition]
    if not isinstance(condition, str):
        return condition
    expanded = os.path.expanduser(condition)
    if os.path.isabs(expanded):
        return expanded
    resolved = str(Path(expanded).resolve())
    return resolved + os.sep if keep_separator and condition.endswith(os.sep) else resolved


def why_nothing_matched(store, where: dict[str, Any]) -> str | None:
    """Which filter matched no item, and the stored values it might have meant; None when the filters match."""
    if store.find(where):
        return None
    for key, condition in where.items():
        if key.startswith("$") or store.find({key: condition}):
            continue
        return f"--filter on {key!r} ({_shown(condition)}) matches no item{_stored_values(store, key, condition)}"
    return "no item matches all the filters together"


def _shown(condition: Any) -> str:
    return json.dumps(condition, ensure_ascii=False) if isinstance(condition, dict) else repr(condition)


def _stored_values(store, key: str, condition: Any) -> str:
    if key == PATH_PREFIX:
        return "; no stored path starts with it"
    values = sorted({str(v) for v in (_value(record, key) for record in store.records()) if v is not None})
    if not values:
        keys = {stored for record in store.records() for stored in record.metadata}
        close = difflib.get_close_matches(key, sorted(keys), n=3)
        return f"; no item has the key {key!r}" + (f", did you mean {', '.join(map(repr, close))}?" if close else "")
    if len(values) <= ALL_VALUES_UP_TO:
        return f"; stored values of {key}: {', '.join(map(repr, values))}"
    asked = [str(v) for v in (condition.get("$in", []) if isinstance(condition, dict) else [condition])]
    close = list(dict.fromkeys(match for v in asked for match in difflib.get_close_matches(v, values, n=3)))
    return f"; closest stored values of {key}: {', '.join(map(repr, close))}" if close else ""


def _value(record, key: str) -> Any:
    return getattr(record, key) if key in OWN_FIELDS else record.metadata.get(key)
