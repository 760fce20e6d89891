"""`mmret embed`: vectors of files and texts, written to .npy or Parquet, with no collection."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import BadInput, MissingPackage
from .common import (
    check_exist,
    check_models,
    device_option,
    model_options,
    positive_int,
    print_skip,
)

EXAMPLES = """examples:
  mmret embed ~/Pictures/cat.jpg ~/Pictures/dog.jpg --out pets.npy       # pets.npy + pets.ids.json
  mmret embed --text "a red car" --text "a blue boat" --out texts.parquet  # id, modality, path, text, vector
  mmret embed manifest.csv --out vectors.parquet --model offline+speech"""


def add(commands) -> None:
    embed = commands.add_parser("embed", help="vectors of files and texts to .npy or Parquet (no collection needed)",
                                epilog=EXAMPLES)
    embed.add_argument("paths", nargs="*", metavar="PATH", help="folders, media files or manifests")
    embed.add_argument("--text", action="append", default=[], help="a text to embed (repeatable)")
    embed.add_argument("--out", required=True, metavar="FILE",
                       help="FILE.npy (ids in FILE.ids.json, same order) or FILE.parquet")
    embed.add_argument("--batch-size", type=positive_int, default=32, help="items embedded at once")
    model_options(embed)
    device_option(embed)
    embed.set_defaults(run=_embed)


def _embed(args) -> int:
    out = Path(args.out).expanduser()
    if out.suffix not in (".npy", ".parquet"):
        raise BadInput(f"--out {args.out}: expected a .npy or .parquet file")
    if not args.paths and not args.text:
        raise BadInput("embed needs files, folders, manifests or --text")
    check_exist(args.paths, "")
    check_models([args.model])
    rows, vectors = _embedded(args)
    if not rows:
        raise BadInput("nothing could be embedded")
    _write(out, rows, vectors)
    print(f"{out}: {len(rows)} vectors of {vectors.shape[1]} dimensions", file=sys.stderr)
    return 0


def _embedded(args):
    import numpy as np

    from ..data.items import Item
    from ..data.sources import iter_items
    from ..encoders.base import SHARED
    from ..media.batches import embed_items
    from ..models import load_encoder

    items = [Item(id=f"text:{i}", modality="text", text=text) for i, text in enumerate(args.text)]
    items += list(iter_items(args.paths, on_skip=print_skip))
    encoder = load_encoder(args.model, args.precision, args.device)
    rows, parts = [], []
    for batch in embed_items(encoder, items, args.batch_size, progress=True, total=len(items)):
        for item, reason in batch.failures:
            print(f"skipped {item.path or item.id}: {reason}", file=sys.stderr)
        if batch.items:
            rows += [{"id": i.id, "modality": i.modality, "path": i.path, "text": i.text} for i in batch.items]
            parts.append(batch.vectors[SHARED])
    return rows, (np.concatenate(parts) if parts else np.zeros((0, 0), np.float32))


def _write(out: Path, rows: list[dict], vectors) -> None:
    import numpy as np

    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        np.save(out, vectors)
        out.with_suffix(".ids.json").write_text(json.dumps([row["id"] for row in rows]) + "\n")
        return
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as error:
        raise MissingPackage("writing Parquet needs pyarrow: pip install pyarrow") from error
    columns = {name: [row[name] for row in rows] for name in ("id", "modality", "path", "text")}
    columns["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel(), pa.float32()), vectors.shape[1])
    pq.write_table(pa.table(columns), out)
