"""Indexing on a Ray cluster (`mmret index SOURCES --collection C --ray [ADDRESS]`, `Collection.add(..., ray=...)`).

The reader stage runs on the driver, so files already stored and unchanged never reach the cluster. The changed
items are cut into shards of `shard_size` items (shards.py); those not already on disk become a Ray dataset,
mapped by a pool of ShardEmbedder actors (embedder.py: one model per actor, the local mapper). Each shard that
comes back is written as a Parquet file under its deterministic name; once every shard is on disk, the writer
stage imports them into the collection and the shard files are removed.

A dead worker's actor is restarted by Ray and its shard retried; a run that dies is resumed by running it again:
shards already written are not computed again, and items already imported are not listed again.
"""
from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ..data.items import Item
from ..data.loader import batched
from ..data.sources import Skipped
from ..errors import BadInput, MissingPackage, Unavailable
from ..index.backend import MILVUS_SCHEME
from ..pipeline import IndexReport, Ingest
from ..pipeline.writer import CollectionWriter, FileState
from .shards import SHARD_GLOB, file_states, item_row, read_shard, shard_key, shard_path

SHARD_FOLDER = "ray-shards"  # in the collection's folder (beside a Milvus Lite file) unless RaySettings.shard_dir


@dataclass
class RaySettings:
    address: str | None = None  # None: the local Ray (started if none runs); "host:port" or "ray://host:10001"
    actors: int | None = None  # embedding actors, one CPU and one model each; None: one per CPU of the cluster
    shard_size: int = 128  # items per shard: a task's work, and what a dead worker costs again
    shard_dir: Path | None = None  # where shards go until imported; None: COLLECTION/ray-shards (required with milvus://)
    gpus_per_actor: float = 0.0  # > 0: each actor asks Ray for this share of a GPU (0.25: four actors a GPU) and runs there


@dataclass
class RayIngest(Ingest):
    """`Ingest` with its mapper stage run by Ray actors and its writer stage importing the shards they produced."""

    ray: RaySettings = field(default_factory=RaySettings)
    precision: str = "auto"

    def map_and_write(self, items: list[Item], stored: set[str], report: IndexReport,
                      skip: Callable[[Skipped], None], states: Mapping[str, FileState] | None = None) -> None:
        directory = Path(self.ray.shard_dir).expanduser() if self.ray.shard_dir else _beside(self.collection.path)
        directory.mkdir(parents=True, exist_ok=True)
        states = file_states(items)  # its shards record their own; a file changed after a run died gets a new shard
        settings = f"{self.encoder.model_id} | {self.precision} | {self.timed.describe()} | {self.batch_size}"
        shards = {shard_key(chunk, states, settings): chunk for chunk in batched(items, self.ray.shard_size)}
        missing = {key: chunk for key, chunk in shards.items() if not shard_path(directory, key).exists()}
        if missing:
            with ray_connection(self.ray.address) as ray:
                self._embed(ray, missing, directory)
        paths = [shard_path(directory, key) for key in shards]
        writer = CollectionWriter(self.collection, report, skip, self.commit_every, self.commit_seconds)
        import_shards(writer, paths, stored)
        _remove_shards(directory)

    def _embed(self, ray, shards: dict[str, list[Item]], directory: Path) -> None:
        from .embedder import ShardEmbedder
        from .shards import write_shard

        actors = min(len(shards), self.ray.actors or _actors_that_fit(ray.cluster_resources(), self.ray.gpus_per_actor))
        gpus = {"num_gpus": self.ray.gpus_per_actor} if self.ray.gpus_per_actor else {}
        ray.data.DataContext.get_current().enable_progress_bars = False  # one bar, ours, in items
        rows = [{"shard": key, "items": [item_row(item) for item in chunk]} for key, chunk in shards.items()]
        dataset = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            ShardEmbedder, batch_size=1, batch_format="numpy", num_cpus=1, **gpus,
            compute=ray.data.ActorPoolStrategy(size=actors),
            fn_constructor_kwargs={"model_id": self.encoder.model_id, "precision": self.precision,
                                   "timed": self.timed, "batch_size": self.batch_size,
                                   "device": "cuda" if self.ray.gpus_per_actor else "cpu"})
        with tqdm(total=sum(map(len, shards.values())), unit="item", desc=f"embedding on Ray ({actors} actors)",
                  disable=not self.progress) as bar:
            for key, table in _whole_shards(dataset.iter_batches(batch_size=None, batch_format="pyarrow")):
                if key in shards and not shard_path(directory, key).exists():  # a retried task sends it again
                    write_shard(shard_path(directory, key), table)
                    bar.update(len(shards[key]))
        unfinished = [key for key in shards if not shard_path(directory, key).exists()]
        if unfinished:
            raise Unavailable(f"{directory}: the Ray run ended without {len(unfinished)} of its shards "
                              f"(first: {unfinished[0]}); run the same command again to finish them")


def _actors_that_fit(resources: dict, gpus_per_actor: float) -> int:
    """One actor per CPU of the cluster, or with GPUs as many as their shares fit."""
    if gpus_per_actor:
        return max(1, int(resources.get("GPU", 0) / gpus_per_actor))
    return max(1, int(resources.get("CPU", 1)))


def import_shards(writer: CollectionWriter, paths: list[Path], stored: set[str]) -> None:
    """Commit the shards' batches through the writer stage, with each file's state as it was read."""
    states: dict[str, FileState] = {}

    def batches():
        for path in paths:
            shard_batches, shard_states = read_shard(path)
            states.update(shard_states)  # read before the batches it belongs to are written
            yield from shard_batches

    writer.write(batches(), stored, states)


@contextmanager
def ray_connection(address: str | None) -> Iterator:
    """The `ray` module, connected to the cluster at `address` (None: the local one, started if none runs), with
    this mmret package shipped to the workers; a connection this function made is closed after."""
    try:
        import ray
        import ray.data
    except ImportError as error:
        raise MissingPackage(f"--ray needs Ray Data: pip install 'ray[data]' ({error})") from error
    if ray.is_initialized():  # the caller's connection
        yield ray
        return
    check_listening(address)
    try:
        ray.init(address=address, runtime_env=_runtime_env(), logging_level="WARNING")
    except ConnectionError as error:
        raise Unavailable(f"--ray {address or '(local)'}: {error}; a cluster with token authentication also "
                          "needs RAY_AUTH_MODE=token and its token here (docs/distributed.md)") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def check_listening(address: str | None) -> None:
    """A mistyped host:port fails here in seconds, not after Ray's minutes of retries."""
    host, _, port = (address or "").removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # None, "auto", "local": Ray's own look-up
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as error:
        raise Unavailable(f"--ray {address}: no Ray cluster answers there ({error})") from None


def _runtime_env() -> dict:
    """Workers import the driver's own mmret code, whether it is installed there or not (editable, or a tests'
    PYTHONPATH), so the mapper they run is the one this process runs."""
    import os

    import mmret

    env = {"py_modules": [str(Path(mmret.__file__).parent)], "excludes": ["__pycache__", "*.pyc"]}
    offline = {name: os.environ[name] for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE") if name in os.environ}
    return {**env, "env_vars": offline} if offline else env


def _whole_shards(tables) -> Iterator[tuple[str, object]]:
    """(shard key, table) once all of a shard's rows have arrived (Ray may split a large output block)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts: dict[str, list] = {}
    for table in tables:
        for key in dict.fromkeys(table.column("shard").to_pylist()):
            part = table.filter(pc.equal(table.column("shard"), key))
            parts.setdefault(key, []).append(part)
            whole = pa.concat_tables(parts[key])
            if whole.num_rows >= whole.column("shard_rows")[0].as_py():
                del parts[key]
                yield key, whole


def _beside(place: str | Path) -> Path:
    """The default shard folder: in a collection's folder, or beside a Milvus Lite file."""
    if _on_a_server(place):
        raise BadInput(f"{place}: a collection on a server keeps no shards beside it; give a folder (--shards DIR)")
    place = Path(place)
    return place / SHARD_FOLDER if place.is_dir() else place.with_name(f"{place.name}.{SHARD_FOLDER}")


def _on_a_server(place: str | Path) -> bool:
    return str(place).startswith(MILVUS_SCHEME)


def _remove_shards(directory: Path) -> None:
    for path in [*directory.glob(SHARD_GLOB), *directory.glob("shard-*.partial")]:
        path.unlink(missing_ok=True)
    if not any(directory.iterdir()):
        directory.rmdir()
