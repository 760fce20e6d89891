"""`mmret index --ray` on a real two-node Ray cluster (conftest.py) against the local path on real photos: the same
collection (ids, records, vectors), bad files reported as locally, a re-run that adds nothing, and a run during
which a worker process is killed that still ends complete, with no duplicates."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mmret.errors import Unavailable
from mmret.index.collection import VectorCollection

PHOTOS = 32
SHARD_SIZE = 4  # several shards per actor, so that a killed worker dies with work left
RUN_SECONDS = 300
# Both runs embed in the same precision (bf16 where the probe allows) and the same batches; the probe accepts bf16
# when it agrees with fp32 to cosine 0.99, so two runs of one model must agree far closer than that.
MIN_COSINE = 0.999


@pytest.fixture(scope="module")
def photos(data_dir, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for source in sorted((data_dir / "coco-mini" / "val2017").glob("*.jpg"))[:PHOTOS]:
        shutil.copy(source, folder / source.name)
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    return folder


@pytest.fixture(scope="module")
def local(photos, tmp_path_factory) -> Path:
    """The oracle: the same photos indexed in this machine's process, by the local path."""
    collection = tmp_path_factory.mktemp("local") / "photos"
    result = mmret("index", photos, "--collection", collection)
    assert result.returncode == 0, result.stderr
    return collection


def mmret(*args, env: dict[str, str] | None = None, wait: bool = True):
    command = [sys.executable, "-m", "mmret.cli", *map(str, args)]
    environment = os.environ | {"HF_HUB_OFFLINE": "1"} | (env or {})
    if wait:
        return subprocess.run(command, env=environment, capture_output=True, text=True,
                              timeout=RUN_SECONDS, check=False)
    return subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stored(path: Path) -> tuple[dict, dict[str, dict[str, np.ndarray]]]:
    """Records by id (the fields a re-run compares) and vectors by space and id."""
    with VectorCollection.open(path) as collection:
        records = {r.item_id: (r.modality, r.path, r.text, r.metadata, r.content_hash, r.size, r.mtime)
                   for r in collection.records()}
        vectors = {space: {r.item_id: v for batch, array in collection.stored_vectors(space)
                           for r, v in zip(batch, array)} for space in collection.spaces}
        counts = {space: collection.vector_count(space) for space in collection.spaces}
    assert counts == {space: len(by_id) for space, by_id in vectors.items()}  # one live vector per item, no more
    return records, vectors


def assert_same_collection(ray_path: Path, local_path: Path) -> None:
    ray_records, ray_vectors = stored(ray_path)
    local_records, local_vectors = stored(local_path)
    assert len(local_records) == PHOTOS and ray_records == local_records
    for space, by_id in local_vectors.items():
        assert ray_vectors[space].keys() == by_id.keys(), space
        cosines = [float(ray_vectors[space][i] @ by_id[i]) for i in by_id]
        assert min(cosines) >= MIN_COSINE, (space, min(cosines))


def test_a_ray_run_stores_what_the_local_path_stores_and_a_rerun_adds_nothing(ray_cluster, photos, local, tmp_path):
    collection = tmp_path / "photos"
    first = mmret("index", photos, "--collection", collection, "--ray", ray_cluster.address,
                  "--shard-size", SHARD_SIZE, env=ray_cluster.env)
    assert first.returncode == 0, first.stderr
    assert f"{PHOTOS} added, 0 updated, 0 unchanged, 0 removed, 1 skipped (1 not an image)" in first.stdout
    assert f"skipped {photos / 'broken.jpg'}: not an image" in first.stderr
    assert_same_collection(collection, local)
    assert not (collection / "ray-shards").exists()  # imported, then removed

    again = mmret("index", photos, "--collection", collection, "--ray", ray_cluster.address, env=ray_cluster.env)
    assert again.returncode == 0, again.stderr
    assert f"0 added, 0 updated, {PHOTOS} unchanged, 0 removed, 1 skipped" in again.stdout
    assert_same_collection(collection, local)


def test_a_killed_worker_leaves_the_collection_complete_without_duplicates(ray_cluster, photos, local, tmp_path):
    collection, shards = tmp_path / "photos", tmp_path / "shards"
    run = mmret("index", photos, "--collection", collection, "--ray", ray_cluster.address, "--shard-size",
                SHARD_SIZE, "--shards", shards, env=ray_cluster.env, wait=False)
    total = -(-(PHOTOS + 1) // SHARD_SIZE)
    victim = _actor_once_a_shard_is_written(ray_cluster, shards, run)
    written_at_kill = len(list(shards.glob("shard-*.parquet")))
    os.kill(victim, signal.SIGKILL)
    out, err = run.communicate(timeout=RUN_SECONDS)
    assert written_at_kill < total  # the worker died mid-run, with shards still to embed
    assert run.returncode == 0, err
    assert f"{PHOTOS} added, 0 updated, 0 unchanged, 0 removed, 1 skipped" in out  # each photo imported once
    assert_same_collection(collection, local)


def _actor_once_a_shard_is_written(cluster, shards: Path, run: subprocess.Popen) -> int:
    deadline = time.monotonic() + RUN_SECONDS
    while time.monotonic() < deadline:
        if run.poll() is not None:
            pytest.fail(f"the run ended before a worker could be killed: {run.communicate()[1][-2000:]}")
        actors = cluster.processes("ray::MapWorker")
        if actors and any(shards.glob("shard-*.parquet")):
            return actors[0]
        time.sleep(0.05)
    pytest.fail("no shard was written in time")


def test_a_shard_gives_back_the_mappers_batches_and_file_states(tmp_path):
    pytest.importorskip("pyarrow", reason="shards are Parquet files: pip install pyarrow")
    from mmret.data.items import Item
    from mmret.distributed.shards import read_shard, shard_table, write_shard
    from mmret.media.batches import EmbeddedBatch

    rng = np.random.default_rng(0)
    photos = [Item(f"/p/{i}.jpg", "image", f"/p/{i}.jpg", metadata={"folder": "p", "n": i}) for i in range(3)]
    notes = [Item("note", "text", text="a red car")]
    batches = [EmbeddedBatch("image", photos[:2], ["h0", "h1"], {"shared": rng.random((2, 4), dtype=np.float32),
                                                                  "image": rng.random((2, 6), dtype=np.float32)},
                             failures=[(photos[2], "not an image (unrecognised format)")]),
               EmbeddedBatch("text", notes, ["h2"], {"shared": rng.random((1, 4), dtype=np.float32)})]
    states = {"/p/0.jpg": (10, 1.5), "/p/1.jpg": (11, 2.25), "/p/2.jpg": (3, 4.0)}
    write_shard(tmp_path / "s.parquet", shard_table("k", batches, states, {"shared": 4, "image": 6}))
    back, back_states = read_shard(tmp_path / "s.parquet")
    assert back_states == states and [b.modality for b in back] == ["image", "text"]
    for got, want in zip(back, batches):
        assert (got.items, got.digests, got.failures) == (want.items, want.digests, want.failures)
        assert got.vectors.keys() == want.vectors.keys()
        assert all(np.array_equal(got.vectors[s], want.vectors[s]) for s in want.vectors)
    assert [p.name for p in tmp_path.iterdir()] == ["s.parquet"]  # no temporary file left


def test_ray_options_without_ray_and_an_address_where_nothing_listens_are_one_line_errors(photos, tmp_path):
    alone = mmret("index", photos, "--collection", tmp_path / "c", "--ray-actors", "2")
    assert alone.returncode == 2 and alone.stderr.strip() == "mmret: error: --ray-actors: only with --ray"
    nobody = mmret("index", photos, "--collection", tmp_path / "c", "--ray", "127.0.0.1:1")
    assert nobody.returncode == Unavailable.exit_code and "--ray 127.0.0.1:1: no Ray cluster answers there" in nobody.stderr
    assert not (tmp_path / "c").exists()  # refused before the collection was created
