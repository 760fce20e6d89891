"""People from the command line on real LFW photos: index --faces, faces cluster/ls/name/merge/split/forget,
search --face, and check confirming that forgotten faces left nothing behind (a tiny colour model for the photos)."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mmret.cli import main
from mmret.encoders.base import SHARED, Encoder
from mmret.index.backend import open_collection
from mmret.media.face_segments import PEOPLE, PERSON, PERSON_NAME, is_face

pytest.importorskip("dlib")
PEOPLE_SHOWN = ("Abdullah_Gul", "Adrien_Brody", "Alejandro_Toledo")


class MeanColour(Encoder):
    def __init__(self, *args, **kwargs):
        self.modalities, self.spaces, self.model_id = ("image",), {SHARED: 3}, "mean-colour-test"

    def preparer(self, modality):
        return mean_colour

    def embed_prepared(self, modality, batch):
        vectors = np.asarray(batch, dtype=np.float32)
        return {SHARED: vectors / np.linalg.norm(vectors, axis=1, keepdims=True)}


def mean_colour(image):
    return np.asarray(image.convert("RGB"), dtype=np.float32).mean((0, 1)) + 1


@pytest.fixture
def indexed(data_dir, tmp_path, monkeypatch, capsys):
    source = data_dir / "lfw-158" / "images"
    if not source.is_dir():
        pytest.skip(f"{source} not found")
    photos = tmp_path / "photos"
    photos.mkdir()
    for person in PEOPLE_SHOWN:
        for path in sorted((source / person).glob("*.jpg"))[:3]:
            shutil.copy(path, photos)
    monkeypatch.setattr("mmret.api.load_encoder", MeanColour)
    collection = str(tmp_path / "c")
    assert main(["index", str(photos), "--collection", collection, "--faces", "--workers", "1"]) == 0
    assert "9 added" in capsys.readouterr().out
    return photos.resolve(), collection


def mmret(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def faces(collection):
    return [r for r in open_collection(collection).records() if is_face(r.metadata)]


def test_people_are_grouped_named_and_searchable_by_face(indexed, capsys):
    photos, collection = indexed
    code, out, _ = mmret(capsys, "faces", "cluster", "--collection", collection)
    assert code == 0 and "new people" in out
    code, out, _ = mmret(capsys, "faces", "ls", "--collection", collection, "--json", "--faces")
    people = [json.loads(line) for line in out.splitlines()]
    by_person = {}
    for face in faces(collection):
        by_person.setdefault(face.metadata[PERSON], set()).add(face.path.rsplit("/", 1)[1].rsplit("_", 1)[0])
    assert sorted(p["person"] for p in people) == sorted(by_person)
    gul = next(p for p, names in by_person.items() if names == {"Abdullah_Gul"})
    assert mmret(capsys, "faces", "name", gul, "Abdullah Gül", "--collection", collection)[0] == 0
    named = [r for r in open_collection(collection).records() if r.metadata.get(PEOPLE)]
    assert {r.path.rsplit("/", 1)[1][:12] for r in named} == {"Abdullah_Gul"}
    assert all(r.metadata[PEOPLE] == "Abdullah Gül" for r in named)
    code, out, _ = mmret(capsys, "search", "--collection", collection, "--face", min(photos.glob("Abdullah*")),
                         "-k", "3", "--json")
    rows = json.loads(out)["results"]
    assert [row["path"].rsplit("/", 1)[1][:12] for row in rows] == ["Abdullah_Gul"] * 3
    assert all(len(row["metadata"]["face_box"]) == 4 for row in rows)


def test_merge_split_and_forget_one_person(indexed, capsys):
    _, collection = indexed
    mmret(capsys, "faces", "cluster", "--collection", collection)
    people = [json.loads(line) for line in mmret(capsys, "faces", "ls", "--collection", collection, "--json",
                                                 "--faces")[1].splitlines()]
    first, second = people[0], people[1]
    mmret(capsys, "faces", "name", first["person"], "Somebody", "--collection", collection)
    assert mmret(capsys, "faces", "merge", first["person"], second["person"], "--collection", collection)[0] == 0
    merged = [f for f in faces(collection) if f.metadata[PERSON] == first["person"]]
    assert len(merged) == first["faces"] + second["faces"]
    assert {f.metadata[PERSON_NAME] for f in merged} == {"Somebody"}
    code = mmret(capsys, "faces", "split", first["person"], *second["face_ids"], "--collection", collection)[0]
    assert code == 0
    moved = {f.item_id: f.metadata for f in faces(collection) if f.item_id in second["face_ids"]}
    assert {m[PERSON] for m in moved.values()} != {first["person"]} and not any(PERSON_NAME in m for m in moved.values())
    before = len(faces(collection))
    code, _, _ = mmret(capsys, "faces", "forget", "--person", first["person"], "--collection", collection)
    assert code == 0 and len(faces(collection)) == before - first["faces"]
    assert not any(r.metadata.get(PEOPLE) for r in open_collection(collection).records())
    assert mmret(capsys, "faces", "name", first["person"], "X", "--collection", collection)[0] == 3  # not found


def test_forget_all_leaves_no_face_segment_vector_or_name_on_disk(indexed, capsys):
    photos, collection = indexed
    mmret(capsys, "faces", "cluster", "--collection", collection)
    person = json.loads(mmret(capsys, "faces", "ls", "--collection", collection, "--json")[1].splitlines()[0])
    mmret(capsys, "faces", "name", person["person"], "Ana", "--collection", collection)
    code, out, _ = mmret(capsys, "faces", "forget", "--all", "--collection", collection)
    assert code == 0 and "forgot" in out
    assert faces(collection) == []
    assert not any(r.metadata.get(PEOPLE) for r in open_collection(collection).records())
    stored_rows = sum(len(np.load(f)) for f in Path(collection).glob("face.*.npy")
                      if not f.name.endswith(".ids.npy"))
    assert stored_rows == 0
    assert b"Ana" not in (Path(collection) / "collection.sqlite").read_bytes()  # no name left in freed pages
    code, out, _ = mmret(capsys, "check", "--collection", collection)
    assert code == 0 and "0 face segments, 0 face vectors stored" in out
    (photos / "new.jpg").write_bytes(min(photos.glob("Adrien*")).read_bytes())
    assert mmret(capsys, "index", photos, "--collection", collection, "--workers", "1")[0] == 0
    assert faces(collection) == []  # forget --all also stopped indexing faces


def test_a_query_photo_without_a_face_is_a_clear_error(indexed, tmp_path, capsys):
    from PIL import Image

    _, collection = indexed
    Image.new("RGB", (120, 120), (90, 140, 200)).save(tmp_path / "sky.png")
    code, _, err = mmret(capsys, "search", "--collection", collection, "--face", tmp_path / "sky.png")
    assert code == 2 and "sky.png: no face found" in err


def test_export_leaves_faces_out_unless_asked(indexed, tmp_path, capsys):
    import pyarrow.parquet as pq

    _, collection = indexed
    mmret(capsys, "faces", "cluster", "--collection", collection)
    person = json.loads(mmret(capsys, "faces", "ls", "--collection", collection, "--json")[1].splitlines()[0])
    mmret(capsys, "faces", "name", person["person"], "Ana", "--collection", collection)
    assert mmret(capsys, "export", tmp_path / "all.parquet", "--collection", collection)[0] == 0
    rows = pq.read_table(tmp_path / "all.parquet").to_pylist()
    assert len(rows) == 9 and not any("Ana" in row["metadata"] for row in rows)
    code, _, err = mmret(capsys, "export", tmp_path / "f.parquet", "--collection", collection, "--space", "face")
    assert code == 2 and "--include-faces" in err and not (tmp_path / "f.parquet").exists()
    assert mmret(capsys, "export", tmp_path / "f.parquet", "--collection", collection, "--space", "face",
                 "--include-faces")[0] == 0
    rows = pq.read_table(tmp_path / "f.parquet").to_pylist()
    assert len(rows) == len(faces(collection)) and sum("Ana" in row["metadata"] for row in rows) == person["faces"]
