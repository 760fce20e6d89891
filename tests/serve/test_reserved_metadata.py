"""The segment schema's metadata keys are the index's own: a client cannot set them, and a record whose stored keys
are malformed (written before this rule, or by another program) is still shown, found and repairable."""
from __future__ import annotations

import pytest

from mmret.index.collection import VectorCollection
from mmret.media.segments import SEGMENT_KEYS

from .conftest import KEY

AUTH = {"X-API-Key": KEY}


@pytest.mark.parametrize("key", SEGMENT_KEYS)
def test_a_reserved_key_is_refused_and_nothing_is_saved(writable, key):
    client, _, root = writable
    red = str((root / "red.png").resolve())
    answer = client.patch("/api/items/metadata", json={"id": red, "metadata": {key: "/etc/passwd", "album": "x"}},
                          headers=AUTH)
    assert answer.status_code == 422 and repr(key) in answer.json()["detail"], answer.text
    stored = client.get("/api/items", params={"id": red}).json()
    assert "album" not in stored["metadata"] and stored["segment"] is None


def corrupt(folder, item_id: str, bad: dict) -> None:
    """Store `bad` metadata on an item directly, as a program that ignores the rule would."""
    with VectorCollection.open(folder) as store:
        record = store.get(item_id)
        vectors = store.vectors_of([item_id], "shared")[item_id][None, :]
        store.upsert([record.__class__(**{**record.__dict__, "metadata": {**record.metadata, **bad}})],
                     {"shared": vectors})


@pytest.mark.parametrize("bad", [{"segment_of": "/etc/passwd"}, {"segment_of": ["x"], "segment": 3},
                                 {"segment_of": "a", "segment": "shot", "start": "soon", "end": 1}])
def test_a_record_with_malformed_segment_keys_is_a_plain_item_and_can_be_repaired(writable, bad):
    client, folder, root = writable
    red = str((root / "red.png").resolve())
    corrupt(folder, red, bad)
    shown = client.get("/api/items", params={"id": red})
    assert shown.status_code == 200 and shown.json()["segment"] is None, shown.text
    found = client.get("/api/search", params={"q": "red", "k": 3}).json()["results"]
    assert found[0]["id"] == red and found[0]["segment"] is None
    assert client.get("/api/search", params={"like": red, "k": 2}).status_code == 200
    undo = client.patch("/api/items/metadata", json={"id": red, "metadata": dict.fromkeys(bad)}, headers=AUTH)
    assert undo.status_code == 200, undo.text
    with VectorCollection.open(folder) as store:
        assert not set(bad) & set(store.get(red).metadata)


def test_a_manifest_row_setting_a_reserved_key_is_skipped_with_the_key(writable):
    client, _, root = writable
    (root / "notes.csv").write_text("text,start\na red note,12\n")
    report = client.post("/api/items/paths", json={"paths": ["notes.csv"]}, headers=AUTH).json()
    assert report["added"] == 0 and len(report["skipped"]) == 1 and "'start' is reserved" in report["skipped"][0]
