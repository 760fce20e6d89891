"""Perceptual hashes for near-duplicates: the DCT is the orthonormal DCT-II, a half-size copy of a real photo hashes
within a few bits of it and another photo far from it, and find_duplicates joins close vectors whose photos hash
alike (and only those)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mmret.api import Collection
from mmret.query.duplicates import find_duplicates
from mmret.query.perceptual_hash import DCT, SIDE, PerceptualHashes, phash


def test_the_transform_is_the_orthonormal_dct():
    fft = pytest.importorskip("scipy.fft")
    grid = np.random.default_rng(0).standard_normal((SIDE, SIDE))
    assert np.allclose(DCT @ grid @ DCT.T, fft.dctn(grid, norm="ortho"))


@pytest.fixture
def photos(tmp_path, data_dir):
    folder = data_dir / "caltech101" / "images"
    ferry = Image.open(folder / "ferry" / "image_0041.jpg").convert("RGB")
    ferry.save(tmp_path / "ferry.jpg", quality=95)
    ferry.resize((ferry.width // 2, ferry.height // 2)).save(tmp_path / "ferry_half.jpg", quality=60)
    Image.open(folder / "ferry" / "image_0002.jpg").convert("RGB").save(tmp_path / "other_ferry.jpg")
    return tmp_path


def test_a_resized_copy_hashes_close_and_another_photo_far(photos):
    original, half, other = (phash(Image.open(photos / name)) for name in ("ferry.jpg", "ferry_half.jpg",
                                                                            "other_ferry.jpg"))
    assert (original != half).sum() <= 4
    assert (original != other).sum() > 12


def test_close_vectors_of_photos_that_hash_alike_are_grouped(photos):
    rng = np.random.default_rng(1)
    base = rng.standard_normal(8)
    vectors = [base, base + 0.6 * rng.standard_normal(8), base + 0.6 * rng.standard_normal(8)]
    vectors = np.stack([v / np.linalg.norm(v) for v in vectors]).astype(np.float32)
    similarity = vectors @ vectors.T
    assert 0.8 < similarity[0, 1] < 0.96 and 0.8 < similarity[0, 2] < 0.96  # compared, yet below the threshold
    collection = Collection.create_for_vectors(photos / "c", "some-model", {"image": 8})
    names = ["ferry.jpg", "ferry_half.jpg", "other_ferry.jpg"]
    collection.add_vectors(vectors, ids=names, metadata=[{"path": str(photos / n)} for n in names],
                           space="image", modality="image")
    assert find_duplicates(collection.store, 0.96, hash_distance=None) == []
    [group] = find_duplicates(collection.store, 0.96, hash_distance=10, hashes=PerceptualHashes())
    assert sorted(copy.record.item_id for copy in group.copies) == ["ferry.jpg", "ferry_half.jpg"]
