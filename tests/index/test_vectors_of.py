"""`VectorCollection.vectors_of` returns the stored vectors of given items, checked against a dict of what was
added, replaced and removed, across commits, a merge, two spaces and the float16 storage."""
import numpy as np
import pytest

from mmret.index.collection import CollectionError, Record, VectorCollection

from ..vectors import random_unit_vectors


@pytest.mark.parametrize("dtype, tolerance", [("float32", 0.0), ("float16", 1e-3)])
def test_vectors_of_follows_adds_replacements_removals_and_optimize(tmp_path, dtype, tolerance):
    rng = np.random.default_rng(7)
    model: dict[str, np.ndarray] = {}
    with VectorCollection.create(tmp_path / "c", "m", {"shared": 8, "image": 4}, vector_dtype=dtype) as coll:
        for step in range(4):
            names = [f"r{i}" for i in range(step * 30, step * 30 + 40)]  # 10 of each batch replace earlier ones
            vectors = random_unit_vectors(rng, len(names), 8)
            coll.upsert([Record(name, "text") for name in names], {"shared": vectors})
            model.update(zip(names, vectors))
            if step == 2:
                coll.optimize(factory="Flat")
        coll.remove(["r3", "r50", "r119"])
        for name in ("r3", "r50", "r119"):
            del model[name]
        coll.upsert([Record("pic", "image")], {"image": random_unit_vectors(rng, 1, 4)})
        asked = ["r0", "r3", "r50", "r100", "r129", "pic", "nobody", "r0"]
        got = coll.vectors_of(asked, "shared")
        assert sorted(got) == sorted({name for name in asked if name in model})
        for name, vector in got.items():
            assert vector.dtype == np.float32
            np.testing.assert_allclose(vector, model[name], atol=tolerance)
        assert list(coll.vectors_of(["pic", "r0"], "image")) == ["pic"]
        assert coll.vectors_of([], "shared") == {}
        with pytest.raises(CollectionError, match="unknown vector space"):
            coll.vectors_of(["r0"], "audio")
        with pytest.raises(CollectionError, match="list of item_ids"):
            coll.vectors_of("r0", "shared")
