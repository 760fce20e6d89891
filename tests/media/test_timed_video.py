"""Videos indexed as shots with time ranges, on test videos built from real photos: the shots match the true
cuts, a shot's vector is the pooled keyframe vectors, and a query by a photo finds the moment it is shown."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av")

from mmret import Collection
from mmret.data.video import VideoSettings, iter_shots
from mmret.encoders.base import SHARED, l2_normalise
from mmret.encoders.pooling import AttentionPooling
from mmret.eval.video_set import build_video_set
from mmret.media.timed_settings import TimedSettings

FPS = 12


@pytest.fixture(scope="module")
def videos(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("videos")
    return build_video_set(out, data_dir / "flickr8k-500" / "captions.json", 2, seed=3, fps=FPS, size=(192, 144),
                           formats=("mp4", "webm"))


@pytest.fixture(scope="module")
def indexed(videos, offline_encoder, tmp_path_factory):
    coll = Collection.open(tmp_path_factory.mktemp("coll") / "c", offline_encoder)
    report = coll.add([v.path for v in videos])
    return coll, report


def shots_of(coll, video):
    return sorted(coll.store.find({"segment_of": video.path, "segment": "shot"}), key=lambda r: r.metadata["start"])


def test_each_true_shot_is_a_segment_with_its_time_range(indexed, videos):
    coll, report = indexed
    assert (report.added, report.skipped) == (2, [])
    for video in videos:
        found = shots_of(coll, video)
        assert len(found) == len(video.shots)
        for record, truth in zip(found, video.shots):
            assert record.metadata["start"] == pytest.approx(truth.start, abs=1.01 / FPS)
            assert record.metadata["end"] == pytest.approx(truth.end, abs=1.01 / FPS)
            assert record.path == video.path and record.modality == "video"


def test_a_photo_finds_the_shot_that_shows_it(indexed, videos):
    coll, _ = indexed
    for video in videos:
        for truth in video.shots:
            hit = coll.search(image=truth.image, k=1)[0]
            assert hit.record.path == video.path
            assert hit.record.metadata["start"] < truth.end and truth.start < hit.record.metadata["end"]


def test_shot_vectors_pool_their_keyframes(indexed, videos, offline_encoder):
    coll, _ = indexed
    video = videos[0]
    for shot in iter_shots(video.path, VideoSettings()):
        frames = offline_encoder.encode("image", shot.frames)
        pooled = l2_normalise(frames.mean(axis=0, keepdims=True))
        hit = coll.store.search(SHARED, pooled, 1, where={"segment": "shot", "path": video.path})[0][0]
        assert hit.score == pytest.approx(1.0, abs=1e-3)
        assert hit.record.metadata["start"] == pytest.approx(shot.start, abs=1e-3)


def test_attention_pooling_is_used_for_the_shared_space(videos, offline_encoder, tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    pooling = AttentionPooling(offline_encoder.spaces[SHARED])
    with torch.no_grad():
        pooling.score[-1].weight.normal_(0, 30.0)  # a pooling that differs from the mean
    no_cuts = {"cut_threshold": 1.0}  # one shot over several photos: keyframes that differ
    coll = Collection.open(tmp_path / "c", offline_encoder)
    coll.add([videos[0].path], timed=TimedSettings(pooling=pooling, video=no_cuts))
    shot = next(iter_shots(videos[0].path, VideoSettings(**no_cuts)))
    expected = pooling.pool(offline_encoder.encode("image", shot.frames))
    mean = l2_normalise(offline_encoder.encode("image", shot.frames).mean(axis=0, keepdims=True))[0]
    assert len(shot.frames) > 2 and float(expected @ mean) < 0.99
    hit = coll.store.search(SHARED, expected[None], 1, where={"segment": "shot"})[0][0]
    assert hit.score == pytest.approx(1.0, abs=1e-3) and hit.record.metadata["start"] == 0


def test_a_broken_video_is_skipped_and_the_rest_indexed(videos, offline_encoder, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(Path(videos[0].path).read_bytes()[:2000])
    coll = Collection.open(tmp_path / "c", offline_encoder)
    report = coll.add([broken, videos[1].path])
    assert report.added == 1 and [s.where for s in report.skipped] == [str(broken)]
    assert "video" in report.skipped[0].reason or "truncated" in report.skipped[0].reason
    assert np.isfinite(coll.search(text="a dog", k=1)[0].score)
