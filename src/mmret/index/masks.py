"""Filters compiled to masks over row ids, kept for the committed state they were compiled on: a search repeats its
filter for every query, and a server sees the same few filters again and again."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from mmret.index.checks import CollectionError
from mmret.index.columns import MetadataColumns
from mmret.index.filters import compile_mask
from mmret.index.where import parse_where

KEPT = 16  # filters remembered, the oldest dropped first


class CompiledFilters:
    def __init__(self):
        self._masks: dict[str, np.ndarray] = {}  # JSON of a where -> its mask

    def known(self, where: dict[str, Any]) -> np.ndarray | None:
        """The mask of `where` if it was compiled already, else None."""
        key = _key(where)
        return None if key is None else self._masks.get(key)

    def mask(self, where: dict[str, Any], columns: MetadataColumns, context: str) -> np.ndarray:
        """Boolean mask over row ids of the rows `where` keeps; CollectionError starting with `context` if bad."""
        key = _key(where)
        if key is not None and key in self._masks:
            return self._masks[key]
        try:
            mask = compile_mask(parse_where(where), columns)
        except ValueError as error:
            raise CollectionError(f"{context}: {error}") from None
        if key is not None:
            if len(self._masks) >= KEPT:
                self._masks.pop(next(iter(self._masks)))
            self._masks[key] = mask
        return mask

    def clear(self) -> None:
        """Forget every mask: the committed state changed."""
        self._masks.clear()


def _key(where: dict[str, Any]) -> str | None:
    try:
        return json.dumps(where, sort_keys=True)
    except (TypeError, ValueError):
        return None  # not JSON: parse_where names what is wrong with it
