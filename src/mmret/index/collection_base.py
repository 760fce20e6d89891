"""The one interface of a collection, whichever backend holds it: the embedded folder (collection.py) or Milvus
(milvus/collection.py). index/backend.py opens the backend a location names; layers above `index/` name only this
base and the values of values.py.

Records with vectors in named spaces: writes are staged (staging.py) and become visible on `commit`; reads see the
last commit. The model id and the model's spaces are fixed when the collection is created; `add_space` adds others.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from typing_extensions import Self

from mmret.index.base import SearchParams
from mmret.index.staging import StagedWrites
from mmret.index.values import (
    BuiltIndex,
    CollectionConflict,
    CollectionError,
    Hit,
    Record,
)


class CollectionBase(StagedWrites, ABC):
    # -- opening ------------------------------------------------------------------------------

    @classmethod
    @abstractmethod
    def create(cls, path: str | os.PathLike, model_id: str, spaces: dict[str, int],
               vector_dtype: str = "float32") -> Self:
        """A new, empty collection; `vector_dtype` (float32, float16 or int8) is how vectors are stored."""

    @classmethod
    @abstractmethod
    def open(cls, path: str | os.PathLike) -> Self:
        """The collection at `path`; CollectionError if there is none."""

    @staticmethod
    @abstractmethod
    def exists(path: str | os.PathLike) -> bool: ...

    @classmethod
    def open_or_create(cls, path: str | os.PathLike, model_id: str, spaces: dict[str, int]) -> Self:
        """The collection at `path`, created if there is none; CollectionError if it holds another model or spaces."""
        if not cls.exists(path):
            try:
                return cls.create(path, model_id, spaces)
            except CollectionError:
                if not cls.exists(path):
                    raise  # not created meanwhile by another process
        collection = cls.open(path)
        if collection.model_id != model_id or collection.spaces != dict(spaces):
            collection.close()
            raise CollectionConflict(
                f"{path}: holds a collection of model {collection.model_id!r} with spaces "
                f"{collection.spaces}, not of model {model_id!r} with spaces {dict(spaces)}"
            )
        return collection

    @abstractmethod
    def close(self) -> None: ...

    # -- properties ---------------------------------------------------------------------------

    @property
    @abstractmethod
    def path(self) -> str | Path:
        """The location it was opened at: a folder, a Milvus Lite file or a milvus:// URI."""

    @property
    @abstractmethod
    def model_id(self) -> str: ...

    @property
    @abstractmethod
    def spaces(self) -> dict[str, int]:
        """Space name -> dimension."""

    @property
    @abstractmethod
    def vector_dtype(self) -> str: ...

    @property
    @abstractmethod
    def generation(self) -> int:
        """The number of the commit this handle last saw (0 for a new collection)."""

    @abstractmethod
    def committed_generation(self) -> int:
        """The number of the last commit, whoever made it: ahead of `generation` when another handle or process
        committed since this handle last looked. Cheap, and it does not bring this handle up to date."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def vector_count(self, space: str) -> int: ...

    @abstractmethod
    def built_index(self, space: str) -> BuiltIndex | None:
        """What the last `optimize` built for `space` (factory, tuned params, measured recall); None if nothing."""

    @abstractmethod
    def setting(self, key: str) -> Any:
        """A JSON value that a layer above stored with the collection (e.g. a space's score calibration), or None."""

    @abstractmethod
    def set_setting(self, key: str, value: Any) -> None:
        """Store a JSON value with the collection at once (no commit: it is not part of the items' state)."""

    # -- reads --------------------------------------------------------------------------------

    @abstractmethod
    def get(self, item_id: str) -> Record | None: ...

    @abstractmethod
    def records(self) -> Iterator[Record]: ...

    @abstractmethod
    def find(self, where: dict[str, Any]) -> list[Record]:
        """Committed records matching `where` (the search filter's syntax, see filters.py)."""

    @abstractmethod
    def stored_vectors(self, space: str) -> Iterator[tuple[list[Record], np.ndarray]]:
        """The committed records with a vector in `space`, a batch at a time, with those (n, d) vectors."""

    @abstractmethod
    def vectors_of(self, item_ids: Iterable[str], space: str) -> dict[str, np.ndarray]:
        """item_id -> its stored vector in `space`, for those of `item_ids` stored with a vector there."""

    @abstractmethod
    def absent_filter_keys(self, where: dict[str, Any]) -> list[str]:
        """Metadata keys of `where` that no stored item has (a likely typo)."""

    @abstractmethod
    def file_state(self) -> dict[str, tuple[int | None, float | None, str | None]]:
        """item_id -> (size, mtime, content_hash), to decide what needs re-indexing."""

    @abstractmethod
    def search(self, space: str, queries: np.ndarray, k: int = 10, where: dict[str, Any] | None = None,
               exclude: list[str] | None = None, params: SearchParams | None = None) -> list[list[Hit]]:
        """The k best records per query row, by inner product in `space`. `where` filters on metadata and on
        `modality`, `path`, `path_prefix`; `exclude` lists item_ids to skip; `params` overrides the tuned ones."""

    # -- words ----------------------------------------------------------------------------------

    @abstractmethod
    def has_words(self) -> bool:
        """Whether the collection keeps a keyword index in step with its items (keyword and hybrid search)."""

    @abstractmethod
    def word_fields(self) -> list[str]:
        """The metadata fields whose values the keyword index holds beside text, file name and folder."""

    @abstractmethod
    def index_words(self, fields: list[str] | None = None) -> None:
        """Build the keyword index from the stored items; with `fields`, of those metadata fields from now on."""

    @abstractmethod
    def keyword_search(self, query: str, k: int = 10, where: dict[str, Any] | None = None,
                       exclude: list[str] | None = None) -> list[Hit]:
        """The k items whose words best match `query` (words, "phrases", prefix*, -exclusions), best first, each
        with a snippet; BadInput for a malformed query, or where the backend has no keyword search."""

    # -- writes (`remove` and `transaction` are StagedWrites') ------------------------------------

    @abstractmethod
    def upsert(self, records: list[Record], vectors: dict[str, np.ndarray]) -> None:
        """Add records, or replace those whose item_id is stored (row and all its vectors). `vectors[space]` holds
        one unit vector per record; a space left out means these records have no vector there."""

    def add_space(self, space: str, dim: int) -> None:
        """Add a vector space to the collection (one that a later indexing stage fills, such as faces); nothing if it
        is there with this dimension. A backend that cannot add spaces refuses."""
        if self.spaces.get(space) != dim:
            raise CollectionError(f"{self.path}: this backend cannot add the vector space {space!r}")

    @abstractmethod
    def commit(self) -> None:
        """Make the staged writes durable and visible."""

    @abstractmethod
    def optimize(self, space: str | None = None, factory: str | None = None, target_recall: float = 0.95,
                 memory_budget: int | None = None, progress: bool = False) -> dict[str, dict]:
        """Compact each space (or `space`), build its index (`factory`, or one chosen by size) and tune its search
        parameters for `target_recall`; a report per space."""

    @abstractmethod
    def _stored_ids(self, item_ids: list[str]) -> Iterable[str]:
        """Those of `item_ids` that are committed."""
