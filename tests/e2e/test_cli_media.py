"""Audio and video end to end through the `mmret` command: index spoken digits and a test video, then find what
was said and what was shown, with the time range, by text and by an audio file."""
import json
import shutil

import pytest

from .test_cli import mmret

pytest.importorskip("av")


@pytest.fixture(scope="module")
def media(data_dir, tmp_path_factory):
    from mmret.eval.video_set import build_video_set

    folder = tmp_path_factory.mktemp("media")
    for name in ("7_jackson_0.wav", "3_george_1.wav", "9_lucas_2.wav"):
        shutil.copy(data_dir / "fsdd" / "recordings" / name, folder / name)
    video = build_video_set(folder / "clips", data_dir / "flickr8k-500" / "captions.json", 1, seed=5,
                            fps=12, size=(192, 144), formats=("mp4",))[0]
    for table in ("truth.json", "segments.csv"):  # ground truth beside the video, not media to index
        (folder / "clips" / table).unlink()
    collection = tmp_path_factory.mktemp("coll") / "media"
    first = mmret("index", folder, "--collection", collection, "--model", "offline+speech")
    return folder, video, collection, first


def search(collection, *args):
    return json.loads(mmret("search", "--collection", collection, *args, "--json").stdout)["results"]


def test_index_reports_files_not_segments(media):
    folder, _, collection, first = media
    assert "4 added" in first.stdout and "0 skipped" in first.stdout
    assert "4 unchanged" in mmret("index", folder, "--collection", collection).stdout
    kinds = json.loads(mmret("info", "--collection", collection).stdout)["by kind"]
    assert kinds["audio"] == 3 and kinds["video"] == 1 and kinds["speech"] == 3 and kinds["shot"] >= 3


def test_text_finds_what_was_said_with_its_time(media):
    _, _, collection, _ = media
    top = search(collection, "--text", "seven", "-k", "2")[0]
    assert top["path"].endswith("7_jackson_0.wav") and top["metadata"]["segment"] == "speech"
    assert 0 <= top["metadata"]["start"] < top["metadata"]["end"] <= 1.0 and "seven" in top["text"].lower()
    shown = mmret("search", "--collection", collection, "--text", "seven", "-k", "1").stdout
    assert "(speech)" in shown and "7_jackson_0.wav @ " in shown


def test_audio_query_finds_the_same_clip(media):
    folder, _, collection, _ = media
    top = search(collection, "--audio", folder / "3_george_1.wav", "-k", "1")[0]
    assert top["path"].endswith("3_george_1.wav") and top["score"] == pytest.approx(1.0, abs=1e-3)


def test_caption_finds_the_video_and_the_shot(media):
    _, video, collection, _ = media
    truth = video.shots[1]
    top = search(collection, "--image", truth.image, "-k", "1")[0]
    assert top["path"] == video.path and top["modality"] == "video"
    assert top["metadata"]["start"] < truth.end and truth.start < top["metadata"]["end"]
    every = search(collection, "--text", truth.captions[0], "-k", "20", "--all-segments", "--filter", "segment=shot")
    assert len(every) == len(video.shots) and {r["path"] for r in every} == {video.path}


def test_bad_audio_query_is_a_clear_error(media, tmp_path):
    _, _, collection, _ = media
    bad = tmp_path / "q.wav"
    bad.write_bytes(b"not audio at all")
    result = mmret("search", "--collection", collection, "--audio", bad, check=False)
    assert result.returncode == 2 and str(bad) in result.stderr


def test_train_audio_refuses_a_folder_it_would_overwrite(tmp_path, data_dir):
    out = tmp_path / "tower"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = mmret("train-audio", "--data", f"esc50:{data_dir / 'esc50'}", "--option", "folds=4", "--out", out,
                   "--epochs", "1", check=False)
    assert result.returncode == 2 and str(out) in result.stderr
    assert (out / "notes.txt").read_text() == "mine"


def test_ls_leaves_out_the_internal_timed_settings(media):
    from mmret.index.backend import open_collection
    from mmret.media.segments import SETTINGS

    _, _, collection, _ = media
    store = open_collection(collection)
    assert any(SETTINGS in record.metadata for record in store.records())  # stored, for re-indexing
    store.close()
    for output in ("--json", "--segments"):
        listed = mmret("ls", "--collection", collection, output).stdout
        assert "7_jackson_0.wav" in listed and SETTINGS not in listed
