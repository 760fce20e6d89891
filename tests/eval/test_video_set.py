"""The test-video builder: truth that tiles each video, cuts that iter_shots recovers, the expected codecs, and
sound exactly in the shots the truth says have one. Built from the real shared photos and sounds."""
from __future__ import annotations

import json
from itertools import pairwise

import numpy as np
import pytest

av = pytest.importorskip("av")

from mmret.data.audio import Waveform, loudness_dbfs
from mmret.data.video import iter_shots, probe_video, read_soundtrack
from mmret.eval.video_set import DIGITS, build_video_set, load_video_set

FPS = 12
CODECS = {"mp4": ("h264", "aac"), "webm": ("vp9", "opus"), "mkv": ("h264", "flac")}


def build(data_dir, out, count=3, seed=7):
    return build_video_set(out, data_dir / "flickr8k-500" / "captions.json", count, seed=seed,
                           esc50_dir=data_dir / "esc50", fsdd_dir=data_dir / "fsdd", fps=FPS, size=(160, 120))


@pytest.fixture(scope="module")
def built(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("video_set")
    return out, build(data_dir, out)


def test_truth_tiles_each_video_with_distinct_captioned_photos(built):
    out, videos = built
    assert [v.path.rsplit(".", 1)[1] for v in videos] == ["mp4", "webm", "mkv"]
    assert load_video_set(out) == videos
    photos = [s.image for v in videos for s in v.shots]
    assert len(photos) == len(set(photos))
    for video in videos:
        shots = video.shots
        assert 3 <= len(shots) <= 6 and shots[0].start == 0.0
        assert all(a.end == b.start for a, b in pairwise(shots))
        assert all(2 - 1 / FPS <= s.end - s.start <= 5 + 1 / FPS for s in shots)
        assert all(len(s.captions) == 5 and all(s.captions) for s in shots)
        assert probe_video(video.path).duration == pytest.approx(shots[-1].end, abs=1 / FPS)


def test_sound_labels_name_their_clips(built, data_dir):
    shots = [s for v in built[1] for s in v.shots if s.sound]
    assert shots, "no shot got a sound"
    rows = {}
    for line in (data_dir / "esc50" / "esc50.csv").read_text().splitlines()[1:]:
        name, *_, category, _, _, _ = line.split(",")
        rows[name] = category.replace("_", " ")
    for shot in shots:
        name = shot.sound.rsplit("/", 1)[1]
        expected = rows[name] if shot.sound.endswith(".flac") else DIGITS[int(name[0])]
        assert shot.sound_label == expected


def test_iter_shots_recovers_the_true_cuts(built):
    for video in built[1]:
        found = list(iter_shots(video.path))
        assert len(found) == len(video.shots), video.path
        assert np.allclose([s.start for s in found], [s.start for s in video.shots], atol=1 / FPS + 1e-6)
        assert found[-1].end == pytest.approx(video.shots[-1].end, abs=1 / FPS)


def test_containers_hold_the_expected_codecs(built):
    for video in built[1]:
        with av.open(video.path) as container:
            names = (container.streams.video[0].codec_context.name, container.streams.audio[0].codec_context.name)
        assert names == CODECS[video.path.rsplit(".", 1)[1]]


def test_soundtrack_has_energy_only_in_shots_with_a_sound(built):
    for video in built[1]:
        wave = read_soundtrack(video.path)
        assert wave.seconds == pytest.approx(video.shots[-1].end, abs=0.1)
        for shot in video.shots:  # away from the cuts, where a lossy codec may smear a little
            a, b = round((shot.start + 0.05) * wave.rate), round((shot.end - 0.1) * wave.rate)
            level = loudness_dbfs(Waveform(wave.samples[a:b], wave.rate))
            if shot.sound:
                assert level > -45, (video.path, shot.start, shot.sound, level)
            else:
                assert level < -60, (video.path, shot.start, level)


def test_same_seed_same_truth(built, data_dir, tmp_path):
    again = build(data_dir, tmp_path, count=1)
    first = built[1][0]
    assert [(s.start, s.end, s.image, s.sound) for s in again[0].shots] == \
           [(s.start, s.end, s.image, s.sound) for s in first.shots]
    assert json.loads((tmp_path / "truth.json").read_text())["seed"] == 7
