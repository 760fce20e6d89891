"""The `--ray` options of `mmret index`: the same indexing, with decoding and embedding on a Ray cluster."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import BadInput
from .common import positive_float, positive_int

LOCAL = "local"


def ray_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("on a Ray cluster (docs/distributed.md)")
    group.add_argument("--ray", nargs="?", const=LOCAL, default=None, metavar="ADDRESS",
                       help="embed on Ray: alone, the local Ray (started if none runs); or a cluster's host:port "
                            "or ray://host:10001 (default: no Ray, embed in this process)")
    group.add_argument("--ray-actors", type=positive_int, default=None, metavar="N",
                       help="embedding actors, one CPU and one model each (default: one per CPU of the cluster)")
    group.add_argument("--ray-gpus-per-actor", type=positive_float, default=None, metavar="G",
                       help="each embedding actor takes this share of a GPU and embeds on it (0.5: two actors a GPU; "
                            "default: actors use CPUs only)")
    group.add_argument("--shard-size", type=positive_int, default=128, metavar="N",
                       help="items per Parquet shard, the unit of work a dead worker costs again (default: 128)")
    group.add_argument("--shards", metavar="DIR",
                       help="where this process keeps the shards until they are imported; needed for a milvus:// "
                            "collection (default: COLLECTION/ray-shards, or beside a Milvus Lite NAME.db)")


def ray_settings(args: argparse.Namespace):
    """RaySettings from the options, or None without --ray."""
    if args.ray is None:
        for flag, value in (("--ray-actors", args.ray_actors), ("--shards", args.shards),
                            ("--ray-gpus-per-actor", args.ray_gpus_per_actor)):
            if value is not None:
                raise BadInput(f"{flag}: only with --ray")
        return None
    from ..distributed import RaySettings
    from ..distributed.ray_pipeline import check_listening

    address = None if args.ray == LOCAL else args.ray
    check_listening(address)  # before a model loads or the collection is created
    return RaySettings(address=address, actors=args.ray_actors,
                       shard_size=args.shard_size, shard_dir=Path(args.shards) if args.shards else None,
                       gpus_per_actor=args.ray_gpus_per_actor or 0.0)
