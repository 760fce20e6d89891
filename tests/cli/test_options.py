"""What a user of such a CLI expects (issue 10): a positional query, --paths, --min-score, --exclude, --like, --open,
--version, a subcommand's own usage on a bad flag, help with defaults and examples, and environment defaults."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from mmret import Collection
from mmret.cli import parser
from mmret.encoders.base import SHARED, Encoder
from mmret.errors import NotFound

NOTES = {"car": "a red car on the road", "bike": "a red bike", "tree": "green trees in the park",
         "sea": "blue sea and sky"}
WORDS = ("red", "car", "green", "tree", "blue", "sea", "bike")


class BagOfWords(Encoder):
    """Texts as unit word-count vectors over a few words: exact, model-free similarities."""

    def __init__(self):
        self.modalities, self.spaces, self.model_id = ("text",), {SHARED: len(WORDS) + 1}, "bag-of-words-test"

    def embed_prepared(self, modality, batch):
        vectors = np.array([[t.count(w) for w in WORDS] + [0.1] for t in batch], dtype=np.float32)
        return {SHARED: vectors / np.linalg.norm(vectors, axis=1, keepdims=True)}


@pytest.fixture
def notes(tmp_path, monkeypatch):
    manifest = tmp_path / "notes.jsonl"
    manifest.write_text("".join(json.dumps({"id": key, "text": text}) + "\n" for key, text in NOTES.items()))
    Collection.open(tmp_path / "notes", BagOfWords()).add([manifest])
    monkeypatch.setattr("mmret.api.load_encoder", lambda name, precision="auto", device="cpu": BagOfWords())
    return tmp_path / "notes"


def results(out: str) -> list[dict]:
    return json.loads(out)["results"]


def test_a_positional_query_is_the_text_query(run, notes):
    code, out, _ = run("search", "red car", "--collection", notes, "--json")
    assert code == 0 and results(out)[0]["id"] == "car"
    code, out, _ = run("search", "red car", "--text", "-blue", "--collection", notes, "--json")  # both: composed
    assert code == 0 and [p["weight"] for p in json.loads(out)["query"]["parts"]] == [1.0, -1.0]


def test_paths_min_score_and_exclude(run, notes):
    code, out, _ = run("search", "red car", "--collection", notes, "--paths", "--exclude", "bike")
    paths = out.split()  # text items have no path: their ids stand in
    assert code == 0 and paths[0] == "car" and sorted(paths[1:]) == ["sea", "tree"]
    _, out, _ = run("search", "red car", "--collection", notes, "--json", "--min-score", "0.5", "--mode", "semantic")
    assert [r["id"] for r in results(out)] == ["car", "bike"] and all(r["score"] >= 0.5 for r in results(out))


def test_search_by_a_stored_item_leaves_it_out(run, notes):
    code, out, _ = run("search", "--like", "bike", "--collection", notes, "--json", "-k", "2")
    ids = [r["id"] for r in results(out)]
    assert code == 0 and ids[0] == "car" and "bike" not in ids
    code, _, err = run("search", "--like", "nothing-like-it", "--collection", notes)
    assert code == NotFound.exit_code and "nothing-like-it" in err


def test_open_hands_the_best_file_to_the_desktop(run, notes, monkeypatch, tmp_path):
    opened = []
    monkeypatch.setattr("subprocess.Popen", lambda command, **kwargs: opened.append(command))
    code, _, err = run("search", "red car", "--collection", notes, "--open")
    assert code == 2 and "is a text, not a file" in err and not opened


def test_version_and_a_bad_flag_shows_the_subcommands_usage(run, notes):
    code, out, _ = run("--version")
    assert code == 0 and out.startswith("mmret ")
    code, _, err = run("search", "red car", "--collection", notes, "--colour", "red")
    assert code == 2 and err.startswith("usage: mmret search") and "unrecognized arguments: --colour red" in err


def test_collection_and_model_come_from_the_environment(run, notes, monkeypatch, tmp_path, no_model_loads):
    monkeypatch.setenv("MMRET_COLLECTION", str(notes))
    code, out, _ = run("info")
    assert code == 0 and json.loads(out)["items"] == 4
    monkeypatch.setenv("MMRET_MODEL", "./not-a-model-dir")
    code, _, err = run("eval", "--data", tmp_path)
    assert code == 2 and "not-a-model-dir" in err


def subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_subcommand_explains_every_option_with_defaults_and_an_example(name):
    command = subcommands()[name]
    assert f"mmret {name}" in (command.epilog or ""), f"{name} has no example"
    options = [a for a in command._actions if not isinstance(a, argparse._HelpAction)]
    assert all(a.help for a in options), [a.dest for a in options if not a.help]
    text = command.format_help()
    for option in options:
        if option.default not in (None, False, [], argparse.SUPPRESS) and option.required is False:
            assert f"default: {option.default}" in " ".join(text.split()), (name, option.dest)


def test_train_and_tune_overrides_reach_the_config(run, monkeypatch, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("data: {train: 'captions:a', validation: 'captions:b'}\n")
    seen = {}
    monkeypatch.setattr("mmret.training.tune_from_config",
                        lambda path, progress, overrides, device: seen.update(overrides) or tmp_path)
    code, _, _ = run("tune", config, "--trials", "2", "--output", "out", "--set", "training.epochs=5",
                     "--set", "loss.options={margin: 0.3}")
    assert code == 0 and seen == {"tune.trials": 2, "output": str((tmp_path.cwd() / "out").resolve()),
                                  "training.epochs": 5, "loss.options": {"margin": 0.3}}


def test_ls_lists_the_items_and_filters_them(run, notes):
    code, out, _ = run("ls", "--collection", notes, "--json")
    assert code == 0 and sorted(json.loads(line)["id"] for line in out.splitlines()) == sorted(NOTES)
    code, out, _ = run("ls", "--collection", notes, "--filter", "modality=text")
    assert code == 0 and len(out.splitlines()) == 4 and "a red bike" in out


def test_embed_writes_vectors_with_their_ids_without_a_collection(run, monkeypatch, tmp_path):
    import pyarrow.parquet as pq

    monkeypatch.setattr("mmret.models.load_encoder", lambda name, precision="auto", device="cpu": BagOfWords())
    texts = ["a red car", "green trees"]
    code, _, _ = run("embed", "--text", texts[0], "--text", texts[1], "--out", tmp_path / "v.npy")
    vectors = np.load(tmp_path / "v.npy")
    assert code == 0 and vectors.shape == (2, len(WORDS) + 1)
    assert np.allclose(vectors, BagOfWords().encode("text", texts))
    assert json.loads((tmp_path / "v.ids.json").read_text()) == ["text:0", "text:1"]
    code, _, _ = run("embed", "--text", texts[0], "--out", tmp_path / "v.parquet")
    table = pq.read_table(tmp_path / "v.parquet").to_pylist()
    assert code == 0 and table[0]["text"] == texts[0] and np.allclose(table[0]["vector"], vectors[0])
    code, _, err = run("embed", "--text", "x", "--out", tmp_path / "v.csv")
    assert code == 2 and ".npy or .parquet" in err
