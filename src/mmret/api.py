"""The public Python API: a Collection binds a stored index to the encoder that fills and queries it.

    from mmret import Collection
    photos = Collection.open("my-photos")            # created on first use, with the default model
    photos.add(["~/Pictures"])                        # new and changed files only
    for hit in photos.search(text="a dog on a beach", k=5):
        print(hit.score, hit.record.path)
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from .data.decode import open_image, read_bytes
from .data.sources import Skipped
from .encoders.base import SHARED, Encoder
from .encoders.registry import DEFAULT_MODEL, load_encoder
from .index.collection import CollectionError, Hit, VectorCollection
from .ingest import IndexReport, Ingest


class Collection:
    def __init__(self, store: VectorCollection, encoder: Encoder | None = None, precision: str = "auto"):
        self.store = store
        self._encoder = encoder
        self._precision = precision

    @classmethod
    def open(cls, path: str | Path, model: str | Encoder | None = None, precision: str = "auto",
             create: bool = True) -> Collection:
        """Open the collection in `path`; if there is none, create it (with `model`, default "offline") or,
        with `create=False`, raise CollectionError.

        An existing collection keeps the model it was built with; naming a different one is an error.
        """
        path = Path(path).expanduser()
        if not create or VectorCollection.exists(path):
            store = VectorCollection.open(path)
            if model is None:
                return cls(store, precision=precision)
            encoder = model if isinstance(model, Encoder) else load_encoder(model, precision)
            _check_same_model(store, encoder)
            return cls(store, encoder)
        encoder = model if isinstance(model, Encoder) else load_encoder(model or DEFAULT_MODEL, precision)
        return cls(VectorCollection.create(path, encoder.model_id, dict(encoder.spaces)), encoder)

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_encoder(self.store.model_id, self._precision)
            _check_same_model(self.store, self._encoder)
        return self._encoder

    def __len__(self) -> int:
        return len(self.store)

    def add(self, sources: Iterable[str | Path], sync: bool = False, batch_size: int = 32,
            workers: int | None = None, progress: bool = False,
            on_skip: Callable[[Skipped], None] | None = None) -> IndexReport:
        """Index folders, files and manifests; with `sync`, also drop stored files that have disappeared."""
        sources = [Path(s).expanduser() for s in sources]
        ingest = Ingest(self.store, self.encoder, batch_size, workers, progress=progress, on_skip=on_skip)
        return ingest.run(sources, sync=sync)

    def remove(self, item_ids: Iterable[str]) -> int:
        """Remove items by id; a file may also be named by a relative path, even once it is deleted (its id is
        its absolute path). Returns how many were stored."""
        ids = set()
        for item_id in item_ids:
            ids.update((item_id, str(Path(item_id).expanduser().resolve())))
        return self.store.remove(sorted(ids))

    def search(self, text: str | None = None, image: str | Path | None = None, k: int = 10,
               where: dict | None = None, space: str | None = None, exclude: list[str] | None = None) -> list[Hit]:
        """The k nearest items to a text, an image file, or both at once (their unit query vectors averaged)."""
        query, space = self.query_vector(text, image, space)
        return self.store.search(space, query[None, :], k, where=where, exclude=exclude)[0]

    def query_vector(self, text: str | None, image: str | Path | None, space: str | None) -> tuple[np.ndarray, str]:
        if text is None and image is None:
            raise ValueError("a query needs text, an image, or both")
        space = space or (self._image_space() if text is None else SHARED)
        parts = []
        if text is not None:
            parts.append(self.encoder.encode("text", [text], space)[0])
        if image is not None:
            image_path = str(Path(image).expanduser())
            picture = open_image(read_bytes(image_path), image_path)
            parts.append(self.encoder.encode("image", [picture], space)[0])
        query = np.mean(parts, axis=0)
        return (query / max(np.linalg.norm(query), 1e-12)).astype(np.float32), space

    def _image_space(self) -> str:
        """Image queries use the image tower's own space when the model has one (it retrieves images better)."""
        own = [s for s in self.encoder.spaces_for("image") if s != SHARED]
        return own[0] if own else SHARED


def _check_same_model(store: VectorCollection, encoder: Encoder) -> None:
    if encoder.model_id != store.model_id:
        raise CollectionError(f"{store.path}: built with model {store.model_id!r}, not {encoder.model_id!r}; "
                              "a collection never mixes models (index into a new collection instead)")
