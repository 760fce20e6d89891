"""`mmret faces`: the people in a collection's faces (found by `mmret index --faces`): group, list, name, merge,
split, forget."""
from __future__ import annotations

import json

from ..errors import BadInput
from . import common
from .common import collection_option

EXAMPLES = """examples:
  mmret index ~/Pictures --collection photos --faces   # find the faces first
  mmret faces cluster --collection photos              # group them into people (new faces join people later)
  mmret faces ls --collection photos                   # people with counts and a sample face
  mmret faces name p3 "Alice" --collection photos      # the name becomes metadata (people) of her photos
  mmret faces merge p3 p7 --collection photos          # p7's faces are p3's
  mmret faces split p3 ID... --collection photos       # these faces (mmret faces ls --faces) are someone else
  mmret faces forget --person p3 --collection photos   # delete her faces, their vectors and her name
  mmret faces forget --all --collection photos         # delete every face and stop finding them"""


def add(commands) -> None:
    faces = commands.add_parser("faces", help="people in a collection's faces: cluster, ls, name, merge, split, "
                                              "forget", epilog=EXAMPLES)
    actions = faces.add_subparsers(required=True, metavar="ACTION", parser_class=common.CommandParser,
                                   help="what to do with the people of the collection")
    cluster = actions.add_parser("cluster", help="group the faces not in a person yet into people")
    collection_option(cluster)
    cluster.add_argument("--threshold", type=common.positive_float, default=None, metavar="D",
                         help="face distance within which two faces are one person (default: calibrated on LFW)")
    cluster.set_defaults(run=_cluster)
    ls = actions.add_parser("ls", help="people, most faces first, with counts and a sample face")
    collection_option(ls)
    ls.add_argument("--faces", action="store_true", help="also every face id of each person (for split)")
    ls.add_argument("--json", action="store_true", help="one JSON object a line")
    ls.set_defaults(run=_ls)
    name = actions.add_parser("name", help="name a person (metadata 'named_people' of each of their files)")
    name.add_argument("person", metavar="PERSON", help="a person id from mmret faces ls")
    name.add_argument("name", metavar="NAME")
    collection_option(name)
    name.set_defaults(run=_name)
    merge = actions.add_parser("merge", help="make several people one (the first keeps its id)")
    merge.add_argument("people", nargs="+", metavar="PERSON", help="two or more person ids")
    collection_option(merge)
    merge.set_defaults(run=_merge)
    split = actions.add_parser("split", help="move some faces of a person into a new person")
    split.add_argument("person", metavar="PERSON")
    split.add_argument("faces", nargs="+", metavar="FACE_ID", help="face ids (mmret faces ls --faces)")
    collection_option(split)
    split.set_defaults(run=_split)
    forget = actions.add_parser("forget", help="delete faces, their vectors and names in one commit")
    which = forget.add_mutually_exclusive_group(required=True)
    which.add_argument("--person", metavar="PERSON", help="one person's faces")
    which.add_argument("--all", action="store_true", help="every face; later indexing finds none (until --faces)")
    collection_option(forget)
    forget.set_defaults(run=_forget)


def _cluster(args) -> int:
    from ..people.actions import group_faces
    from ..people.grouping import DEFAULT_THRESHOLD

    store = common.open_store(args.collection)
    grouped = group_faces(store, args.threshold or DEFAULT_THRESHOLD)
    print(f"{args.collection}: {grouped.faces} faces grouped: {grouped.joined} joined people already there, "
          f"{grouped.new_people} new people")
    return 0


def _ls(args) -> int:
    from ..people.face_book import FaceBook

    book = FaceBook(common.open_store(args.collection))
    people = book.people()
    for person in people:
        sample = person.faces[0]
        row = {"person": person.id, "name": person.name, "faces": len(person.faces), "files": person.files,
               "sample": {"path": sample.path, "box": sample.metadata.get("face_box"), "id": sample.item_id}}
        if args.faces:
            row["face_ids"] = [face.item_id for face in person.faces]
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
        else:
            print(f"{person.id:<6} {person.name or '(unnamed)'}  {len(person.faces)} faces in {person.files} files  "
                  f"sample: {sample.path} {sample.metadata.get('face_box')}")
            for face_id in row.get("face_ids", []):
                print(f"         {face_id}")
    ungrouped = sum("person" not in face.metadata for face in book.faces.values())
    if ungrouped and not args.json:
        print(f"{ungrouped} faces are in no person yet: mmret faces cluster --collection {args.collection}")
    return 0


def _name(args) -> int:
    from ..people.actions import name_person

    count = name_person(common.open_store(args.collection), args.person, args.name)
    print(f"{args.person}: named {args.name!r} ({count} faces)")
    return 0


def _merge(args) -> int:
    from ..people.actions import merge_people

    if len(set(args.people)) < 2:
        raise BadInput("merge: give two or more different person ids")
    count = merge_people(common.open_store(args.collection), args.people[0], args.people[1:])
    print(f"{args.people[0]}: now {count} faces")
    return 0


def _split(args) -> int:
    from ..people.actions import split_person

    new_id = split_person(common.open_store(args.collection), args.person, args.faces)
    print(f"{len(args.faces)} faces of {args.person} are now {new_id}")
    return 0


def _forget(args) -> int:
    from ..people.actions import forget_faces

    removed = forget_faces(common.open_store(args.collection), None if args.all else args.person)
    print(f"{args.collection}: forgot {removed} faces" + ("; faces are no longer indexed" if args.all else ""))
    return 0
