"""Attention pooling trained from a captioned-moments table of real test videos, saved and reported."""
import pytest

pytest.importorskip("av")

from mmret.encoders.pooling import AttentionPooling
from mmret.eval.video_set import build_video_set
from mmret.training.pooling_run import read_segments, train_pooling


@pytest.fixture(scope="module")
def table(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("videos")
    build_video_set(out, data_dir / "flickr8k-500" / "captions.json", 4, seed=11, fps=8, size=(128, 96),
                    formats=("mp4",))
    return out / "segments.csv"


def test_trains_saves_and_validates_on_held_out_videos(table, tmp_path, offline_encoder):
    moments, texts = read_segments(table)
    assert len(texts) == 5 * len(set(moments))
    report = train_pooling(table, tmp_path / "pool.pt", offline_encoder, epochs=5, holdout=0.5)
    loaded = AttentionPooling.load(tmp_path / "pool.pt")
    assert loaded.dim == offline_encoder.spaces["shared"]
    held = report["validation"]
    assert held["queries"] == 5 * held["moments"] and 0 < held["moments"] < len(set(moments))
    assert 0 <= held["attention R@1"] <= 1 and held["mean R@1"] > 1 / held["moments"]  # better than chance
    assert (tmp_path / "pool.json").is_file()


def test_bad_rows_name_the_line(tmp_path, table):
    bad = tmp_path / "bad.csv"
    bad.write_text("path,start,end,text\nnope.mp4,0,2,a dog\n")
    with pytest.raises(ValueError, match=r"bad.csv:2: no such video"):
        read_segments(bad)
    bad.write_text(f"path,start,end,text\n{table.parent / 'video_000.mp4'},3,1,a dog\n")
    with pytest.raises(ValueError, match=r"bad.csv:2: empty text or end <= start"):
        read_segments(bad)
    bad.write_text("path,text\nx.mp4,a dog\n")
    with pytest.raises(ValueError, match=r"bad.csv:2: needs path, start, end"):
        read_segments(bad)
