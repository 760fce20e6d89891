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

import logging
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .data.sources import Skipped, check_sources
from .encoders.base import SHARED, Encoder
from .encoders.fused import FusedEncoder
from .encoders.model_id import ModelId
from .errors import BadInput
from .fusion.relevance import RelevanceCurve
from .index.backend import (
    collection_exists,
    create_collection,
    is_milvus,
    location,
    open_collection,
)
from .index.base import SearchParams
from .index.collection_base import CollectionBase
from .index.locking import one_writer
from .index.values import CollectionConflict, CollectionError, Hit, NoCollection, Record
from .media.face_segments import without_names
from .media.face_vectors import FACE_SPACE
from .media.segments import SEGMENT_OF
from .media.timed_settings import TimedSettings
from .models import DEFAULT_MODEL, load_encoder, with_fusion
from .query.channel_calibration import calibrate_hybrid
from .query.channel_fusion import store_channel_fusion
from .query.duplicates import DEFAULT_THRESHOLD, DuplicateGroup, find_duplicates
from .query.faces import face_argument, query_face, search_face
from .query.parts import ITEM, QueryPart
from .query.path_fusion import fit_path_fusion
from .query.relevance_fit import fit_collection_relevance
from .query.request import Query
from .query.search import search
from .query.stored_parts import stored_record

if TYPE_CHECKING:
    from .distributed import RaySettings
    from .fusion.paths import PathFusion
    from .pipeline import IndexReport

_log = logging.getLogger("mmret")


class Collection:
    def __init__(self, store: CollectionBase | None, encoder: Encoder | None = None, precision: str = "auto",
                 path: Path | None = None, device: str = "auto"):
        """`store` None: a collection that does not exist yet at `path`; the first add() creates it."""
        self._store = store
        self._encoder = encoder
        self._precision = precision
        self._device = device
        self.path = store.path if store is not None else path

    @classmethod
    def open(cls, path: str | Path, model: str | Encoder | None = None, precision: str = "auto",
             create: bool = True, fusion: str | None = None, device: str = "auto") -> Collection:
        """Open the collection in `path`. If there is none: with `create`, one that the first add() creates on
        disk (with `model`, default "offline"), so a mistyped path searched is an error, not a new empty
        collection; without `create`, raise CollectionError.

        `fusion` (mean, or the method a trained fusion model was trained with) makes a collection of multimodal
        items: each part's vector is stored beside the fused item vector. An existing collection keeps the model
        and fusion it was built with (a `model` given alone gets the recorded fusion); naming different ones is an
        error. `device` (auto, cpu, cuda, cuda:N, mps) is where the model runs; auto takes a GPU when there is one.
        """
        path = location(path)
        if not create or collection_exists(path):
            store = open_collection(path)
            if model is None and fusion is None:
                return cls(store, precision=precision, device=device)
            recorded = ModelId.parse(store.model_id)
            if fusion is None and not isinstance(model, FusedEncoder):
                fusion = recorded.fusion
            encoder = _encoder(model or str(recorded.with_fusion(None)), precision, fusion, device)
            _check_same_model(store, encoder)
            return cls(store, encoder, precision, device=device)
        encoder = _encoder(model or DEFAULT_MODEL, precision, fusion, device)
        return cls(None, encoder, precision, path, device)

    @property
    def store(self) -> CollectionBase:
        if self._store is None:
            if not collection_exists(self.path):
                raise NoCollection(f"{self.path}: no collection here yet (nothing has been added to it)")
            self._store = open_collection(self.path)
            if self._encoder is not None:  # created meanwhile by another process
                _check_same_model(self._store, self._encoder)
        return self._store

    @classmethod
    def create_for_vectors(cls, path: str | Path, model_id: str, spaces: dict[str, int],
                           vector_dtype: str = "float32") -> Collection:
        """An empty collection for precomputed vectors (`add_vectors`), from a model known by its id only;
        text or image queries load that model when it is one mmret can load."""
        return cls(create_collection(path, model_id, spaces, vector_dtype))

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_encoder(self.store.model_id, self._precision, self._device)
            _check_same_model(self.store, self._encoder)
        return self._encoder

    def __len__(self) -> int:
        return 0 if self._store is None and not collection_exists(self.path) else len(self.store)

    def add(self, sources: Iterable[str | Path], sync: bool = False, batch_size: int = 32,
            workers: int | None = None, progress: bool = False,
            on_skip: Callable[[Skipped], None] | None = None, timed: TimedSettings | None = None,
            ray: RaySettings | None = None, commit_every: int = 1024, commit_seconds: float = 30.0,
            within: list[Path] | None = None, words_from: list[str] | None = None, faces: bool | None = None,
            min_face: int | None = None) -> IndexReport:
        """Index folders, files and manifests; with `sync`, also drop stored files that have disappeared.
        `timed` sets how audio and video are cut into segments (window length, shot detection, pooling); `ray`
        (mmret.distributed.RaySettings) decodes and embeds on a Ray cluster, with the same result. A commit
        follows every `commit_every` items or `commit_seconds`, whichever comes first: an interrupted run keeps
        those and the next run resumes. `within` (resolved folders): a manifest row naming a file outside them is
        skipped. `words_from` names metadata fields whose values keyword search finds too (remembered by the
        collection; its keyword index is rebuilt when they change). `faces` True finds the faces in photos and video
        keyframes (each a segment with its box and a vector in the "face" space; faces smaller than `min_face` pixels
        are skipped) and the collection remembers it; False stops (files re-indexed lose their faces); None does as
        the collection remembers (off by default)."""
        sources = [Path(s).expanduser() for s in sources]
        check_sources(sources)  # missing paths and unusable manifests, before the collection is created
        with self._one_writer():
            from .pipeline.face_setting import face_detector

            if words_from is not None and words_from != self._created().word_fields():
                self.store.index_words(list(words_from))
            detector = face_detector(self._created(), faces, min_face)
            stages = {"progress": progress, "on_skip": on_skip,
                      "timed": replace(timed or TimedSettings(), faces=detector),
                      "commit_every": commit_every, "commit_seconds": commit_seconds, "within": within}
            if ray is None:
                # imports torch for timed media: only to index, not to search
                from .pipeline import Ingest

                ingest = Ingest(self._created(), self.encoder, batch_size, workers, **stages)
            else:
                from .distributed import RayIngest

                ingest = RayIngest(self._created(), self.encoder, batch_size, workers, **stages, ray=ray,
                                   precision=self._precision)
            return ingest.run(sources, sync=sync)

    def add_vectors(self, vectors: np.ndarray, ids: list[str] | None = None, metadata: list[dict] | None = None,
                    space: str = SHARED, modality: str = "vector", batch_size: int = 65_536) -> int:
        """Store precomputed unit vectors (an array or a memory-mapped .npy) with optional ids (default: the
        metadata's "id", else row numbers) and metadata (a dict per row; "text" and "path" keys fill the record's
        fields). Commits every `batch_size` rows, so an interrupted import keeps what it committed."""
        count = len(vectors)
        if ids is None and metadata and all(isinstance(m, dict) and "id" in m for m in metadata):
            ids = [m["id"] for m in metadata]
        for name, given in (("ids", ids), ("metadata", metadata)):
            if given is not None and len(given) != count:
                raise BadInput(f"{name}: {len(given)} entries for {count} vectors")
        with self._one_writer():
            for start in range(0, count, batch_size):
                stop = min(start + batch_size, count)
                records = [_vector_record(str(ids[i]) if ids else str(i), metadata[i] if metadata else None,
                                          modality) for i in range(start, stop)]
                self._created().upsert(records, {space: np.asarray(vectors[start:stop], dtype=np.float32)})
        return count

    def _created(self) -> CollectionBase:
        """The store, created on disk with this collection's model if it does not exist yet."""
        if self._store is None and not collection_exists(self.path):
            try:
                self._store = create_collection(self.path, self.encoder.model_id, dict(self.encoder.spaces))
            except CollectionError:
                if not collection_exists(self.path):
                    raise  # else another process created it meanwhile: `store` opens it and checks its model
        return self.store

    def _one_writer(self) -> AbstractContextManager:
        """A run of many commits waits for another such run on the same folder to finish (see one_writer)."""
        if is_milvus(self.path):
            return nullcontext()
        Path(self.path).mkdir(parents=True, exist_ok=True)
        return one_writer(Path(self.path), _log.warning)

    def export(self, path: str | Path, space: str = SHARED, include_faces: bool = False) -> int:
        """Write every item with a vector in `space` to a Parquet file (id, modality, path, text, metadata as
        JSON, vector); `mmret import FILE --vector-column vector` reads it back. Returns the rows written. Faces stay
        out (the face space is refused, people's names are left out of the metadata) unless `include_faces`."""
        from .data.vector_files import VectorTableWriter

        spaces = self.store.spaces
        if space not in spaces:
            raise CollectionError(f"{self.path}: no vector space {space!r}; its spaces are {sorted(spaces)}")
        if space == FACE_SPACE and not include_faces:
            raise BadInput(f"space {space!r}: face vectors are left out of exports unless asked for "
                           "(--include-faces, include_faces=True)")
        with VectorTableWriter(path, spaces[space]) as writer:
            for records, vectors in self.store.stored_vectors(space):
                writer.write([{"id": r.item_id, "modality": r.modality, "path": r.path, "text": r.text,
                               "metadata": r.metadata if include_faces else without_names(r.metadata)}
                              for r in records], vectors)
        return writer.rows

    def calibrate_hybrid(self, examples: str | Path | Sequence[tuple[str, str | Path]]) -> dict:
        """Fit and store how hybrid search fuses the word and vector lists, from example queries and the files they
        should find (a `query<TAB>path` file, a captions manifest, or (query, path) pairs); every later hybrid
        search uses it. Returns each fusion's recall on the examples (mmret.query.channel_calibration)."""
        from .query.hybrid_examples import read_hybrid_examples

        pairs = (read_hybrid_examples(examples) if isinstance(examples, (str, Path))
                 else [(text, str(Path(path).expanduser().resolve())) for text, path in examples])
        return calibrate_hybrid(self.store, self.encoder, pairs)

    def clear_hybrid_calibration(self) -> None:
        """Remove the stored hybrid fusion: hybrid searches use the defaults again."""
        store_channel_fusion(self.store, None)

    def calibrate(self, examples: dict[str, list[str]] | None = None, space: str = SHARED) -> PathFusion:
        """Fit and store the fusion of `space`'s paths (a video's shot, sound and speech segments) from example
        query texts per path ({"shot": captions, "sound": ["the sound of rain", ...]}; a path whose items carry
        text, such as speech, takes those texts by default); every later search of the space uses it."""
        return fit_path_fusion(self.store, self.encoder, examples or {}, space)

    def calibrate_relevance(self, pairs: dict[str, list[str]]) -> RelevanceCurve:
        """Fit and store this collection's relevance curve from example queries and the items (ids or paths)
        relevant to each ({"a red strawberry": ["strawberry/image_0001.jpg", ...]}); every other item counts as
        irrelevant to a query. Later searches' relevance comes from it instead of the model's shipped curve."""
        return fit_collection_relevance(self.store, self.encoder, pairs)

    def optimize(self, factory: str | None = None, target_recall: float = 0.95, space: str | None = None,
                 memory_budget: int | None = None) -> dict[str, dict]:
        """Merge segments and build each space's ANN index, tuned to `target_recall` (see index/optimize.py)."""
        return self.store.optimize(space, factory, target_recall, memory_budget)

    def backup(self, dest: str | Path) -> int:
        """Copy one committed generation, whole, to the new folder `dest` while writers go on; see index/backup.py."""
        from .index.backup import backup_collection, embedded_directory

        return backup_collection(embedded_directory(self.store, "backup"), dest)

    def check(self) -> list:
        """The problems found in the stored files of the last commit (none: it is whole); see index/integrity.py."""
        from .index.backup import embedded_directory
        from .index.integrity import check_collection

        return check_collection(embedded_directory(self.store, "check"))

    def repair(self) -> list[str]:
        """Rebuild what `check` finds broken and can be derived (a space's ANN index); the spaces rebuilt."""
        from .index.backup import embedded_directory
        from .index.repair import rebuild_derived

        embedded_directory(self.store, "repair")
        return rebuild_derived(self.store)

    def get(self, name: str) -> Record | None:
        """The stored item with id `name`, else the file at path `name` as the user gives it (relative, or through
        a symlink: a file's id is its resolved absolute path), else None."""
        return stored_record(self.store, name)

    def vectors_of(self, names: Iterable[str], space: str = SHARED) -> dict[str, np.ndarray]:
        """name -> the stored vector in `space` of each item named (as in get) that has one there."""
        records = {name: record for name in names if (record := self.get(name)) is not None}
        stored = self.store.vectors_of({record.item_id for record in records.values()}, space)
        return {name: stored[record.item_id] for name, record in records.items() if record.item_id in stored}

    def remove(self, names: Iterable[str]) -> int:
        """Remove items named as in get(), audio and video files with their segments; a file can be named by its
        path even once it is deleted. Returns how many were stored."""
        ids = {record.item_id for name in names if (record := self.get(name)) is not None}
        segments = {r.item_id for item_id in ids for r in self.store.find({SEGMENT_OF: item_id})}
        with self.store.transaction():  # a file goes with its segments; only files are counted
            removed = self.store.remove(sorted(ids))
            self.store.remove(sorted(segments))
        return removed

    def duplicates(self, threshold: float = DEFAULT_THRESHOLD, space: str | None = None, texts: bool = False,
                   segments: bool = False) -> list[DuplicateGroup]:
        """Groups of near-identical items: exact copies (same content hash) and items whose vectors in `space` have
        cosine similarity >= `threshold` (default space: the image space if there is one), each group with its best copy first (largest file, then oldest). Text
        items and audio/video segments are left out unless `texts` / `segments`. See duplicates.py."""
        return find_duplicates(self.store, threshold, space, texts, segments)

    def search(self, text: str | None = None, image: str | Path | None = None, k: int = 10,
               where: dict | None = None, space: str | None = None, exclude: list[str] | None = None,
               audio: str | Path | None = None, per_file: bool = True, parts: Sequence[QueryPart] = (),
               fusion: str | None = None, norm: str = "min-max", params: SearchParams | None = None,
               like: str | None = None, mode: str | None = None, min_relevance: float | None = None,
               face: str | Path | None = None) -> list[Hit]:
        """The k nearest items to a text, an image file, an audio file, a stored item (`like`: its id or file path;
        "more like this"), or several at once, plus any weighted `parts` (QueryPart("text", "people", -1.0) pulls
        away from people; QueryPart("item", ID, -1.0) from a stored item). A stored item is searched by the vectors
        the collection keeps for it (its file is not read again) and is left out of the results, with every
        segment of its file. The parts make one query vector (through
        the collection's fusion, if it has one), or with `fusion` rrf, combsum, combmnz or combprod (an AND of the
        parts) each part is searched on its own and the result lists fused (combsum and combmnz after `norm`:
        min-max, z-score or none). With
        `per_file`, a file appears once: an audio or video file as its best-scoring segment. `where` is a filter
        (`{"folder": "cats", "width": {"$gte": 640}}`, see index/where.py); `params` overrides the ANN index's
        tuned search parameters (ef_search, nprobe, shortlist); `exclude` names items to leave out, as get() does.
        `mode`: "semantic" (vectors), "keyword" (the words of items' text, file names and named metadata, ranked by
        BM25: "phrases", prefix*, -exclusions) or "hybrid" (both lists fused); default hybrid for a text query where
        the collection has a keyword index, else semantic. Keyword and hybrid hits carry `snippet` and `channels`
        (each channel's rank and score).
        A text query's hits carry `relevance`, a calibrated probability (query/relevance.py), where the collection or
        its model has a calibration; `min_relevance` leaves out the hits below it (an error without one).
        `face` ("photo.jpg", or "photo.jpg#2" for its second face from the left; else its largest) searches the
        collection's faces alone (see query/faces.py): each hit is a face segment, its box in `face_box`."""
        if face is not None:
            return self._search_face(face, text, image, audio, like, parts, k, where, exclude, per_file)
        exclude = [*exclude, *(record.item_id for name in exclude if (record := self.get(name)))] if exclude else None
        query = Query(text, image, audio, k, where, space, exclude, per_file, params=params, parts=tuple(parts),
                      fusion=fusion, norm=norm, like=like, mode=mode, min_relevance=min_relevance)
        only_stored = mode == "keyword" or all(part.modality == ITEM for part in query.all_parts)  # no model needed
        return search(self.store, self._encoder if only_stored else self.encoder, query)

    def _search_face(self, face, text, image, audio, like, parts, k, where, exclude, per_file) -> list[Hit]:
        if any(given is not None for given in (text, image, audio, like)) or parts:
            raise BadInput("face: a face search takes no other query parts (text, image, audio, like)")
        photo, number = face_argument(face)
        left_out = [record.item_id for name in exclude or [] if (record := self.get(name))]
        left_out += [r.item_id for item_id in list(left_out) for r in self.store.find({SEGMENT_OF: item_id})]
        return search_face(self.store, query_face(photo, number), k, where, left_out or None, per_file)


def _vector_record(item_id: str, metadata: dict | None, modality: str) -> Record:
    metadata = dict(metadata or {})
    metadata.pop("id", None)
    return Record(item_id, modality, path=metadata.pop("path", None), text=metadata.pop("text", None), metadata=metadata)


def _encoder(model: str | Encoder, precision: str, fusion: str | None, device: str = "auto") -> Encoder:
    encoder = model if isinstance(model, Encoder) else load_encoder(model, precision, device)
    return encoder if fusion is None else with_fusion(encoder, fusion)


def _check_same_model(store: CollectionBase, encoder: Encoder) -> None:
    if not ModelId.parse(store.model_id).same_weights(ModelId.parse(encoder.model_id)):
        raise CollectionConflict(f"{store.path}: built with model {store.model_id!r}, not {encoder.model_id!r}; "
                                 "a collection never mixes models (index into a new collection instead)")
