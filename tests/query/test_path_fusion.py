"""Learned fusion of a space's paths (mmret.fusion.PathFusion, mmret.query.path_fusion): the fit against numpy, the
fused score against a hand computation, a real collection's search whose ranking it changes as it should, and
the API and CLI fitting it and searching through it."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mmret import Collection
from mmret.cli import main
from mmret.encoders.base import SHARED
from mmret.fusion import PathFusion, SpaceCalibration
from mmret.index.collection import Record, VectorCollection
from mmret.query.path_fusion import record_path, search_fused_paths, stored_path_fusion


def _unit(rows) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_fit_calibrates_each_path_on_the_example_scores_and_routes_examples_to_their_path():
    rng = np.random.default_rng(0)
    items = {"shot": _unit(rng.normal(size=(7, 8)) + [3, 0, 0, 0, 0, 0, 0, 0]),
             "sound": _unit(rng.normal(size=(5, 8)))}
    examples = {"shot": _unit(rng.normal(size=(20, 8)) + [2, 0, 0, 0, 0, 0, 0, 0]),
                "sound": _unit(rng.normal(size=(20, 8)) + [0, 2, 0, 0, 0, 0, 0, 0])}
    fusion = PathFusion.fit(examples, items)
    queries = np.concatenate([examples["shot"], examples["sound"]])
    for path, vectors in items.items():
        scores = queries @ vectors.T
        assert fusion.calibrations[path].mean == pytest.approx(scores.mean())
        assert fusion.calibrations[path].std == pytest.approx(scores.std())
    routed = [max(fusion.log_prior(q).items(), key=lambda kv: kv[1])[0] for q in queries]
    assert np.mean(np.array(routed) == ["shot"] * 20 + ["sound"] * 20) >= 0.95
    assert all(sum(np.exp(list(fusion.log_prior(q).values()))) == pytest.approx(1.0) for q in queries[:3])


def test_fused_score_is_the_calibrated_score_plus_the_log_prior_of_the_path():
    fusion = PathFusion({"shot": SpaceCalibration(0.3, 0.1), "sound": SpaceCalibration(0.0, 0.2)},
                        weights=np.array([[1.0, 0.0], [0.0, 1.0]]), bias=np.array([0.0, 0.5]))
    query = np.array([0.6, 0.8])
    prior = fusion.log_prior(query)
    # logits 0.6 and 1.3: log P(shot) = 0.6 - log(e^0.6 + e^1.3)
    assert prior["shot"] == pytest.approx(0.6 - np.log(np.exp(0.6) + np.exp(1.3)))
    assert prior["sound"] == pytest.approx(1.3 - np.log(np.exp(0.6) + np.exp(1.3)))
    assert fusion.fused("shot", np.array([0.45]), prior)[0] == pytest.approx(1.5 + prior["shot"])
    assert fusion.fused("sound", np.array([0.3]), prior)[0] == pytest.approx(1.5 + prior["sound"])
    assert PathFusion.from_dict(json.loads(json.dumps(fusion.to_dict()))).log_prior(query) == pytest.approx(prior)


def test_fit_and_stored_fusion_errors_name_the_path():
    items = {"shot": _unit([[1, 0], [0, 1]]), "sound": _unit([[1, 1], [1, -1]])}
    with pytest.raises(ValueError, match=r"none for \['sound'\]"):
        PathFusion.fit({"shot": _unit([[1, 0]])}, items)
    with pytest.raises(ValueError, match=r"no items of: \['ocr'\]"):
        PathFusion.fit({"shot": _unit([[1, 0]]), "sound": _unit([[0, 1]]), "ocr": _unit([[1, 1]])}, items)
    with pytest.raises(ValueError, match="malformed"):
        PathFusion.from_dict({"calibrations": {}})
    with pytest.raises(ValueError, match="router shapes"):
        PathFusion.from_dict({"calibrations": {"shot": {"mean": 0.0, "std": 1.0}}, "weights": [[0, 0], [0, 0]],
                              "bias": [0]})


def test_search_puts_two_paths_on_one_scale_and_the_weak_paths_best_hit_wins(tmp_path):
    """Shots score high against everything (calibrated mean 0.8), sounds low (mean 0.0): raw, an ordinary shot
    outranks the sound that stands out; fused, the sounds win, and every fused score is the hand-computed one."""
    store = VectorCollection.create(tmp_path / "c", "test-model", {SHARED: 2})
    angles = {"shot-a": 0.8, "shot-b": 1.0, "sound-a": 2.2, "sound-b": 2.6}  # radians from the x axis
    records = [Record(name, "video", metadata={"segment": name.split("-")[0], "segment_of": "v.mp4"})
               for name in angles]
    store.upsert(records, {SHARED: _unit([[np.cos(a), np.sin(a)] for a in angles.values()])})
    query = _unit([[0.0, 1.0]])[0]  # cosines: shot-a 0.717, shot-b 0.841, sound-a 0.808, sound-b 0.516
    raw = [h.record.item_id for h in store.search(SHARED, query[None], 4)[0]]
    assert raw == ["shot-b", "sound-a", "shot-a", "sound-b"]
    fusion = PathFusion({"shot": SpaceCalibration(0.8, 0.05), "sound": SpaceCalibration(0.0, 0.5)},
                        weights=np.zeros((2, 2)), bias=np.zeros(2))
    hits = search_fused_paths(lambda where: store.search(SHARED, query[None], 4, where=where)[0], fusion, query, None)
    cosine = {name: float(np.cos(a - np.pi / 2)) for name, a in angles.items()}
    expected = {name: (c - 0.8) / 0.05 if name.startswith("shot") else c / 0.5 for name, c in cosine.items()}
    assert [h.record.item_id for h in hits] == sorted(expected, key=lambda n: -expected[n])
    assert [h.record.item_id for h in hits] == ["sound-a", "sound-b", "shot-b", "shot-a"]
    assert {h.record.item_id: h.score for h in hits} == pytest.approx({n: v + np.log(0.5) for n, v in expected.items()}, abs=1e-5)
    # a filter is ANDed with each path's: only shots are left, still fused
    only_shots = search_fused_paths(lambda where: store.search(SHARED, query[None], 4, where=where)[0], fusion,
                                    query, {"segment": "shot"})
    assert [h.record.item_id for h in only_shots] == ["shot-b", "shot-a"]
    assert {record_path(r) for r in records} == {"shot", "sound"}
    # a kind indexed after the fit (OCR) is still found, with its raw score
    store.upsert([Record("ocr-a", "video", metadata={"segment": "ocr", "segment_of": "v.mp4"})],
                 {SHARED: _unit([[0.0, 1.0]])})
    later = search_fused_paths(lambda where: store.search(SHARED, query[None], 5, where=where)[0], fusion, query, None)
    assert {h.record.item_id: h.score for h in later}["ocr-a"] == pytest.approx(1.0, abs=1e-6)
    assert len(later) == 5


@pytest.fixture(scope="module")
def two_path_collection(data_dir, offline_encoder, tmp_path_factory):
    """Real vectors in two paths: "shot" = image vectors of flickr8k-500 photos 0-11, "speech" = text vectors of
    the first captions of photos 12-19 (with their text). Returns (folder, example shot queries)."""
    photos = json.loads((data_dir / "flickr8k-500" / "captions.json").read_text())
    from mmret.data.decode import read_image

    images = [read_image(data_dir / "flickr8k-500" / p["image"]) for p in photos[:12]]
    said = [p["captions"][0] for p in photos[12:20]]
    folder = tmp_path_factory.mktemp("paths") / "media"
    coll = Collection.create_for_vectors(folder, offline_encoder.model_id, dict(offline_encoder.spaces))
    shots = [{"id": f"v{i}.mp4#shot", "segment": "shot", "segment_of": f"v{i}.mp4"} for i in range(12)]
    speech = [{"id": f"v{i}.mp4#speech", "segment": "speech", "segment_of": f"v{i}.mp4", "text": t}
              for i, t in enumerate(said)]
    coll.add_vectors(offline_encoder.encode("image", images), metadata=shots)
    coll.add_vectors(offline_encoder.encode("text", said), metadata=speech)
    return folder, [p["captions"][0] for p in photos[20:60]]


def test_api_fits_stores_and_searches_through_the_fusion(two_path_collection, offline_encoder):
    folder, examples = two_path_collection
    coll = Collection.open(folder, offline_encoder)
    query = "a dog runs through the grass"
    raw = coll.search(text=query, k=20, per_file=False, mode="semantic")  # the path fusion is of vector hits
    fusion = coll.calibrate({"shot": examples})
    assert set(fusion.paths) == {"shot", "speech"}
    assert stored_path_fusion(VectorCollection.open(folder), SHARED).to_dict() == fusion.to_dict()
    fused = coll.search(text=query, k=20, per_file=False, mode="semantic")
    vector = offline_encoder.encode("text", [query])[0]
    prior = fusion.log_prior(vector)
    expected = {h.record.item_id: fusion.fused(h.record.metadata["segment"], np.array([h.score]), prior)[0]
                for h in raw}
    assert [h.record.item_id for h in fused] == sorted(expected, key=lambda i: -expected[i])
    assert {h.record.item_id: h.score for h in fused} == pytest.approx(expected, abs=1e-5)


def test_cli_calibrate_then_search_and_clear(two_path_collection, tmp_path, capsys):
    folder, examples = two_path_collection
    shots = tmp_path / "shots.txt"
    shots.write_text("\n".join(examples) + "\n\n")
    assert main(["calibrate", "--collection", str(folder), "--examples", f"shot={shots}"]) == 0
    assert set(json.loads(capsys.readouterr().out)["paths"]) == {"shot", "speech"}
    stored = stored_path_fusion(VectorCollection.open(folder), SHARED)
    assert main(["search", "a dog in the snow", "--collection", str(folder), "--json", "--all-segments"]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    api = Collection.open(folder).search(text="a dog in the snow", per_file=False)
    assert [r["id"] for r in rows] == [h.record.item_id for h in api]
    assert stored is not None and rows[0]["score"] == pytest.approx(api[0].score, abs=1e-5)
    assert main(["calibrate", "--collection", str(folder), "--clear"]) == 0
    assert stored_path_fusion(VectorCollection.open(folder), SHARED) is None
    assert main(["calibrate", "--collection", str(folder), "--examples", "shot"]) == 2
    assert "expected PATH=FILE" in capsys.readouterr().err
    assert main(["calibrate", "--collection", str(folder), "--examples", f"sound={shots}"]) == 2
    assert "no items of" in capsys.readouterr().err
