"""Random add/upsert/remove/optimize sequences against a plain Python model of the collection."""
import numpy as np
import pytest

from mmret.index.collection import Record, VectorCollection

from ..vectors import random_unit_vectors


def expected_top(model, query, k):
    names = sorted(model)
    if not names:
        return []
    scores = np.array([model[name][0] @ query for name in names])
    order = np.argsort(-scores, kind="stable")[:k]
    return [names[i] for i in order]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("factory", ["Flat", "HNSW16"])
def test_random_operations_match_the_model(tmp_path, seed, factory):
    rng = np.random.default_rng(seed)
    model: dict[str, tuple[np.ndarray, dict]] = {}  # item_id -> (vector, metadata)
    dim = 12
    coll = VectorCollection.create(tmp_path / "c", "m", {"shared": dim})
    recalls = []
    for step in range(60):
        operation = rng.choice(["add", "upsert", "remove", "optimize", "reopen"], p=[0.4, 0.25, 0.2, 0.08, 0.07])
        if operation in ("add", "upsert") or not model:
            names = ([f"s{step}-{i}" for i in range(int(rng.integers(1, 40)))] if operation == "add" or not model
                     else list(rng.choice(sorted(model), size=min(len(model), 10), replace=False)))
            vectors = random_unit_vectors(rng, len(names), dim)
            records = [Record(name, "text", metadata={"tag": int(rng.integers(4))}) for name in names]
            coll.upsert(records, {"shared": vectors})
            model.update({r.item_id: (v, r.metadata) for r, v in zip(records, vectors)})
        elif operation == "remove":
            names = list(rng.choice(sorted(model), size=min(len(model), 8), replace=False)) + ["never-stored"]
            assert coll.remove(names) == len(names) - 1
            for name in names[:-1]:
                del model[name]
        elif operation == "optimize":
            coll.optimize(factory=factory, target_recall=0.95)
            assert coll.segment_count("shared") == 1
        else:
            coll.close()
            coll = VectorCollection.open(tmp_path / "c")
        assert len(coll) == coll.vector_count("shared") == len(model)
        query = random_unit_vectors(rng, 1, dim)
        found = [h.record.item_id for h in coll.search("shared", query, k=10)[0]]
        expected = expected_top(model, query[0], 10)
        if factory == "Flat":
            assert found == expected
        else:
            assert len(found) == len(expected)
            recalls.append(len(set(found) & set(expected)) / max(len(expected), 1))
        tagged = [h.record.item_id for h in coll.search("shared", query, k=5, where={"tag": 2})[0]]
        assert tagged == expected_top({n: v for n, v in model.items() if v[1]["tag"] == 2}, query[0], 5)
    coll.close()
    assert not recalls or np.mean(recalls) >= 0.95
