"""Near-duplicates (`Collection.duplicates`): precision and recall of the copy pairs found, and the time at 100k.

Photos: caltech101 (--classes classes drawn with a fixed seed, all their photos, to stay within ~10 minutes on two
cores), of which --copies photos get four generated copies each (resized to half, JPEG quality 60, cropped to 90%,
brightness +10%) and a mirrored one, all indexed with the offline model into a temp collection. The copied photos
are split in two halves: the vector threshold and the perceptual hash distance are tuned on the first (of the grid's
pairs whose pair precision there is >= 0.98, the one of highest recall) and precision and recall are measured on the
second with them; the vectors alone (no hash) are tuned and reported the same way beside them. A pair is a true copy
when both items come from the same photo; every other pair in a group (two different photos, of the same class or
not) is a false one. Mirrored copies are left out of those figures and reported on their own (the share of mirrored
copies grouped with their original). Then --vectors random unit vectors are imported (`add_vectors`), optimized,
and `duplicates` timed on them (--vectors 0 leaves that part out).

Usage: python benchmarks/duplicates.py [--classes 12] [--copies 300] [--vectors 100000] [--work DIR]
Prints a table and writes benchmarks/out/duplicates.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from mmret import Collection
from mmret.query.duplicates import find_duplicates
from mmret.query.perceptual_hash import PerceptualHashes

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "out"
GRID = [round(0.60 + 0.02 * i, 2) for i in range(20)]  # vector thresholds, alone
COMBINED = [(t, h) for t in (0.94, 0.96, 0.98) for h in (2, 4, 6, 8, 10, 12, 14, 16)]  # with hash distances
EDITS = {
    "half": lambda im: im.resize((max(1, im.width // 2), max(1, im.height // 2))),
    "q60": lambda im: im,  # saved at quality 60 below
    "crop90": lambda im: im.crop((im.width // 20, im.height // 20, im.width - im.width // 20,
                                  im.height - im.height // 20)),
    "bright10": lambda im: ImageEnhance.Brightness(im).enhance(1.1),
    "mirror": ImageOps.mirror,
}


def make_photos(folder: Path, classes: int, copies: int) -> dict[str, str]:
    """Copy the chosen classes' photos into `folder` with the edited copies; file name -> the photo it shows."""
    rng = random.Random(0)
    chosen = sorted(rng.sample(sorted(p for p in (DATA / "caltech101" / "images").iterdir() if p.is_dir()), classes))
    photos = sorted(f for c in chosen for f in c.glob("*.jpg"))
    copied = set(rng.sample(photos, min(copies, len(photos))))
    source = {}
    for photo in photos:
        name = f"{photo.parent.name}_{photo.stem}"
        image = Image.open(photo).convert("RGB")
        image.save(folder / f"{name}.jpg", quality=95)
        source[f"{name}.jpg"] = name
        for edit, make in EDITS.items() if photo in copied else ():
            make(image).save(folder / f"{name}__{edit}.jpg", quality=60 if edit == "q60" else 90)
            source[f"{name}__{edit}.jpg"] = name
    return source


def pair_scores(groups, source: dict[str, str], families: set[str]) -> dict:
    """Precision and recall of the pairs among items that are not mirrored copies, counting a found pair when
    either of its items belongs to `families` (the copied photos of this half)."""
    def counted(name):
        return "__mirror" not in name
    true = sum(len(list(combinations([n for n, s in source.items() if s == f and counted(n)], 2))) for f in families)
    found = right = 0
    for group in groups:
        names = [Path(c.record.path).name for c in group.copies if counted(Path(c.record.path).name)]
        for a, b in combinations(names, 2):
            if source[a] in families or source[b] in families:
                found += 1
                right += source[a] == source[b]
    group_of = {Path(c.record.path).name: number for number, g in enumerate(groups) for c in g.copies}
    mirrored = [f"{f}.jpg" in group_of and group_of.get(f"{f}__mirror.jpg") == group_of[f"{f}.jpg"]
                for f in families]
    return {"pairs found": found, "true pairs": true, "precision": right / found if found else 1.0,
            "recall": right / true if true else 1.0, "mirrored copies grouped": sum(mirrored) / len(mirrored)}


def time_at_scale(work: Path, count: int) -> dict:
    vectors = np.random.default_rng(0).standard_normal((count, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    collection = Collection.create_for_vectors(work / "random", "random-vectors", {"shared": 384})
    collection.add_vectors(vectors)
    started = time.perf_counter()
    report = collection.optimize()
    optimized = time.perf_counter() - started
    started = time.perf_counter()
    groups = collection.duplicates(space="shared")
    return {"vectors": count, "index": report["shared"].get("factory"), "optimize s": round(optimized, 1),
            "duplicates s": round(time.perf_counter() - started, 1), "groups": len(groups)}


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", type=int, default=12)
    parser.add_argument("--copies", type=int, default=300)
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="mmret-duplicates-"))
    (work / "photos").mkdir(parents=True, exist_ok=True)
    source = make_photos(work / "photos", args.classes, args.copies)
    collection = Collection.open(work / "collection", "offline")
    started = time.perf_counter()
    collection.add([work / "photos"])
    indexed = time.perf_counter() - started
    families = sorted({s for n, s in source.items() if "__" in n})
    tuning, held_out = set(families[0::2]), set(families[1::2])
    hashes = PerceptualHashes()  # computed once for every setting tried
    def found(threshold, distance):
        return find_duplicates(collection.store, threshold, hash_distance=distance, hashes=hashes)
    settings = [(t, None) for t in GRID] + COMBINED
    tuned = {s: pair_scores(found(*s), source, tuning) for s in settings}
    result = {"date": datetime.now(timezone.utc).date().isoformat(), "machine": machine(), "classes": args.classes,
              "photos": len(source), "copied photos": len(families), "index s": round(indexed, 1), "space": "image",
              "tuned on": f"the first half of the copied photos (every other one of {len(families)}, sorted)",
              "methods": {}}
    print(f"{'method':<14} {'split':<10} {'threshold':>9} {'hash bits':>9} {'pairs':>6} {'precision':>9} "
          f"{'recall':>7} {'mirrored':>8}")
    for method, candidates in (("vectors", settings[:len(GRID)]), ("vectors+pHash", COMBINED)):
        good = [s for s in candidates if tuned[s]["precision"] >= 0.98] or candidates
        best = max(good, key=lambda s: (tuned[s]["recall"], -s[0]))
        row = {"threshold": best[0], "hash distance": best[1], "tuning": tuned[best],
               "held out": pair_scores(found(*best), source, held_out)}
        result["methods"][method] = row
        for split in ("tuning", "held out"):
            r = row[split]
            print(f"{method:<14} {split:<10} {best[0]:>9} {best[1]!s:>9} {r['pairs found']:>6} "
                  f"{r['precision']:>9.3f} {r['recall']:>7.3f} {r['mirrored copies grouped']:>8.3f}")
    if args.vectors:
        result["at scale"] = time_at_scale(work, args.vectors)
        print("at scale:", result["at scale"])
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "duplicates.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
