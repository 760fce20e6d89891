"""What a user does with people: group the faces not yet grouped, name a person, merge people, split faces off into a
new person, forget a person or every face. Each is one commit (face_book.py)."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import BadInput, NotFound
from ..index.collection_base import CollectionBase
from ..media.face_segments import FACES_SETTING, PERSON
from ..media.face_vectors import FACE_SPACE
from .face_book import FaceBook, check_name
from .grouping import DEFAULT_THRESHOLD, average_linkage, join_known


@dataclass(frozen=True)
class Grouped:
    faces: int  # faces that were not in a person before
    joined: int  # of those, faces that joined a person already there
    new_people: int


def group_faces(store: CollectionBase, threshold: float = DEFAULT_THRESHOLD) -> Grouped:
    """Put every face not yet in a person into one: that of its nearest grouped face within `threshold`, else a new
    person shared with the other leftover faces within `threshold` (average linkage)."""
    if not threshold > 0:
        raise BadInput(f"threshold {threshold}: must be a positive distance (dlib's faces: about 0.4 to 0.6)")
    book = FaceBook(store)
    known = [i for i, face in book.faces.items() if PERSON in face.metadata]
    new = [i for i, face in book.faces.items() if PERSON not in face.metadata]
    people = {p.id: p.name for p in book.people()}
    labels = [book.faces[i].metadata[PERSON] for i in known]
    joins = join_known(book.descriptors(new), book.descriptors(known), labels, threshold)
    for face_id, person in zip(new, joins):
        if person is not None:
            book.set_person(face_id, person, people[person])
    leftover = [face_id for face_id, person in zip(new, joins) if person is None]
    groups = average_linkage(book.descriptors(leftover), threshold)
    first = _number_of(book.new_person_id())
    for face_id, group in zip(leftover, groups):
        book.set_person(face_id, f"p{first + group}", None)
    book.save()
    return Grouped(len(new), len(new) - len(leftover), len(set(groups)))


def name_person(store: CollectionBase, person_id: str, name: str) -> int:
    """Name a person: each of their faces, and each file they are in (its `named_people`). Returns their faces."""
    name = check_name(name)
    book = FaceBook(store)
    person = book.person(person_id)
    for face in person.faces:
        book.set_person(face.item_id, person_id, name)
    book.save()
    return len(person.faces)


def merge_people(store: CollectionBase, into: str, others: list[str]) -> int:
    """Move every face of `others` into `into` (which keeps its name, or takes the first name among them)."""
    book = FaceBook(store)
    keep = book.person(into)
    merged = [book.person(other) for other in others if other != into]
    name = keep.name or next((p.name for p in merged if p.name), None)
    for person in [keep, *merged]:
        for face in person.faces:
            book.set_person(face.item_id, into, name)
    book.save()
    return sum(len(p.faces) for p in [keep, *merged])


def split_person(store: CollectionBase, person_id: str, face_ids: list[str]) -> str:
    """Move the given faces of a person into a new, unnamed person; returns its id."""
    book = FaceBook(store)
    person = book.person(person_id)
    own = {face.item_id for face in person.faces}
    strangers = [face_id for face_id in face_ids if face_id not in own]
    if strangers or not face_ids:
        raise NotFound(f"faces {', '.join(strangers) or '(none given)'}: not faces of person {person_id} "
                       f"(see mmret faces ls --faces)")
    new_id = book.new_person_id()
    for face_id in face_ids:
        book.set_person(face_id, new_id, None)
    book.save()
    return new_id


def forget_faces(store: CollectionBase, person_id: str | None = None) -> int:
    """Delete one person's faces (or every face, with None, which also stops indexing faces): their segments,
    vectors and names, and the names in their files, in one commit; then the face space is compacted, so that
    the deleted vectors leave the disk too. Returns the faces deleted."""
    book = FaceBook(store)
    faces = list(book.faces) if person_id is None else [f.item_id for f in book.person(person_id).faces]
    if person_id is None and store.setting(FACES_SETTING):
        store.set_setting(FACES_SETTING, None)  # first: an index run meanwhile finds no more faces
    for face_id in faces:
        book.remove(face_id)
    book.save()
    if FACE_SPACE in store.spaces:
        store.optimize(FACE_SPACE)
    return len(faces)


def _number_of(person_id: str) -> int:
    return int(person_id[1:])

