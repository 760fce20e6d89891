"""A collection's faces in memory, changed there (grouped, named, merged, split, forgotten) and written back in one
commit: the face segments changed or removed, and each file they belong to with its `named_people` brought up to
date (its vectors kept as stored)."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from ..errors import BadInput, NotFound
from ..index.collection_base import CollectionBase
from ..index.values import Record
from ..media.face_segments import PEOPLE, PERSON, PERSON_NAME, is_face
from ..media.face_vectors import FACE_SPACE, descriptors_of
from ..media.segments import SEGMENT_OF

_PERSON_ID = re.compile(r"p(\d+)")


@dataclass(frozen=True)
class Person:
    id: str
    name: str | None
    faces: list[Record]  # largest detection score first: the first is the person's sample

    @property
    def files(self) -> int:
        return len({face.metadata[SEGMENT_OF] for face in self.faces})


class FaceBook:
    def __init__(self, store: CollectionBase):
        self.store = store
        self.faces: dict[str, Record] = {}
        self.vectors: dict[str, np.ndarray] = {}
        if FACE_SPACE in store.spaces:
            for records, vectors in store.stored_vectors(FACE_SPACE):
                for record, vector in zip(records, vectors):
                    if is_face(record.metadata):
                        self.faces[record.item_id], self.vectors[record.item_id] = record, vector
        self._changed: set[str] = set()
        self._removed: set[str] = set()

    def descriptors(self, ids: list[str]) -> np.ndarray:
        return descriptors_of(np.stack([self.vectors[i] for i in ids])) if ids else np.empty((0, 128), np.float32)

    def people(self) -> list[Person]:
        """Every person, the most faces first."""
        members: dict[str, list[Record]] = {}
        for face in self.faces.values():
            if PERSON in face.metadata:
                members.setdefault(face.metadata[PERSON], []).append(face)
        people = [Person(pid, _name_of(faces), sorted(faces, key=lambda f: -f.metadata.get("face_score", 0)))
                  for pid, faces in members.items()]
        return sorted(people, key=lambda p: (-len(p.faces), _number(p.id)))

    def person(self, person_id: str) -> Person:
        found = next((p for p in self.people() if p.id == person_id), None)
        if found is None:
            raise NotFound(f"person {person_id!r}: no such person in {self.store.path} (see mmret faces ls)")
        return found

    def new_person_id(self) -> str:
        numbers = [_number(f.metadata[PERSON]) for f in self.faces.values() if PERSON in f.metadata]
        return f"p{max(numbers, default=0) + 1}"

    def set_person(self, face_id: str, person_id: str | None, name: str | None) -> None:
        metadata = {k: v for k, v in self.faces[face_id].metadata.items() if k not in (PERSON, PERSON_NAME)}
        if person_id is not None:
            metadata[PERSON] = person_id
        if name is not None:
            metadata[PERSON_NAME] = name
        self.faces[face_id] = replace(self.faces[face_id], metadata=metadata)
        self._changed.add(face_id)

    def remove(self, face_id: str) -> None:
        self.faces.pop(face_id)
        self.vectors.pop(face_id)
        self._removed.add(face_id)
        self._changed.discard(face_id)

    def save(self) -> None:
        """The changed faces, the removed ones and the `named_people` of their files, in one commit."""
        touched = {self._file_of(i) for i in self._changed | self._removed}
        with self.store.transaction():
            changed = sorted(self._changed)
            if changed:
                self.store.upsert([self.faces[i] for i in changed],
                                  {FACE_SPACE: np.stack([self.vectors[i] for i in changed])})
            self.store.remove(sorted(self._removed))
            for file_id in sorted(touched - {None}):
                self._restamp(file_id)
        self._changed, self._removed = set(), set()

    def _file_of(self, face_id: str) -> str | None:
        record = self.faces.get(face_id) or self.store.get(face_id)
        return None if record is None else record.metadata.get(SEGMENT_OF)

    def _restamp(self, file_id: str) -> None:
        record = self.store.get(file_id)
        if record is None:
            return
        names = sorted({f.metadata[PERSON_NAME] for f in self.faces.values()
                        if f.metadata.get(SEGMENT_OF) == file_id and PERSON_NAME in f.metadata})
        metadata = {k: v for k, v in record.metadata.items() if k != PEOPLE}
        if names:
            metadata[PEOPLE] = ", ".join(names)
        if metadata == record.metadata:
            return
        vectors = {space: stored[file_id][None, :] for space in self.store.spaces if space != FACE_SPACE
                   and file_id in (stored := self.store.vectors_of([file_id], space))}
        self.store.upsert([replace(record, metadata=metadata)], vectors)


def check_name(name: str) -> str:
    name = " ".join(str(name).split())
    if not name or len(name) > 200:
        raise BadInput(f"name {name!r}: give one of 1 to 200 characters")
    return name


def _name_of(faces: list[Record]) -> str | None:
    return next((f.metadata[PERSON_NAME] for f in faces if PERSON_NAME in f.metadata), None)


def _number(person_id: str) -> int:
    match = _PERSON_ID.fullmatch(str(person_id))
    return int(match.group(1)) if match else 0
