"""Training the audio tower from a data spec on real ESC-50 clips (10 classes x 8 clips of fold 4), saving it
with its manifest, loading it back by folder, and the refusals."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from mmret.data.audio import read_audio
from mmret.encoders.audio_tower import (
    TowerConfig,
    is_audio_tower_dir,
    load_audio_tower_encoder,
)
from mmret.encoders.base import SHARED, Encoder
from mmret.training.audio_tower_fit import TrainSettings
from mmret.training.audio_tower_run import (
    MANIFEST,
    decode_clips,
    holdout_split,
    labelled_clips,
    scores,
    train_audio_tower,
)

CLASSES, PER_CLASS = 10, 8
FAST = TowerConfig(channels=(8, 16, 32))
SETTINGS = TrainSettings(epochs=12, batch_size=32, lr=1e-2)


def _write_labels(file: Path, rows: list[tuple[str, str]]) -> str:
    with file.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label"])
        writer.writerows(rows)
    return f"labels:{file}"


@pytest.fixture(scope="module")
def esc_rows(data_dir: Path) -> list[tuple[str, str]]:
    """(absolute clip path, category) for the first PER_CLASS fold-4 clips of the first CLASSES categories."""
    folder = data_dir / "esc50"
    if not (folder / "esc50.csv").is_file():
        pytest.skip(f"ESC-50 not found in {folder}")
    rows = [r for r in csv.DictReader((folder / "esc50.csv").open()) if r["fold"] == "4"]
    names = [name for _, name in sorted({(int(r["target"]), r["category"]) for r in rows})][:CLASSES]
    chosen = [r for name in names for r in sorted((r for r in rows if r["category"] == name),
                                                  key=lambda r: r["filename"])[:PER_CLASS]]
    assert len(chosen) == CLASSES * PER_CLASS
    return [(str(folder / "audio" / r["filename"]), r["category"]) for r in chosen]


@pytest.fixture(scope="module")
def trained(esc_rows, offline_encoder, tmp_path_factory) -> tuple[dict, Path, str]:
    torch.set_num_threads(2)
    folder = tmp_path_factory.mktemp("data")
    spec = _write_labels(folder / "clips.csv", esc_rows)
    out = folder / "tower"
    manifest = train_audio_tower(spec, out, offline_encoder, SETTINGS, progress=False, config=FAST)
    return manifest, out, spec


def test_manifest_records_the_run(trained, offline_encoder, esc_rows):
    manifest, out, spec = trained
    assert json.loads((out / MANIFEST).read_text()) == manifest
    assert manifest["format"] == 1 and manifest["text_model"] == offline_encoder.model_id
    assert manifest["classes"] == sorted({label for _, label in esc_rows}) and manifest["data"] == spec
    assert manifest["template"] == "the sound of {}" and manifest["settings"]["epochs"] == SETTINGS.epochs
    assert manifest["clips"] == CLASSES * PER_CLASS and manifest["clip_samples"] == 5 * 16_000
    validation = manifest["validation"]
    assert validation["clips"] == CLASSES * round(0.2 * PER_CLASS)  # stratified: 2 of each class's 8
    assert manifest["trained_at"].startswith("20") and is_audio_tower_dir(out)


def test_trained_tower_beats_the_untrained_one_on_held_out_clips(trained):
    validation = trained[0]["validation"]
    trained_map, untrained_map = (validation[k]["audio->audio"]["mAP"] for k in ("trained", "untrained"))
    assert trained_map > untrained_map + 0.05, validation
    assert validation["trained"]["text->audio"]["mAP"] > validation["untrained"]["text->audio"]["mAP"], validation


def test_saved_tower_reproduces_the_recorded_validation(trained, offline_encoder):
    manifest, out, spec = trained
    items, labels, classes = labelled_clips(spec, None)
    clips, labels, _ = decode_clips(items, labels, FAST, progress=False)
    text = offline_encoder.encode("text", [manifest["template"].format(c.replace("_", " ")) for c in classes])
    held = holdout_split(labels, manifest["validation"]["holdout"], SETTINGS.seed)
    figures = scores(load_audio_tower_encoder(out).tower, clips, labels, held, text)  # text model by its id
    for task, metrics in manifest["validation"]["trained"].items():
        for name, value in metrics.items():
            assert figures[task][name] == pytest.approx(value, abs=1e-6), (task, name)


def test_saved_folder_loads_back_with_the_same_vectors(trained, offline_encoder, esc_rows):
    _, out, _ = trained
    encoder = load_audio_tower_encoder(out, offline_encoder)
    assert encoder.model_id.startswith(f"audio-tower:{out.resolve()}+")
    waves = [read_audio(path, 16_000) for path, _ in esc_rows[:3]]
    loaded = encoder.encode("audio", waves)
    again = load_audio_tower_encoder(out, offline_encoder).encode("audio", waves)
    with torch.inference_mode():
        memory = encoder.tower(torch.from_numpy(np.stack([w.samples for w in waves]))).numpy()
    np.testing.assert_allclose(loaded, memory, atol=1e-6)
    np.testing.assert_allclose(loaded, again, atol=1e-6)
    np.testing.assert_allclose(encoder.encode("text", ["dog"]), offline_encoder.encode("text", ["dog"]), atol=1e-6)


class OtherText(Encoder):
    model_id, modalities, spaces = "other-text", ("text",), {SHARED: 384}

    def embed_prepared(self, modality, batch):
        return {SHARED: np.ones((len(batch), 384), np.float32) / np.sqrt(384)}


def test_loading_with_another_text_model_is_refused(trained):
    _, out, _ = trained
    with pytest.raises(ValueError, match=f"{out.name}.*other-text"):
        load_audio_tower_encoder(out, OtherText())


def test_folders_that_are_not_towers(tmp_path):
    assert not is_audio_tower_dir(tmp_path)
    (tmp_path / MANIFEST).write_text("{not json")
    assert not is_audio_tower_dir(tmp_path)
    with pytest.raises(ValueError, match="not an audio tower folder"):
        load_audio_tower_encoder(tmp_path)


def test_retraining_into_a_tower_folder_replaces_it_but_other_folders_are_kept(trained, tmp_path):
    _, trained_out, spec = trained
    out = shutil.copytree(trained_out, tmp_path / "tower")
    manifest = train_audio_tower(spec, out, OtherText(), TrainSettings(epochs=1), holdout=0, progress=False,
                                 config=FAST)
    assert manifest["text_model"] == "other-text" and manifest["validation"] is None
    assert json.loads((out / MANIFEST).read_text()) == manifest
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=f"{taken}: exists and is not an audio tower folder"):
        train_audio_tower(spec, taken, OtherText(), progress=False)
    assert (taken / "notes.txt").read_text() == "mine" and len(list(taken.iterdir())) == 1


@pytest.mark.parametrize(("rows", "holdout", "reason"), [
    ([("a.wav", "dog"), ("b.wav", "dog")], 0.2, "1 class"),
    ([("a.wav", "dog"), ("b.wav", "dog"), ("c.wav", "cat")], 0.2, "class 'cat' has 1 clip"),
    ([("a.wav", "dog"), ("b.wav", "dog|cat"), ("c.wav", "cat")], 0.0, "several labels"),
])
def test_bad_data_sets_are_refused(esc_rows, tmp_path, rows, holdout, reason):
    clips = {name: esc_rows[i][0] for i, name in enumerate(("a.wav", "b.wav", "c.wav"))}
    spec = _write_labels(tmp_path / "bad.csv", [(clips[name], label) for name, label in rows])
    with pytest.raises(ValueError, match=f"bad.csv.*{reason}"):
        train_audio_tower(spec, tmp_path / "out", OtherText(), holdout=holdout, progress=False)
    assert not (tmp_path / "out").exists()


def test_data_sets_without_audio_or_labels_are_refused(data_dir, tmp_path):
    (tmp_path / "texts.jsonl").write_text('{"text": "a dog", "label": "dog"}\n{"text": "a cat", "label": "cat"}\n')
    with pytest.raises(ValueError, match="texts.jsonl.*no audio items"):
        train_audio_tower(f"labels:{tmp_path / 'texts.jsonl'}", tmp_path / "out", OtherText(), progress=False)
    speakers = data_dir / "fsdd"
    with pytest.raises(ValueError, match="fsdd.*no class labels"):
        train_audio_tower(f"fsdd:{speakers}", tmp_path / "out", OtherText(), progress=False,
                          options={"label": "speaker"})


def test_train_audio_joins_the_space_of_a_model_folder_written_by_mmret_train(esc_rows, make_config, fp32_encoder,
                                                                               small_problem, run, tmp_path):
    from mmret.models import load_encoder
    from mmret.training import TrainedEncoder, train

    model_dir = train(make_config({"training": {"epochs": 1}}), encoder=fp32_encoder).model_dir
    three_classes = [row for start in (0, PER_CLASS, 2 * PER_CLASS) for row in esc_rows[start:start + 2]]
    spec = _write_labels(tmp_path / "clips.csv", three_classes)
    out = tmp_path / "tower"
    code, said, errors = run("train-audio", "--data", spec, "--out", out, "--text-model", model_dir,
                             "--epochs", 1, "--holdout", 0)
    assert code == 0, errors
    trained_text = TrainedEncoder(model_dir)
    assert json.loads((out / MANIFEST).read_text())["text_model"] == trained_text.model_id
    suggested = f"{model_dir}+audio-tower:{out}"
    assert f"use it with --model '{suggested}'" in said
    encoder = load_encoder(suggested)
    clip = read_audio(three_classes[0][0], 16_000)
    assert encoder.encode("audio", [clip]).shape == (1, trained_text.spaces[SHARED])
    np.testing.assert_allclose(encoder.encode("text", ["a dog"]), trained_text.encode("text", ["a dog"]), atol=1e-6)
