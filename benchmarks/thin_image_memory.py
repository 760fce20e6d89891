"""Peak memory of preparing one thin image (1 pixel high, thousands wide) for the offline model.

Each case runs in a fresh child process that writes the PNG, prepares it through the loader
(`prepare_batch` with the offline ImagePreparer) and reports its own peak resident set size (ru_maxrss).
`--src` picks the source tree, so that a tree before a fix and one after can be measured side by side.

Usage: python benchmarks/thin_image_memory.py [--widths 5000 20000] [--src src]
Prints a table and writes benchmarks/out/thin_image_memory.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
CHILD = """
import resource, sys, time
from PIL import Image
from mmret.data.items import Item
from mmret.data.loader import prepare_batch
from mmret.encoders.offline import ImagePreparer
path = sys.argv[1]
Image.new("RGB", (int(sys.argv[2]), 1), (200, 30, 30)).save(path)
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
batch = prepare_batch([Item(path, "image", path)], ImagePreparer())
outcome = batch.failures[0][1] if batch.failures else "prepared"
print(time.perf_counter() - started, baseline, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, outcome, sep="\\t")
"""


def measure(width: int, src: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / f"thin-1x{width}.png"
        env = {**os.environ, "PYTHONPATH": str(src)}
        out = subprocess.run([sys.executable, "-c", CHILD, str(png), str(width)], capture_output=True, text=True,
                             env=env, check=True).stdout.strip().splitlines()[-1]
    seconds, baseline, peak, outcome = out.split("\t")
    return {"width": width, "seconds": float(seconds), "baseline_mib": int(baseline) / 1024,
            "peak_mib": int(peak) / 1024, "outcome": outcome}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--src", type=Path, default=ROOT / "src")
    args = parser.parse_args()
    rows = [measure(width, args.src.resolve()) for width in args.widths]
    print(f"source tree {args.src}")
    print(f"{'image':>9} {'prepare s':>10} {'before MiB':>11} {'peak MiB':>9}  outcome")
    for row in rows:
        print(f"{'1x' + str(row['width']):>9} {row['seconds']:>10.2f} {row['baseline_mib']:>11.0f} "
              f"{row['peak_mib']:>9.0f}  {row['outcome']}")
    OUT.mkdir(exist_ok=True)
    (OUT / "thin_image_memory.json").write_text(json.dumps({"src": str(args.src), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
