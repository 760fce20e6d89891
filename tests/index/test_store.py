import pytest

from mmret.index.store import Changes, MetadataStore, Record, Row


@pytest.fixture
def store(tmp_path):
    store = MetadataStore.create(tmp_path / "s.sqlite", {"model_id": "m", "generation": 0})
    yield store
    store.close()


RECORDS = [
    Record("a.jpg", "image", path="/d/photos/a.jpg", metadata={"label": "cat", "year": 2020, "ok": True},
           content_hash="ab" * 32, size=123, mtime=1700000000.25),
    Record("b.jpg", "image", path="/d/photos/b.jpg", metadata={"label": "dog", "year": 2021, "ok": False}),
    Record("ü/文.txt", "text", path="/d/notes/文.txt", text="größer als 東京 🐈",
           metadata={"label": "cat", "year": 1, "nested": {"tags": ["ä", {"deep": None}], "x": 1.5}}),
    Record("c", "audio", metadata={"label": "cat", "year": "2020", "ok": 1, "none": None}),
]


@pytest.fixture
def filled(store):
    store.apply([Row(i + 1, r, ("shared",) if r.modality != "audio" else ()) for i, r in enumerate(RECORDS)], [],
                 Changes({}))
    return store


def test_records_round_trip_exactly_after_reopen(filled, tmp_path):
    filled.close()
    store = MetadataStore(tmp_path / "s.sqlite")
    assert [row.record for row in store.rows()] == RECORDS
    assert store.get("ü/文.txt").record == RECORDS[2]
    assert store.get("missing") is None
    assert store.records_by_id([3, 1, 3, 99]) == {1: RECORDS[0], 3: RECORDS[2]}
    assert store.ids_of(["c", "nope", "a.jpg"]) == {"c": 4, "a.jpg": 1}
    assert store.file_state()["a.jpg"] == (123, 1700000000.25, "ab" * 32)
    assert store.count() == 4 and store.max_id() == 4
    store.close()


def test_meta_values_keep_their_json_types(store):
    store.set_meta({"spaces": {"shared": 384, "image": 1280}, "generation": 7})
    assert store.get_meta("spaces") == {"shared": 384, "image": 1280}
    assert store.get_meta("generation") == 7
    assert store.get_meta("model_id") == "m"
    assert store.get_meta("absent") is None


def test_apply_replaces_and_removes_in_one_step(filled):
    new_a = Record("a.jpg", "image", metadata={"label": "lion"})
    filled.apply([Row(1, new_a, ())], [2, 3], Changes({"generation": 1}, [("shared.g000001-0", "shared", 1)]))
    assert [row.record for row in filled.rows()] == [new_a, RECORDS[3]]
    assert filled.get_meta("generation") == 1 and filled.segments() == [("shared.g000001-0", "shared", 1)]


def test_failed_apply_changes_nothing(filled):
    unserialisable = Record("z", "text", metadata={"bad": object()})
    with pytest.raises(TypeError):
        filled.apply([Row(9, unserialisable, ())], [1, 2], Changes({"generation": 5}, [("s.g5-0", "s", 1)]))
    assert [row.record for row in filled.rows()] == RECORDS
    assert filled.get_meta("generation") == 0 and filled.segments() == []
