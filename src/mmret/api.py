"""The public Python API: a Collection binds a stored index to the encoder that fills and queries it.

    from mmret import Collection
    photos = Collection.open("my-photos")            # created by its first add(), with the default model
    photos.add(["~/Pictures"])                        # new and changed files only
    for hit in photos.search(text="a dog on a beach", k=5):
        print(hit.score, hit.record.path)

Audio and video files are stored with timed segments (shots, sound windows, speech): a hit on a segment has
`start` and `end` seconds in its metadata, and by default each file appears once, as its best-matching part.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from .composed import QueryPart
from .data.sources import Skipped, SourceError
from .encoders.base import Encoder
from .encoders.fused import FusedEncoder, split_fusion_suffix
from .index.collection import CollectionError, Hit, VectorCollection
from .models import DEFAULT_MODEL, load_encoder, same_model, with_fusion
from .pipeline import IndexReport, Ingest
from .search import Query, search
from .timed import SEGMENT_OF, TimedSettings


class Collection:
    def __init__(self, store: VectorCollection | None, encoder: Encoder | None = None, precision: str = "auto",
                 path: Path | None = None):
        """`store` None: a collection that does not exist yet at `path`; the first add() creates it."""
        self._store = store
        self._encoder = encoder
        self._precision = precision
        self.path = store.path if store is not None else path

    @classmethod
    def open(cls, path: str | Path, model: str | Encoder | None = None, precision: str = "auto",
             create: bool = True, fusion: str | None = None) -> Collection:
        """Open the collection in `path`. If there is none: with `create`, one that the first add() creates on
        disk (with `model`, default "offline"), so a mistyped path searched is an error, not a new empty
        collection; without `create`, raise CollectionError.

        `fusion` (mean, or the method a trained fusion model was trained with) makes a collection of multimodal
        items: each part's vector is stored beside the fused item vector. An existing collection keeps the model
        and fusion it was built with (a `model` given alone gets the recorded fusion); naming different ones is an
        error.
        """
        path = Path(path).expanduser()
        if not create or VectorCollection.exists(path):
            store = VectorCollection.open(path)
            if model is None and fusion is None:
                return cls(store, precision=precision)
            recorded_model, recorded_fusion = split_fusion_suffix(store.model_id)
            if fusion is None and not isinstance(model, FusedEncoder):
                fusion = recorded_fusion
            encoder = _encoder(model or recorded_model, precision, fusion)
            _check_same_model(store, encoder)
            return cls(store, encoder)
        encoder = _encoder(model or DEFAULT_MODEL, precision, fusion)
        return cls(None, encoder, precision, path)

    @property
    def store(self) -> VectorCollection:
        if self._store is None:
            if not VectorCollection.exists(self.path):
                raise CollectionError(f"{self.path}: no collection here yet (nothing has been added to it)")
            self._store = VectorCollection.open(self.path)
            if self._encoder is not None:  # created meanwhile by another process
                _check_same_model(self._store, self._encoder)
        return self._store

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_encoder(self.store.model_id, self._precision)
            _check_same_model(self.store, self._encoder)
        return self._encoder

    def __len__(self) -> int:
        return 0 if self._store is None and not VectorCollection.exists(self.path) else len(self.store)

    def add(self, sources: Iterable[str | Path], sync: bool = False, batch_size: int = 32,
            workers: int | None = None, progress: bool = False,
            on_skip: Callable[[Skipped], None] | None = None, timed: TimedSettings | None = None) -> IndexReport:
        """Index folders, files and manifests; with `sync`, also drop stored files that have disappeared.
        `timed` sets how audio and video are cut into segments (window length, shot detection, pooling)."""
        sources = [Path(s).expanduser() for s in sources]
        missing = [s for s in sources if not s.exists()]
        if missing:  # before the collection is created
            raise SourceError(f"{missing[0]}: no such file or folder")
        if self._store is None and not VectorCollection.exists(self.path):
            self._store = VectorCollection.create(self.path, self.encoder.model_id, dict(self.encoder.spaces))
        ingest = Ingest(self.store, self.encoder, batch_size, workers, progress=progress, on_skip=on_skip,
                        timed=timed or TimedSettings())
        return ingest.run(sources, sync=sync)

    def remove(self, item_ids: Iterable[str]) -> int:
        """Remove items by id, audio and video files with their segments; a file may also be named by a relative
        path, even once it is deleted (its id is its absolute path). Returns how many were stored."""
        ids = set()
        for item_id in item_ids:
            ids.update((item_id, str(Path(item_id).expanduser().resolve())))
        segments = {r.item_id for file_id in ids for r in self.store.find({SEGMENT_OF: file_id})}
        with self.store.transaction():  # a file goes with its segments; only files are counted
            removed = self.store.remove(sorted(ids))
            self.store.remove(sorted(segments))
        return removed

    def search(self, text: str | None = None, image: str | Path | None = None, k: int = 10,
               where: dict | None = None, space: str | None = None, exclude: list[str] | None = None,
               audio: str | Path | None = None, per_file: bool = True, parts: Sequence[QueryPart] = (),
               fusion: str | None = None, norm: str = "min-max") -> list[Hit]:
        """The k nearest items to a text, an image file, an audio file, or several at once, plus any weighted
        `parts` (QueryPart("text", "people", -1.0) pulls away from people). The parts make one query vector (through
        the collection's fusion, if it has one), or with `fusion` rrf, combsum or combmnz each part is searched
        on its own and the result lists fused (combsum and combmnz after `norm`: min-max, z-score or none). With
        `per_file`, a file appears once: an audio or video file as its
        best-scoring segment."""
        query = Query(text, image, audio, k, where, space, exclude, per_file, tuple(parts), fusion, norm)
        return search(self.store, self.encoder, query)


def _encoder(model: str | Encoder, precision: str, fusion: str | None) -> Encoder:
    encoder = model if isinstance(model, Encoder) else load_encoder(model, precision)
    return encoder if fusion is None else with_fusion(encoder, fusion)


def _check_same_model(store: VectorCollection, encoder: Encoder) -> None:
    if not same_model(store.model_id, encoder.model_id):
        raise CollectionError(f"{store.path}: built with model {store.model_id!r}, not {encoder.model_id!r}; "
                              "a collection never mixes models (index into a new collection instead)")
