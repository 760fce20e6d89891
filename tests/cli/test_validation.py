"""Every argument, path and model name is checked before a model loads or data is embedded (issue 10, defect 4)."""
from __future__ import annotations


def test_eval_checks_every_model_before_loading_the_first(run, no_model_loads, data_dir):
    code, _, err = run("eval", "--data", f"captions:{data_dir / 'flickr8k-500'}", "--model", "offline",
                       "--model", "missing-dir")
    assert code == 2 and "missing-dir" in err and "Traceback" not in err


def test_index_of_a_missing_folder_fails_before_loading(run, no_model_loads, tmp_path):
    code, _, err = run("index", tmp_path / "missing-folder", "--collection", tmp_path / "c")
    assert code == 2 and "missing-folder" in err and not (tmp_path / "c").exists()


def test_index_with_a_missing_model_directory_creates_nothing(run, no_model_loads, tmp_path):
    code, _, err = run("index", tmp_path, "--collection", tmp_path / "c", "--model", "./no-such-model")
    assert code == 2 and "no-such-model" in err and not (tmp_path / "c").exists()


def test_search_k_must_be_positive(run, no_model_loads, empty_collection):
    code, _, err = run("search", "--collection", empty_collection, "--text", "x", "-k", "0")
    assert code == 2 and "-k" in err and ">= 1" in err


def test_search_filter_without_equals_fails_before_loading(run, no_model_loads, empty_collection):
    code, _, err = run("search", "--collection", empty_collection, "--text", "x", "--filter", "folder")
    assert code == 2 and "--filter 'folder'" in err and "KEY=VALUE" in err


def test_search_by_a_missing_image_fails_before_loading(run, no_model_loads, empty_collection):
    code, _, err = run("search", "--collection", empty_collection, "--image", "nope.jpg")
    assert code == 2 and "nope.jpg" in err


def test_offline_hub_id_not_in_the_cache_is_named(run, no_model_loads, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, _, err = run("eval", "--data", tmp_path, "--model", "someone/not-cached-model")
    assert code == 2 and "someone/not-cached-model" in err and "cache" in err
