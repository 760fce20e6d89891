"""Calibrating hybrid search on a collection (mmret.query.channel_calibration, `mmret calibrate --hybrid`): the
fitted settings are stored and read by every hybrid search, the recall it reports is the recall the real search
path then gives, and --clear, a missing file or a collection without its files are handled."""
from __future__ import annotations

import json

import pytest

from mmret import Collection
from mmret.cli import main
from mmret.index.collection import VectorCollection
from mmret.query.channel_fusion import ChannelFusion, stored_channel_fusion

CODES = [f"{letters}-{number}" for letters, number in zip(["QX", "BR", "TV", "KL"] * 10, range(4100, 4140))]


@pytest.fixture(scope="module")
def titled(data_dir, offline_encoder, tmp_path_factory):
    """20 text items (files) titled with caption 0 of flickr8k-500 photos and a product code; example queries:
    the code alone, the code with the first words of caption 1, and caption 2."""
    photos = json.loads((data_dir / "flickr8k-500" / "captions.json").read_text())[:20]
    root = tmp_path_factory.mktemp("hybrid")
    titles = [f"{p['captions'][0]} {code}" for p, code in zip(photos, CODES)]
    paths = [str(root / f"item{i}.txt") for i in range(len(titles))]
    coll = Collection.create_for_vectors(root / "c", offline_encoder.model_id, dict(offline_encoder.spaces))
    coll.add_vectors(offline_encoder.encode("text", titles), ids=paths,
                     metadata=[{"text": t, "path": p} for t, p in zip(titles, paths)], modality="text")
    examples = root / "examples.tsv"
    rows = [(q, path) for p, code, path in zip(photos, CODES, paths)
            for q in (code, " ".join(p["captions"][1].split()[:4]) + " " + code, p["captions"][2])]
    examples.write_text("".join(f"{q}\t{path}\n" for q, path in rows), encoding="utf-8")
    return root / "c", examples, rows


def test_cli_calibrates_stores_and_the_reported_recall_is_what_hybrid_search_gives(titled, offline_encoder, capsys):
    folder, examples, rows = titled
    assert main(["calibrate", "--collection", str(folder), "--hybrid", str(examples)]) == 0
    report = json.loads(capsys.readouterr().out)
    settings = stored_channel_fusion(VectorCollection.open(folder))
    assert settings.to_dict() == report["settings"] and report["examples"] == len(rows)
    coll = Collection.open(folder, offline_encoder)
    top = [coll.search(q, k=10, mode="hybrid")[0].record.path for q, _ in rows]
    assert report["calibrated"]["r@1"] == pytest.approx(sum(t == p for t, (_, p) in zip(top, rows)) / len(rows))
    assert report["calibrated"]["r@1"] >= max(report["semantic"]["r@1"], report["defaults"]["r@1"]) - 1 / len(rows)

    assert main(["calibrate", "--collection", str(folder), "--clear", "--hybrid"]) == 0
    assert stored_channel_fusion(VectorCollection.open(folder)) == ChannelFusion()


def test_cli_refuses_what_it_cannot_calibrate_with(titled, tmp_path, capsys):
    folder = titled[0]
    assert main(["calibrate", "--collection", str(folder), "--hybrid"]) == 2
    assert "--hybrid needs a file" in capsys.readouterr().err
    strangers = tmp_path / "strangers.tsv"
    strangers.write_text("a dog\tnowhere/a.jpg\na cat\tnowhere/b.jpg\n", encoding="utf-8")
    assert main(["calibrate", "--collection", str(folder), "--hybrid", str(strangers)]) == 2
    assert "2 example file(s) are not in" in capsys.readouterr().err
    assert main(["calibrate", "--collection", str(folder), "--hybrid", str(tmp_path / "none.tsv")]) != 0
    assert "none.tsv" in capsys.readouterr().err
