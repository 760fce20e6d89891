"""Indexing progress (issue 10, defect 11): the bar knows its total (so it has an ETA), and a file skipped while
the bar runs is reported on a line of its own, not written into the bar."""
from __future__ import annotations

import re
import shutil

import numpy as np

from mmret.cli.common import print_skip
from mmret.demo.photos import package_data
from mmret.encoders.base import SHARED, Encoder
from mmret.index.collection import VectorCollection
from mmret.pipeline import Ingest


class MeanColour(Encoder):
    """Images by their mean colour: enough to index real files without loading a model."""

    def __init__(self):
        self.modalities, self.spaces, self.model_id = ("image",), {SHARED: 3}, "mean-colour-test"

    def preparer(self, modality):
        return _mean_colour

    def embed_prepared(self, modality, batch):
        vectors = np.asarray(batch, dtype=np.float32) + 1e-3
        return {SHARED: vectors / np.linalg.norm(vectors, axis=1, keepdims=True)}


def _mean_colour(image):
    return np.asarray(image.convert("RGB"), dtype=np.float32).mean((0, 1))


def test_index_bar_has_a_total_and_skips_are_lines_of_their_own(tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("chelsea.png", "coffee.png", "rocket.jpg"):
        shutil.copy(package_data("skimage", name), photos)
    (photos / "zz-broken.jpg").write_bytes((photos / "rocket.jpg").read_bytes()[:300])
    store = VectorCollection.create(tmp_path / "c", "mean-colour-test", {SHARED: 3})
    report = Ingest(store, MeanColour(), batch_size=1, workers=0, progress=True, on_skip=print_skip).run([photos])
    assert report.added == 3 and len(report.skipped) == 1
    lines = [line.strip() for line in re.split(r"[\r\n]", capsys.readouterr().err) if line.strip()]
    assert any(re.search(r"embedding: +100%.*\b4/4\b", line) for line in lines), lines
    assert [line for line in lines if "skipped" in line] == [
        line for line in lines if line.startswith(f"skipped {photos / 'zz-broken.jpg'}")]
