"""A saved model: its directory records what made it, loads through TrainedEncoder (an Encoder like any other),
and `evaluate` of it on the validation data reproduces the trainer's own validation figures."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from mmret.encoders.base import SHARED
from mmret.eval.benchmark import evaluate
from mmret.training import TrainedEncoder, is_trained_model_dir, train
from mmret.training.saved import RECORD, WEIGHTS


@pytest.fixture(scope="module")
def trained_run(make_config, fp32_encoder, small_problem):
    return train(make_config({"training": {"epochs": 4}, "model": {"init": "bridge"}}), encoder=fp32_encoder)


@pytest.fixture(scope="module")
def trained_encoder(trained_run):
    return TrainedEncoder(trained_run.model_dir)


def flat(results: dict) -> dict:
    return {(task, metric): value for task, values in results.items() for metric, value in values.items()}


def test_evaluating_the_saved_model_reproduces_the_validation_figures(trained_run, trained_encoder, validation_set):
    evaluated = evaluate(trained_encoder, validation_set, progress=False)["results"]
    assert flat(evaluated) == pytest.approx(flat(trained_run.result.validation), abs=1e-9)
    assert trained_run.result.validation["text->image"]["R@1"] > trained_run.result.initial["text->image"]["R@1"]


def test_bridge_initialisation_starts_from_the_untrained_encoder(trained_run, fp32_encoder, validation_set):
    untrained = evaluate(fp32_encoder, validation_set, progress=False)["results"]
    assert flat(untrained) == pytest.approx(flat(trained_run.result.initial), abs=1e-9)


def test_the_directory_records_config_data_metrics_and_code(trained_run):
    directory = trained_run.model_dir
    record = json.loads((directory / RECORD).read_text())
    assert record["config"]["model"]["init"] == "bridge"
    assert record["data"]["validation"].endswith("flickr8k-500[48:64]")
    assert record["validation"]["results"] == trained_run.result.validation
    assert record["code"]["mmret"] and "git_commit" in record["code"]
    assert record["base"]["name"] == "offline" and record["base"]["precision"] == "fp32"
    assert (directory.parent / "history.json").is_file() and (directory.parent / "config.yaml").is_file()


def test_trained_encoder_follows_the_encoder_protocol(trained_run, trained_encoder):
    directory = trained_run.model_dir.resolve()
    assert trained_encoder.model_id.startswith(f"{directory}@") and len(trained_encoder.model_id.split("@")[-1]) == 12
    texts = trained_encoder.encode("text", ["a dog runs on the grass", "two people on bicycles"])
    assert texts.shape == (2, trained_encoder.spaces[SHARED]) and texts.dtype == np.float32
    assert np.allclose(np.linalg.norm(texts, axis=1), 1, atol=1e-5)
    assert trained_encoder.spaces_for("image") == (SHARED, "image")


def test_is_trained_model_dir_and_model_ids(trained_run, trained_encoder, tmp_path):
    assert is_trained_model_dir(trained_run.model_dir)
    assert is_trained_model_dir(trained_encoder.model_id)
    assert not is_trained_model_dir(tmp_path) and not is_trained_model_dir("offline")
    reloaded = TrainedEncoder(trained_encoder.model_id, precision="auto")  # auto: the precision trained with
    assert reloaded.model_id == trained_encoder.model_id and reloaded.base.precision == "fp32"


def test_changed_weights_are_refused(trained_run, tmp_path):
    copy = tmp_path / "model"
    copy.mkdir()
    for name in (RECORD, WEIGHTS):
        (copy / name).write_bytes((trained_run.model_dir / name).read_bytes())
    with open(copy / WEIGHTS, "r+b") as weights:
        weights.seek(-4, 2)
        weights.write(b"\x00\x01\x02\x03")
    with pytest.raises(ValueError, match="not the weights"):
        TrainedEncoder(copy)
    with pytest.raises(ValueError, match="not a trained model directory"):
        TrainedEncoder(tmp_path)


def test_a_collection_follows_its_trained_model_to_a_new_folder(trained_run, tmp_path, data_dir):
    """The collection records DIR@HASH; after the folder moves, --model NEWDIR with the same weights searches it."""
    from mmret import Collection
    from mmret.index.collection import CollectionError

    model_dir = tmp_path / "model"
    shutil.copytree(trained_run.model_dir, model_dir)
    photos = sorted((data_dir / "flickr8k-500" / "images").iterdir())[:3]
    collection = Collection.open(tmp_path / "coll", str(model_dir))
    collection.add(photos)
    moved = tmp_path / "moved"
    model_dir.rename(moved)
    with pytest.raises(ValueError, match="--model NEWDIR"):
        Collection.open(tmp_path / "coll", create=False).search(text="a dog", k=1)
    reopened = Collection.open(tmp_path / "coll", str(moved), create=False)
    assert reopened.search(image=photos[1], k=1)[0].record.path == str(photos[1].resolve())
    other = tmp_path / "other"
    shutil.copytree(moved, other)
    (other / WEIGHTS).write_bytes((other / WEIGHTS).read_bytes()[:-8] + bytes(8))
    with pytest.raises((ValueError, CollectionError)):
        Collection.open(tmp_path / "coll", str(other), create=False)


@pytest.mark.parametrize("tmpfs", ["32m"], indirect=True)
def test_a_full_disk_keeps_the_previous_model_and_says_so(trained_run, trained_encoder, tmpfs, fill_disk):
    from mmret.training.config import TrainConfig
    from mmret.training.saved import save_model

    model = tmpfs / "model"
    shutil.copytree(trained_run.model_dir, model)
    before = {f.name: f.read_bytes() for f in model.iterdir()}
    filler = fill_disk(tmpfs)
    config = TrainConfig.from_dict(trained_encoder.record["config"])
    with pytest.raises(OSError, match=f"^{model}: cannot save the trained model \\(.*No space left on device.*\\); "
                                      "the previous model there is kept$"):
        save_model(model, trained_encoder.model, config, trained_run.result, trained_encoder.base)
    assert {f.name: f.read_bytes() for f in model.iterdir()} == before
    assert sorted(p.name for p in tmpfs.iterdir()) == ["filler", "model"]  # no partial directory left
    filler.unlink()
    assert is_trained_model_dir(save_model(model, trained_encoder.model, config, trained_run.result,
                                           trained_encoder.base))


def test_a_model_trained_on_the_lite2_tower_rebuilds_that_tower(make_config, validation_set):
    run = train(make_config({"training": {"epochs": 2}, "model": {"init": "bridge", "base": "offline-lite2"}}))
    reloaded = TrainedEncoder(run.model_dir)
    assert reloaded.base.settings.image_tower == "lite2" and "effnet-lite2" in reloaded.base.model_id
    evaluated = evaluate(reloaded, validation_set, progress=False)["results"]
    assert flat(evaluated) == pytest.approx(flat(run.result.validation), abs=1e-9)


def test_a_given_encoder_with_another_tower_is_refused(make_config, fp32_encoder):
    with pytest.raises(ValueError, match="model.base is 'offline-lite2'.*lite0"):
        train(make_config({"model": {"base": "offline-lite2"}}), encoder=fp32_encoder)
