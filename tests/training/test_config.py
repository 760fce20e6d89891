"""Training configs: the example YAML loads and round-trips, and every bad value is reported by its field name."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from mmret.training.config import ConfigError, TrainConfig, load_config, save_config
from mmret.training.dataspec import DataSpec

EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "train_offline_heads.yaml"
MINIMAL = {"data": {"train": "captions:data/a.json", "validation": "captions:data/b.json[0:10]"}}


def with_(section: str, **fields) -> dict:
    return {**MINIMAL, section: fields}


def test_example_config_loads_and_round_trips(tmp_path):
    config = load_config(EXAMPLE)
    assert config.loss.name == "infonce" and config.optimizer.lr == pytest.approx(1e-3)
    shared = os.path.normpath(EXAMPLE.parents[2] / "shared" / "data")
    assert [str(s) for s in config.data.train] == [f"captions:{shared}/flickr8k-500[0:400]",
                                                   f"captions:{shared}/coco-mini"]
    assert config.run_dir == EXAMPLE.parents[1] / "runs" / "offline-heads"
    save_config(config, tmp_path / "again.yaml")
    assert load_config(tmp_path / "again.yaml") == config


@pytest.mark.parametrize("config", sorted(EXAMPLE.parent.glob("*.yaml")), ids=lambda path: path.name)
def test_every_shipped_config_reads_the_shared_data_beside_the_project_and_writes_runs_in_it(config):
    """As the README runs them from the project's root: data at ../shared/data, runs in runs/ (issue 21, item 8)."""
    loaded = load_config(config)
    shared = EXAMPLE.parents[2] / "shared" / "data"
    for spec in (*loaded.data.train, loaded.data.validation):
        if "$" not in spec.path:  # a $VAR names where the user built a data set (offline_default.yaml's flickr8k-7k)
            assert spec.resolved_path().parent == shared, spec
    assert loaded.run_dir.parent == EXAMPLE.parents[1] / "runs"


def test_paths_are_relative_to_the_config_files_folder_not_the_working_directory(tmp_path, monkeypatch):
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "c.yaml").write_text("data: {train: 'captions:sets/a.json[0:5]', validation: 'captions:/abs/b.json'}\n"
                                   "output: runs/x\ncache_dir: $FEATURES/cache\n")
    monkeypatch.setenv("FEATURES", "/features")
    monkeypatch.chdir(tmp_path)
    config = load_config("experiments/c.yaml")
    assert config.data.train[0].resolved_path() == folder / "sets" / "a.json"
    assert config.data.train[0].start == 0 and config.data.train[0].stop == 5
    assert config.data.validation.resolved_path() == Path("/abs/b.json")
    assert config.run_dir == folder / "runs" / "x" and config.feature_dir == Path("/features/cache")


def test_defaults_and_yaml_scientific_notation(tmp_path):
    (tmp_path / "c.yaml").write_text("data: {train: 'captions:a[0:5]', validation: 'captions:b'}\n"
                                     "optimizer: {lr: 1e-4}\n")  # YAML 1.1 reads 1e-4 as a string
    config = load_config(tmp_path / "c.yaml")
    assert config.optimizer.lr == 1e-4
    assert config.data.train == (DataSpec(str(tmp_path / "a"), 0, 5),)
    assert config.model.text_head == "identity" and config.training.monitor == "text->image R@5"


@pytest.mark.parametrize("data, field", [
    ({"model": {"image_head": "conv"}}, "model.image_head"),
    ({"model": {"dropout": 1.5}}, "model.dropout"),
    ({"model": {"colour": 1}}, "model.colour"),
    ({"model": {"image_inputs": ["pooled", "pixels"]}}, "model.image_inputs"),
    ({"model": {"base": "openai/clip-vit-base-patch32"}}, "model.base"),
    ({"model": {"init": "bridge", "image_head": "mlp"}}, "model.init"),
    ({"model": {"init": "xavier"}}, "model.init"),
    ({"optimizer": {"lr": "fast"}}, "optimizer.lr"),
    ({"optimizer": {"lr": -1.0}}, "optimizer.lr"),
    ({"optimizer": {"betas": [0.9]}}, "optimizer.betas"),
    ({"training": {"batch_size": 1}}, "training.batch_size"),
    ({"training": {"epochs": 2.5}}, "training.epochs"),
    ({"training": {"bf16": "yes"}}, "training.bf16"),
    ({"training": {"monitor": "text->image R@five"}}, "training.monitor"),
    ({"training": {"monitor": "text->image MedR"}}, "training.monitor"),
    ({"augment": {"crop_scale": [0.9, 0.5]}}, "augment.crop_scale"),
    ({"augment": {"crop_ratio": [2.0, 0.5]}}, "augment.crop_ratio"),
    ({"loss": {"name": "hinge"}}, "loss.name"),
    ({"loss": {"name": "triplet", "options": {"miner": "hardest"}}}, "loss.options"),
    ({"loss": {"name": "vsepp", "options": {"temperature": 0.1}}}, "loss.options"),
    ({"tune": {"space": {"momentum": [0.9]}}}, "tune.space.momentum"),
    ({"tune": {"space": {"loss": ["infonce", "hinge"]}}}, "tune.space.loss"),
    ({"tune": {"sampler": "grid", "space": {"lr": {"low": 1e-4, "high": 1e-2}}}}, "tune.space.lr"),
    ({"tune": {"space": {"dim": [128, 256]}}}, "tune.space.dim"),
    ({"data": {"train": [], "validation": "captions:b"}}, "data.train"),
    ({"data": {"train": "flickr:a", "validation": "captions:b"}}, "data.train[0]"),
    ({"data": {"train": "captions:a[5:2]", "validation": "captions:b"}}, "data.train[0]"),
    ({"data": {"train": "captions:a"}}, "data.validation"),
    ({"data": {**MINIMAL["data"], "captions_per_image": 0}}, "data.captions_per_image"),
    ({"trainig": {}}, "trainig"),
])
def test_errors_name_the_field(data, field):
    with pytest.raises(ConfigError) as error:
        TrainConfig.from_dict({**MINIMAL, **data})
    assert str(error.value).startswith(f"{field}: "), str(error.value)


def test_file_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data: {train: 'captions:a', validation: 'captions:b'}\ntraining: {patience: -1}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: training\.patience: must be >= 0"):
        load_config(path)
    with pytest.raises(ConfigError, match="missing.yaml"):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize("text, spec", [
    ("captions:../data/flickr8k-500[0:400]", DataSpec("../data/flickr8k-500", 0, 400)),
    ("captions:/data/flickr8k-500[400:]", DataSpec("/data/flickr8k-500", 400, None)),
    ("captions:coco-mini/captions.json", DataSpec("coco-mini/captions.json")),
])
def test_data_specs_parse_and_print_back(text, spec):
    assert DataSpec.parse(text) == spec
    assert str(spec) == text


def test_data_spec_expands_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("MMR_TEST_DATA", str(tmp_path))
    assert DataSpec.parse("captions:$MMR_TEST_DATA/flickr[0:2]").resolved_path() == tmp_path / "flickr"


def test_command_line_overrides_replace_fields_by_dotted_name(tmp_path):
    (tmp_path / "c.yaml").write_text("data: {train: 'captions:a[0:5]', validation: 'captions:b'}\n"
                                     "training: {epochs: 60}\n")
    config = load_config(tmp_path / "c.yaml", {"training.epochs": 3, "tune.trials": 2, "loss.name": "vsepp",
                                               "output": "/elsewhere/run"})
    assert (config.training.epochs, config.tune.trials, config.loss.name) == (3, 2, "vsepp")
    assert config.run_dir == Path("/elsewhere/run")
    with pytest.raises(ConfigError, match="training.epoch: unknown field"):
        load_config(tmp_path / "c.yaml", {"training.epoch": 3})
    with pytest.raises(ConfigError, match="training.epochs: is not a section"):
        load_config(tmp_path / "c.yaml", {"training.epochs.x": 3})


def test_crop_ratio_reaches_the_image_augmentation():
    from mmret.training.experiment import image_augment

    config = TrainConfig.from_dict({**MINIMAL, "augment": {"crop_ratio": [0.5, 2.0]}})
    assert image_augment(config).crop_ratio == (0.5, 2.0)
