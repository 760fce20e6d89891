"""Audio files indexed as a file record plus timed segments (sound windows, speech), on real ESC-50 and FSDD
clips, through the public API: times, vectors against the sound tower itself, silence, re-index, remove, search."""
import shutil

import numpy as np
import pytest
import soundfile

from mmret import Collection
from mmret.data.audio import read_audio
from mmret.encoders.audio_tower import AudioTower, AudioTowerEncoder, TowerConfig
from mmret.encoders.base import SHARED
from mmret.encoders.composite import CompositeEncoder
from mmret.media.timed_settings import TimedSettings

RATE = 16_000


@pytest.fixture(scope="module")
def sound_encoder(offline_encoder):
    """The offline pack with an (untrained, seeded) audio tower as its sound path."""
    import torch

    torch.manual_seed(0)
    tower = AudioTowerEncoder(AudioTower(TowerConfig()), offline_encoder)
    return CompositeEncoder(offline_encoder, sound=tower, suffixes=["audio-tower:test"])


@pytest.fixture
def long_clip(tmp_path, data_dir):
    """20 s: two ESC-50 clips, 5 s of digital silence, a third clip."""
    names = sorted((data_dir / "esc50" / "audio").glob("*.flac"))[:3]
    parts = [read_audio(p, RATE).samples[: 5 * RATE] for p in names]
    samples = np.concatenate([parts[0], parts[1], np.zeros(5 * RATE, np.float32), parts[2]])
    path = tmp_path / "clips" / "long.flac"
    path.parent.mkdir()
    soundfile.write(path, samples, RATE)
    return path


def test_windows_are_timed_silence_skipped_and_vectors_match_the_tower(tmp_path, long_clip, sound_encoder):
    coll = Collection.open(tmp_path / "c", sound_encoder)
    report = coll.add([long_clip.parent], timed=TimedSettings(window=5.0))
    assert (report.added, report.skipped) == (1, [])
    segments = sorted(coll.store.find({"segment_of": str(long_clip)}), key=lambda r: r.metadata["start"])
    assert [(r.metadata["start"], r.metadata["end"]) for r in segments] == [(0, 5), (5, 10), (15, 20)]
    assert {r.metadata["segment"] for r in segments} == {"sound"}
    wave = read_audio(long_clip)
    for record in segments:
        start = int(record.metadata["start"] * RATE)
        own = sound_encoder.sound.encode("audio", [type(wave)(wave.samples[start:start + 5 * RATE], RATE)])[0]
        found = coll.store.search(SHARED, own[None], 1, where={"segment": "sound", "start": record.metadata["start"]})
        assert found[0][0].score == pytest.approx(1.0, abs=1e-4)


def test_hits_are_segments_and_the_file_record_has_no_vector(tmp_path, long_clip, sound_encoder):
    coll = Collection.open(tmp_path / "c", sound_encoder)
    coll.add([long_clip], timed=TimedSettings(window=5.0))
    assert coll.store.vector_count(SHARED) == 3 and len(coll) == 4
    hits = coll.search(audio=long_clip, k=5, per_file=False)
    assert len(hits) == 3 and all(h.record.metadata["segment_of"] == str(long_clip) for h in hits)
    assert len(coll.search(audio=long_clip, k=5)) == 1  # one hit per file by default


def test_changed_file_replaces_its_segments_and_remove_takes_them(tmp_path, long_clip, sound_encoder):
    coll = Collection.open(tmp_path / "c", sound_encoder)
    coll.add([long_clip.parent], timed=TimedSettings(window=5.0))
    assert len(coll) == 4
    samples, rate = soundfile.read(long_clip, dtype="float32")
    soundfile.write(long_clip, samples[: 8 * rate], rate)  # now 8 s: windows 0-5 and 5-8
    report = coll.add([long_clip.parent], timed=TimedSettings(window=5.0))
    assert (report.added, report.updated) == (0, 1)
    ends = sorted(r.metadata["end"] for r in coll.store.find({"segment_of": str(long_clip)}))
    assert ends == [5, 8] and len(coll) == 3
    assert coll.remove([str(long_clip)]) == 1 and len(coll) == 0


def test_silent_file_is_stored_without_vectors_and_not_decoded_again(tmp_path, sound_encoder):
    folder = tmp_path / "quiet"
    folder.mkdir()
    soundfile.write(folder / "silence.wav", np.zeros(RATE * 3, np.float32), RATE)
    coll = Collection.open(tmp_path / "c", sound_encoder)
    assert coll.add([folder]).added == 1
    assert coll.store.vector_count(SHARED) == 0
    assert coll.add([folder]).unchanged == 1


def test_bad_audio_is_skipped_and_named(tmp_path, long_clip, sound_encoder):
    (long_clip.parent / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    coll = Collection.open(tmp_path / "c", sound_encoder)
    report = coll.add([long_clip.parent], timed=TimedSettings(window=5.0))
    assert report.added == 1
    assert [s.where for s in report.skipped] == [str(long_clip.parent / "broken.wav")]


def test_speech_segments_find_what_was_said(tmp_path, data_dir, offline_encoder):
    from mmret.encoders.speech import SpeechEncoder

    folder = tmp_path / "digits"
    folder.mkdir()
    for name in ("7_jackson_0.wav", "3_george_1.wav", "9_lucas_2.wav"):
        shutil.copy(data_dir / "fsdd" / "recordings" / name, folder / name)
    speech = SpeechEncoder(offline_encoder)
    coll = Collection.open(tmp_path / "c", CompositeEncoder(offline_encoder, speech=speech, suffixes=["speech"]))
    coll.add([folder])
    top = coll.search(text="seven", k=3)
    assert top[0].record.path.endswith("7_jackson_0.wav")
    assert top[0].record.metadata["segment"] == "speech" and "seven" in top[0].record.text.lower()
    assert len({h.record.path for h in top}) == 3  # one hit per file


def test_sync_drops_a_vanished_file_with_its_segments(tmp_path, long_clip, sound_encoder):
    coll = Collection.open(tmp_path / "c", sound_encoder)
    coll.add([long_clip.parent], timed=TimedSettings(window=5.0))
    long_clip.unlink()
    report = coll.add([long_clip.parent], sync=True)
    assert len(coll) == 0 and report.removed == 1  # files are counted, not their segments


def test_changed_segment_settings_re_index_the_file(tmp_path, long_clip, sound_encoder):
    coll = Collection.open(tmp_path / "c", sound_encoder)
    coll.add([long_clip], timed=TimedSettings(window=5.0))
    assert coll.add([long_clip], timed=TimedSettings(window=5.0)).unchanged == 1
    report = coll.add([long_clip], timed=TimedSettings(window=10.0))
    assert (report.updated, report.unchanged) == (1, 0)
    ends = sorted(r.metadata["end"] for r in coll.store.find({"segment_of": str(long_clip)}))
    assert ends == [10, 20]  # 0-10 and 10-20 (the second window holds the silence and the last clip)
