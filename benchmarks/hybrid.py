"""Hybrid search: fusion of a keyword list (an embedded collection's keyword index: SQLite FTS5, porter unicode61,
BM25) and a vector list (the default offline model) on three kinds of query, against semantic and keyword search
alone (issue 22). The items are imported with precomputed vectors into temporary collections.

Galleries (every item is searched; each channel's top 40, as a search for 10 results fetches):
- flickr8k-500 (500 items) and coco-mini (239): photo+title items, caption 0 the title, the item's vector the
  normalised mean of its photo and title vectors.
  (a) descriptive: the item's other captions as queries;
  (b) exact terms: each title gets a made-up term (a name, a place or a product code, drawn with a fixed seed),
      queried by that term alone and by the first words of caption 1 plus the term.
- caltech101 (--per-class photos of every class, copied into a temp folder as `<class>_<n>.jpg`): the file name's
  words are the item's only words (no text), its photo the vector. (c) file names: each class name is a query
  ("car side"); every photo of the class is relevant. Keyword precision is the share of keyword hits that are of the class.
The adaptive fusion (and the weighted baseline's weight) are tuned on flickr8k-500[300:400]'s queries of (a) and
(b) and reported on flickr8k-500[400:500], coco-mini and caltech101; rrf uses k=60. "shipped" is ChannelFusion's
defaults, what a search gets without `mmret calibrate --hybrid`.

Usage: python benchmarks/hybrid.py [--per-class 5] [--work DIR]
Prints a table and writes benchmarks/out/hybrid.json; embeddings are cached in benchmarks/out/hybrid_cache/.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

from mmret import Collection
from mmret.encoders.base import SHARED
from mmret.encoders.loader import load_encoder
from mmret.errors import BadInput
from mmret.query.channel_fusion import ChannelFusion
from mmret.query.channel_fusion_fit import (
    FusionExample,
    fit_channel_fusion,
    fusion_recall,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "out"
DEPTH = 40  # what a search for 10 results fetches from each channel before fusing (mmret.query.per_file)
TUNE, REPORT = slice(300, 400), slice(400, 500)
SYLLABLES = ["bra", "ken", "vol", "dri", "mar", "tes", "lun", "gor", "fa", "zel", "quin", "rho", "sab", "tor", "vic", "wen", "yar", "ost", "pel", "dun"]


class Embeddings:
    """The offline model's vectors of photos and texts, cached on disk by model id and key."""

    def __init__(self, folder: Path):
        self.encoder = load_encoder("offline")
        tag = hashlib.sha1(self.encoder.model_id.encode()).hexdigest()[:12]
        self.file = folder / f"{tag}.npz"
        stored = np.load(self.file) if self.file.exists() else {"keys": [], "vectors": []}
        self.cache = dict(zip(map(str, stored["keys"]), stored["vectors"]))

    def texts(self, texts: list[str]) -> np.ndarray:
        return self._vectors([f"text:{t}" for t in texts], lambda keys: self.encoder.encode("text", [k[5:] for k in keys]))

    def photos(self, paths: list[Path]) -> np.ndarray:
        def encode(keys):
            images = [Image.open(k[6:]).convert("RGB") for k in keys]
            return np.concatenate([self.encoder.encode("image", images[i:i + 32]) for i in range(0, len(images), 32)])
        return self._vectors([f"photo:{p}" for p in paths], encode)

    def _vectors(self, keys: list[str], encode) -> np.ndarray:
        missing = [k for k in dict.fromkeys(keys) if k not in self.cache]
        if missing:
            self.cache.update(zip(missing, encode(missing)))
            self.file.parent.mkdir(parents=True, exist_ok=True)
            np.savez(self.file, keys=np.array(list(self.cache)), vectors=np.stack(list(self.cache.values())))
        return np.stack([self.cache[k] for k in keys])


class Gallery:
    """Items with their words and vectors in an embedded collection (its keyword index and its vector search)."""

    def __init__(self, name: str, folder: Path, ids: list[str], texts: list[str | None], paths: list[str],
                 vectors: np.ndarray, model_id: str):
        self.name, self.ids = name, ids
        collection = Collection.create_for_vectors(folder, model_id, {SHARED: vectors.shape[1]})
        collection.add_vectors(vectors, ids=ids, metadata=[{"path": p} | ({"text": t} if t else {})
                                                           for t, p in zip(texts, paths)], modality="image")
        self.store = collection.store
        self.malformed = 0

    def word_hits(self, query: str) -> list[tuple[str, float]]:
        try:
            return [(hit.item_id, hit.score) for hit in self.store.keyword_search(query, DEPTH)]
        except BadInput:  # a caption the keyword syntax cannot read (an unbalanced quote): no word hits
            self.malformed += 1
            return []

    def vector_hits(self, query: np.ndarray) -> list[tuple[str, float]]:
        return [(hit.item_id, hit.score) for hit in self.store.search(SHARED, query[None, :], DEPTH)[0]]


def made_up_terms(count: int) -> list[str]:
    """Distinct made-up names, places and product codes, drawn with a fixed seed."""
    rng, terms = random.Random(22), []
    while len(terms) < count:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3))))
        kind = len(terms) % 3
        term = (word.capitalize() if kind == 0 else f"{word.capitalize()}{rng.choice(('vik', 'ford', 'heim'))}"
                if kind == 1 else f"{word[:2].upper()}-{rng.randint(1000, 9999)}")
        if term not in terms:
            terms.append(term)
    return terms


def caption_gallery(name: str, work: Path, embeddings: Embeddings,
                    terms: list[str] | None) -> tuple[Gallery, list[list[str]]]:
    records = json.loads((DATA / name / "captions.json").read_text())
    titles = [r["captions"][0] + (f" {terms[i]}" if terms else "") for i, r in enumerate(records)]
    paths = [DATA / name / r["image"] for r in records]
    mean = embeddings.photos(paths) + embeddings.texts(titles)
    vectors = mean / np.linalg.norm(mean, axis=1, keepdims=True)
    label = name + (" +terms" if terms else "")
    gallery = Gallery(label, work / label.replace(" +", "-"), [r["image"] for r in records], titles,
                      [str(p) for p in paths], vectors, embeddings.encoder.model_id)
    return gallery, [r["captions"] for r in records]


def file_name_gallery(work: Path, per_class: int, embeddings: Embeddings) -> tuple[Gallery, dict[str, set[str]]]:
    classes = sorted(p for p in (DATA / "caltech101" / "images").iterdir() if p.is_dir())
    photos = work / "photos"
    photos.mkdir()
    ids, sources, members = [], [], {}
    for folder in classes:
        for n, photo in enumerate(sorted(folder.glob("*.jpg"))[:per_class], start=1):
            copy = photos / f"{folder.name}_{n}.jpg"
            shutil.copyfile(photo, copy)
            ids.append(copy.name)
            sources.append(photo)
            members.setdefault(folder.name, set()).add(copy.name)
    gallery = Gallery("caltech101 file names", work / "caltech", ids, [None] * len(ids),
                      [str(photos / i) for i in ids], embeddings.photos(sources), embeddings.encoder.model_id)
    return gallery, members


def examples(gallery: Gallery, embeddings: Embeddings, queries: list[tuple[str, frozenset[str]]]) -> list:
    vectors = embeddings.texts([q for q, _ in queries])
    return [FusionExample(gallery.word_hits(q), gallery.vector_hits(v), relevant)
            for (q, relevant), v in zip(queries, vectors)]


def descriptive_queries(gallery: Gallery, captions: list[list[str]], part: slice) -> list:
    return [(c, frozenset({gallery.ids[i]})) for i in range(len(captions))[part] for c in captions[i][1:]]


def term_queries(gallery: Gallery, captions: list[list[str]], terms: list[str], part: slice) -> list:
    queries = []
    for i in range(len(captions))[part]:
        relevant = frozenset({gallery.ids[i]})
        queries += [(terms[i], relevant), (" ".join(captions[i][1].split()[:4]) + " " + terms[i], relevant)]
    return queries


def measure(rows: list, fused: dict[str, ChannelFusion], kind: str, gallery: Gallery, part: str, found: list,
            extra=None) -> None:
    row = {"kind": kind, "data": gallery.name, "split": part, "gallery": len(gallery.ids), "queries": len(found)}
    row["semantic"] = fusion_recall(ChannelFusion(), [FusionExample([], e.vector_hits, e.relevant) for e in found])
    row["keyword"] = fusion_recall(ChannelFusion(), [FusionExample(e.word_hits, [], e.relevant) for e in found])
    row.update({method: fusion_recall(settings, found) for method, settings in fused.items()})
    row.update(extra(found) if extra else {})
    rows.append(row)


def class_precision(found: list) -> dict:
    """Keyword mode: the share of each query's hits that are of its class, and of queries with only those."""
    shares = [np.mean([i in e.relevant for i, _ in e.word_hits]) if e.word_hits else 0.0 for e in found]
    return {"keyword precision": float(np.mean(shares)), "keyword only class": float(np.mean(np.equal(shares, 1.0)))}


def tune(found: list) -> dict[str, ChannelFusion]:
    adaptive, fitted = fit_channel_fusion(found)
    weights = {w: fusion_recall(ChannelFusion(method="weighted", word_weight=w), found)
               for w in np.round(np.linspace(0, 1, 21), 2)}
    best_weight = max(weights, key=lambda w: (weights[w]["r@1"], weights[w]["mrr"]))
    print(f"tuned on {fitted['examples']} queries: adaptive {adaptive.to_dict()} (R@1 {fitted['r@1']:.3f}, "
          f"{'equal to' if adaptive == ChannelFusion() else 'unlike'} ChannelFusion's defaults); "
          f"weighted word_weight {best_weight}")
    return {"rrf": ChannelFusion(method="rrf", rrf_k=60), "weighted": ChannelFusion(method="weighted",
                                                                                   word_weight=float(best_weight)),
            "adaptive": adaptive, "shipped": ChannelFusion()}


def table(rows: list) -> str:
    methods = ["semantic", "keyword", "rrf", "weighted", "adaptive", "shipped"]
    head = "| kind | data | split | gallery | queries | " + " | ".join(f"{m} R@1 / R@5" for m in methods) + " |"
    lines = [head, "|" + "---|" * (5 + len(methods))]
    for r in rows:
        cells = [f"{r[m]['r@1']:.3f} / {r[m]['r@5']:.3f}" for m in methods]
        lines.append(f"| {r['kind']} | {r['data']} | {r['split']} | {r['gallery']} | {r['queries']} | "
                     + " | ".join(cells) + " |")
    precision = [f"{r['data']}: keyword precision {r['keyword precision']:.3f}, queries whose keyword hits are only "
                 f"their class {r['keyword only class']:.3f}" for r in rows if "keyword precision" in r]
    return "\n".join(lines + precision)


def measure_all(work: Path, embeddings: Embeddings, per_class: int) -> tuple[list, dict, list[Gallery]]:
    flickr, flickr_captions = caption_gallery("flickr8k-500", work, embeddings, None)
    coco, coco_captions = caption_gallery("coco-mini", work, embeddings, None)
    flickr_terms, coco_terms = made_up_terms(len(flickr_captions)), made_up_terms(len(coco_captions))
    flickr_t, _ = caption_gallery("flickr8k-500", work, embeddings, flickr_terms)
    coco_t, _ = caption_gallery("coco-mini", work, embeddings, coco_terms)
    tune_set = (examples(flickr, embeddings, descriptive_queries(flickr, flickr_captions, TUNE))
                + examples(flickr_t, embeddings, term_queries(flickr_t, flickr_captions, flickr_terms, TUNE)))
    fused = tune(tune_set)
    rows, everything = [], slice(None)
    for kind, gallery, queries, part in [
            ("descriptive", flickr, descriptive_queries(flickr, flickr_captions, TUNE), "[300:400] tune"),
            ("descriptive", flickr, descriptive_queries(flickr, flickr_captions, REPORT), "[400:500]"),
            ("descriptive", coco, descriptive_queries(coco, coco_captions, everything), "all"),
            ("exact terms", flickr_t, term_queries(flickr_t, flickr_captions, flickr_terms, TUNE), "[300:400] tune"),
            ("exact terms", flickr_t, term_queries(flickr_t, flickr_captions, flickr_terms, REPORT), "[400:500]"),
            ("exact terms", coco_t, term_queries(coco_t, coco_captions, coco_terms, everything), "all")]:
        measure(rows, fused, kind, gallery, part, examples(gallery, embeddings, queries))
    files, members = file_name_gallery(work, per_class, embeddings)
    queries = [(name.replace("_", " "), frozenset(ids)) for name, ids in members.items()]
    measure(rows, fused, "file names", files, "all classes", examples(files, embeddings, queries), class_precision)
    return rows, fused, [flickr, coco, flickr_t, coco_t, files]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=5)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    embeddings = Embeddings(OUT / "hybrid_cache")
    with tempfile.TemporaryDirectory(dir=args.work) as work:
        rows, fused, galleries = measure_all(Path(work), embeddings, args.per_class)
    malformed = {g.name: g.malformed for g in galleries if g.malformed}
    print(table(rows))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT,
                            check=False).stdout
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "hybrid.json").write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "commit": commit.strip(),
        "machine": platform.platform(), "model": embeddings.encoder.model_id, "depth": DEPTH,
        "settings": {m: s.to_dict() for m, s in fused.items()}, "malformed keyword queries": malformed,
        "rows": rows}, indent=2))
    print(f"queries the keyword syntax could not read (no word hits): {malformed or 'none'}")


if __name__ == "__main__":
    main()
