"""`mmret export` / Collection.export: every committed item with a vector, once, with its latest vector and
metadata, checked against a plain dict of what was added, replaced and removed."""
from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from mmret.api import Collection
from mmret.cli import main
from mmret.index.collection import CollectionError

from .vectors import random_unit_vectors

DIM = 8


@pytest.fixture
def filled(tmp_path):
    """A collection of several segments with removals and replacements, and the dict it must equal."""
    rng = np.random.default_rng(0)
    collection = Collection.create_for_vectors(tmp_path / "c", "test-vectors", {"shared": DIM})
    first = random_unit_vectors(rng, 300, DIM)
    ids = [f"v{i}" for i in range(300)]
    collection.add_vectors(first, ids=ids, metadata=[{"n": i} for i in range(300)], batch_size=64)
    expected = {item: (vector, {"n": i}) for i, (item, vector) in enumerate(zip(ids, first))}
    collection.remove(ids[:50])
    for item in ids[:50]:
        del expected[item]
    again = random_unit_vectors(rng, 10, DIM)
    collection.add_vectors(again, ids=ids[100:110], metadata=[{"n": -1}] * 10)
    expected.update({item: (vector, {"n": -1}) for item, vector in zip(ids[100:110], again)})
    return collection, expected


def read(path):
    table = pq.read_table(path).to_pylist()
    return {row["id"]: (np.asarray(row["vector"], np.float32), json.loads(row["metadata"])) for row in table}, table


def test_export_holds_each_live_item_once_with_its_latest_vector_and_metadata(filled, tmp_path):
    collection, expected = filled
    assert collection.export(tmp_path / "out.parquet") == len(expected)
    exported, rows = read(tmp_path / "out.parquet")
    assert len(rows) == len(exported) == len(expected)
    assert set(exported) == set(expected)
    for item, (vector, metadata) in expected.items():
        np.testing.assert_allclose(exported[item][0], vector, atol=1e-6)
        assert exported[item][1] == metadata


def test_unknown_space_is_an_error_and_writes_nothing(filled, tmp_path):
    collection, _ = filled
    with pytest.raises(CollectionError, match="no vector space 'image'"):
        collection.export(tmp_path / "out.parquet", "image")
    assert list(tmp_path.glob("out.parquet*")) == []


def test_cli_export_then_import_gives_the_same_vectors(filled, tmp_path, capsys):
    collection, expected = filled
    out = tmp_path / "out.parquet"
    assert main(["export", str(out), "--collection", str(collection.path)]) == 0
    assert f"{len(expected)} items" in capsys.readouterr().out
    assert main(["import", str(out), "--collection", str(tmp_path / "back"), "--model-id", "test-vectors"]) == 0
    copy = Collection.open(tmp_path / "back", create=False)
    assert len(copy) == len(expected)
    copy.export(tmp_path / "again.parquet")
    again, first = read(tmp_path / "again.parquet")[0], read(out)[0]
    assert {item: v.tolist() for item, (v, _) in again.items()} == {item: v.tolist() for item, (v, _) in first.items()}


def test_cli_export_needs_a_parquet_name(filled, tmp_path, capsys):
    collection, _ = filled
    assert main(["export", str(tmp_path / "out.csv"), "--collection", str(collection.path)]) == 2
    assert "name it .parquet" in capsys.readouterr().err
