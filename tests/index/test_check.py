"""`check` on collections made by the real code: a whole one (and its backup) has no problem; each kind of damage
is named with its file (a flipped byte by the SHA-256 recorded at commit, a missing or truncated segment, rows and
vectors that disagree, a missing index file, a damaged database); a collection written before digests were
recorded is checked without them and gains them with its next commit; the CLI exits 6 with one line per problem."""
import json
import sqlite3

import numpy as np
import pytest

from mmret import Collection
from mmret.cli import main
from mmret.errors import BadInput
from mmret.index.backup import backup_collection
from mmret.index.checks import DB_FILE
from mmret.index.collection import Record, VectorCollection
from mmret.index.integrity import check_collection

from ..vectors import random_unit_vectors

DIM = 16


@pytest.fixture
def collection(tmp_path):
    """Two spaces, an HNSW index over the merged segment of one, commits after it (new, replaced, removed items)."""
    rng = np.random.default_rng(0)
    path = tmp_path / "c"
    with VectorCollection.create(path, "m", {"shared": DIM, "text": DIM}) as coll:
        coll.upsert([Record(f"a{i}", "text") for i in range(300)], {"shared": random_unit_vectors(rng, 300, DIM),
                                                                    "text": random_unit_vectors(rng, 300, DIM)})
        coll.optimize("shared", factory="HNSW8")
        coll.upsert([Record(f"b{i}", "text") for i in range(20)], {"shared": random_unit_vectors(rng, 20, DIM)})
        coll.upsert([Record("a3", "text")], {"shared": random_unit_vectors(rng, 1, DIM)})
        coll.remove(["a4"])
    return path


def segment_names(path):
    db = sqlite3.connect(path / DB_FILE)
    try:
        return [row[0] for row in db.execute("SELECT name FROM segments ORDER BY rowid")]
    finally:
        db.close()


def flip_byte(file, at=-7):
    data = bytearray(file.read_bytes())
    data[at] ^= 0x01
    file.write_bytes(bytes(data))


def sql(path, statement):
    db = sqlite3.connect(path / DB_FILE)
    db.execute(statement)
    db.commit()
    db.close()


def test_a_whole_collection_and_its_backup_have_no_problem(collection, tmp_path):
    assert check_collection(collection) == []
    backup_collection(collection, tmp_path / "b")
    assert check_collection(tmp_path / "b") == []


def test_a_flipped_byte_in_a_segment_is_named_by_its_checksum(collection):
    name = segment_names(collection)[0]
    flip_byte(collection / f"{name}.npy")  # a vector's last byte: the file still loads with the right shape
    problems = check_collection(collection)
    assert [(p.file, "SHA-256" in p.problem) for p in problems] == [(f"{name}.npy", True)]
    flip_byte(collection / f"{name}.ids.npy")
    assert {p.file for p in check_collection(collection)} == {f"{name}.npy", f"{name}.ids.npy"}


def test_missing_and_truncated_segments_are_named(collection):
    first, second = segment_names(collection)[:2]
    (collection / f"{first}.ids.npy").unlink()
    (collection / f"{second}.npy").write_bytes((collection / f"{second}.npy").read_bytes()[:-DIM])
    problems = {str(p) for p in check_collection(collection)}
    assert f"{first}.ids.npy: missing (the database lists it)" in problems
    assert any(p.startswith(f"{second}.npy: its content changed") for p in problems)


def test_rows_and_vectors_that_disagree_are_named(collection):
    sql(collection, "DELETE FROM items WHERE item_id = 'b5'")  # its vector stays, with no item
    sql(collection, """UPDATE items SET spaces = '["shared", "text"]' WHERE item_id = 'b6'""")  # no text vector
    problems = [str(p) for p in check_collection(collection)]
    assert any("1 live vectors belong to no item listing space 'shared'" in p for p in problems)
    assert any(p.startswith("text segments: 1 items list space 'text' but have no vector there: ['b6']")
               for p in problems)
    assert "words: 1 rows belong to no item: row ids [306]" in problems  # its words stay too
    assert len(problems) == 3


def test_a_missing_index_file_is_named(collection):
    built = json.loads(sqlite3.connect(collection / DB_FILE).execute(
        "SELECT value FROM meta WHERE key = 'index:shared'").fetchone()[0])
    (collection / built["file"]).unlink()
    assert [str(p) for p in check_collection(collection)] == [
        f"{built['file']}: missing (the 'shared' index the database records)"]


def test_a_damaged_database_is_named(collection):
    database = collection / DB_FILE
    data = bytearray(database.read_bytes())
    page = 4096
    data[2 * page : 3 * page] = bytes(page)  # a b-tree page zeroed
    database.write_bytes(bytes(data))
    problems = check_collection(collection)
    assert problems and all(p.file == DB_FILE for p in problems)


def test_a_collection_without_digests_is_checked_by_loading_and_gains_them(collection):
    sql(collection, "ALTER TABLE segments DROP COLUMN sha256")
    sql(collection, "ALTER TABLE segments DROP COLUMN ids_sha256")  # as an older mmret wrote it
    assert check_collection(collection) == []
    old = segment_names(collection)[0]
    flip_byte(collection / f"{old}.npy", at=10)  # in the .npy header: loading fails
    assert [p.file for p in check_collection(collection)] == [f"{old}.npy"]
    flip_byte(collection / f"{old}.npy", at=10)
    with VectorCollection.open(collection) as coll:
        coll.upsert([Record("new", "text")], {"shared": np.eye(1, DIM, dtype=np.float32)})
    new = segment_names(collection)[-1]
    flip_byte(collection / f"{new}.npy")
    assert [p.file for p in check_collection(collection)] == [f"{new}.npy"]


def test_the_check_command_lists_problems_and_exits_6(collection, capsys):
    assert main(["check", "--collection", str(collection)]) == 0
    assert "no problems found" in capsys.readouterr().out
    name = segment_names(collection)[0]
    flip_byte(collection / f"{name}.npy")
    assert main(["check", "--collection", str(collection), "--json"]) == 6
    captured = capsys.readouterr()
    assert [p["file"] for p in json.loads(captured.out)] == [f"{name}.npy"]
    assert "1 problems found" in captured.err


def test_check_is_refused_for_a_milvus_collection(tmp_path):
    pytest.importorskip("pymilvus")
    milvus = Collection.create_for_vectors(tmp_path / "m.db", "m", {"shared": 4})
    milvus.add_vectors(np.eye(1, 4, dtype=np.float32), ids=["a"])
    with pytest.raises(BadInput, match="check is for embedded collections"):
        milvus.check()


def index_file(path):
    db = sqlite3.connect(path / DB_FILE)
    try:
        return path / json.loads(db.execute("SELECT value FROM meta WHERE key = 'index:shared'").fetchone()[0])["file"]
    finally:
        db.close()


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_repair_rebuilds_a_missing_or_damaged_index(collection, capsys, damage):
    file = index_file(collection)
    if damage == "missing":
        file.unlink()
    else:
        file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    assert [p.file for p in check_collection(collection)] == [file.name]
    assert main(["check", "--collection", str(collection), "--repair"]) == 0
    captured = capsys.readouterr()
    assert "rebuilt the ANN index of space 'shared'" in captured.err and "no problems found" in captured.out
    assert check_collection(collection) == []
    with VectorCollection.open(collection) as coll:
        assert coll.built_index("shared").factory == "HNSW8"
        query = coll.vectors_of(["a7"], "shared")["a7"][None]
        assert coll.search("shared", query, k=1)[0][0].record.item_id == "a7"


def test_repair_rebuilds_nothing_over_a_damaged_segment(collection, capsys):
    file = index_file(collection)
    file.unlink()
    name = segment_names(collection)[-1]
    flip_byte(collection / f"{name}.npy")
    assert main(["check", "--collection", str(collection), "--repair"]) == 6
    assert "rebuilt" not in capsys.readouterr().err
    assert not file.exists()
    assert {p.file for p in check_collection(collection)} == {file.name, f"{name}.npy"}
