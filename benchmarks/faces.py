"""Faces (issue 29): identity retrieval and people grouping through the product, against dlib called directly.

Data: lfw-158 (158 people x 10 photos). The people sorted by name are split: the first --fit-people (80) fit the
grouping threshold (the best pairwise F1 among thresholds whose precision reaches 0.97, on dlib's descriptors with
the product's average linkage); the next --measured-people (30 by default, to bound the time on a shared 2-core
machine; 78 are left) are measured. In each photo the labelled person is the face nearest the
photo's centre (LFW photos are centred on their person); other faces are indexed and searched but never counted.

On the measured people, with the offline model:
- cost: the photos indexed without faces, then into another collection with --faces (add(faces=True)), in the
  same run: seconds per photo each way, faces per second, and the bytes per face (folder size difference);
- identity: every labelled face searches the collection through `search(face="photo#N")` (its own photo left out),
  files ranked by their closest face; R@1, R@5 and mAP over files of the same person, beside the same ranking from
  dlib's own detector and descriptor called here (the ceiling), and how often the two rankings are identical;
- people: the collection is indexed in two halves (photos 1-5, then 6-10 of each person) and `faces cluster` runs
  after each, so the second half joins people incrementally; pairwise precision, recall and F1 of the labelled
  faces at the default threshold, beside one-shot average linkage on dlib's descriptors at that threshold;
- video: a slideshow of one photo of each of --video-people people (2 s each, PyAV), indexed with faces; each
  person's other photo searches it; the right shot must come first.

Usage: python benchmarks/faces.py [--fit-people 80] [--measured-people 30] [--work DIR]
Prints tables and writes benchmarks/out/faces.json.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path

import numpy as np
from PIL import Image

from mmret import Collection
from mmret.media.face_segments import FACE_BOX, FACE_FRAME, PERSON, is_face
from mmret.media.segments import SEGMENT_OF
from mmret.people.actions import group_faces
from mmret.people.grouping import DEFAULT_THRESHOLD, average_linkage, distances

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data")).resolve() / "lfw-158"
OUT = ROOT / "benchmarks" / "out"
GRID = [round(0.40 + 0.025 * i, 3) for i in range(11)]  # 0.40 .. 0.65
MIN_PRECISION = 0.97
MIN_FACE = 40  # the product's default minimum face size: smaller faces are not candidates on either side


def dlib_faces(paths: list[Path]) -> list[list[tuple[tuple[int, int, int, int], np.ndarray]]]:
    """Every photo's faces (box, descriptor) from dlib itself: HOG detector (one upsampling), 5-point landmarks,
    ResNet descriptor; the ceiling the product is compared with."""
    import dlib

    models = Path(importlib.util.find_spec("face_recognition_models").submodule_search_locations[0]) / "models"
    detector = dlib.get_frontal_face_detector()
    landmarks = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    describe = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
    found = []
    for path in paths:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        found.append([((b.left(), b.top(), b.right(), b.bottom()),
                       np.asarray(describe.compute_face_descriptor(rgb, landmarks(rgb, b)), np.float32))
                      for b in detector(rgb, 1)])
    return found


def centre_index(boxes: list, size: tuple[int, int]) -> int | None:
    """The face nearest the picture's centre: the labelled person in an LFW photo."""
    if not boxes:
        return None
    centre = np.array(size) / 2
    return int(np.argmin([np.hypot((b[0] + b[2]) / 2 - centre[0], (b[1] + b[3]) / 2 - centre[1]) for b in boxes]))


def pair_scores(labels: list, truth: list[str]) -> dict:
    same_group = same_person = both = 0
    for (a, ta), (b, tb) in combinations(zip(labels, truth), 2):
        same_group += a == b
        same_person += ta == tb
        both += a == b and ta == tb
    precision, recall = both / max(same_group, 1), both / max(same_person, 1)
    return {"precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(2 * precision * recall / max(precision + recall, 1e-9), 4)}


def ranking_scores(rankings: list[list[str]], relevant: list[set[str]]) -> dict:
    r1 = r5 = ap_sum = 0.0
    for ranked, wanted in zip(rankings, relevant):
        hits = [name in wanted for name in ranked]
        r1 += any(hits[:1])
        r5 += any(hits[:5])
        found, precisions = 0, []
        for rank, hit in enumerate(hits, 1):
            if hit:
                found += 1
                precisions.append(found / rank)
        ap_sum += sum(precisions) / max(len(wanted), 1)
    n = max(len(rankings), 1)
    return {"R@1": round(r1 / n, 4), "R@5": round(r5 / n, 4), "mAP": round(ap_sum / n, 4), "queries": len(rankings)}


def fit_threshold(people: dict[str, list[Path]]) -> dict:
    paths = [p for photos in people.values() for p in photos]
    owner = [name for name, photos in people.items() for _ in photos]
    found = dlib_faces(paths)
    rows, truth = [], []
    for faces, path, name in zip(found, paths, owner):
        pick = centre_index([b for b, _ in faces], Image.open(path).size)
        if pick is not None:
            rows.append(faces[pick][1])
            truth.append(name)
    descriptors = np.stack(rows)
    grid = {t: pair_scores(average_linkage(descriptors, t), truth) for t in GRID}
    fitting = [t for t, s in grid.items() if s["precision"] >= MIN_PRECISION]
    best = max(fitting, key=lambda t: grid[t]["f1"]) if fitting else None
    return {"people": len(people), "faces": len(rows), "grid": {str(t): s for t, s in grid.items()}, "best": best}


def labelled_faces(collection: Collection) -> dict[str, tuple[str, int]]:
    """file id -> (its labelled face's segment id, its number in the photo)."""
    by_file: dict[str, list] = {}
    for record in collection.store.records():
        if is_face(record.metadata):
            by_file.setdefault(record.metadata[SEGMENT_OF], []).append(record)
    chosen = {}
    for file_id, faces in by_file.items():
        faces.sort(key=lambda r: int(r.item_id.rsplit("#face", 1)[1]))
        pick = centre_index([f.metadata[FACE_BOX] for f in faces], tuple(faces[0].metadata[FACE_FRAME]))
        chosen[file_id] = (faces[pick].item_id, pick + 1)
    return chosen


def timed_add(collection: Collection, paths: list[Path], **options) -> tuple[float, object]:
    started = time.perf_counter()
    report = collection.add(paths, workers=1, **options)
    return time.perf_counter() - started, report


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def measure(people: dict[str, list[Path]], work: Path, encoder) -> dict:
    person_of = {str(p): name for name, photos in people.items() for p in photos}
    paths = [Path(p) for p in person_of]
    first = [p for photos in people.values() for p in photos[:5]]
    second = [p for photos in people.values() for p in photos[5:]]
    plain = Collection.open(work / "plain", model=encoder)
    plain_s, _ = timed_add(plain, paths)
    faces = Collection.open(work / "faces", model=encoder)
    first_s, first_report = timed_add(faces, first, faces=True)
    grouped_first = group_faces(faces.store)
    second_s, second_report = timed_add(faces, second)  # faces remembered by the collection
    grouped_second = group_faces(faces.store)
    face_count = first_report.faces + second_report.faces
    cost = {"photos": len(paths), "without faces s/photo": round(plain_s / len(paths), 4),
            "with faces s/photo": round((first_s + second_s) / len(paths), 4),
            "faces": face_count, "faces/s": round(face_count / (first_s + second_s), 2),
            "bytes/face": round((folder_bytes(work / "faces") - folder_bytes(work / "plain")) / face_count),
            "too small": first_report.faces_too_small + second_report.faces_too_small}

    chosen = labelled_faces(faces)
    files_with_faces = set(chosen)
    queries, product_rankings = [], []
    for path in paths:
        if str(path) not in chosen:
            continue
        hits = faces.search(face=f"{path}#{chosen[str(path)][1]}", k=len(paths), exclude=[str(path)])
        queries.append(path)
        product_rankings.append([h.record.metadata[SEGMENT_OF] for h in hits])
    relevant = [{str(p) for p in people[person_of[str(q)]] if p != q} for q in queries]
    product = ranking_scores(product_rankings, relevant)

    found = dlib_faces(paths)
    dlib_rows = {str(p): f for p, f in zip(paths, found)}
    dlib_label = {str(p): centre_index([b for b, _ in f], Image.open(p).size) for p, f in dlib_rows.items()}
    dlib_queries = [p for p in paths if dlib_label[str(p)] is not None]
    all_faces = [(str(p), d) for p in paths for box, d in dlib_rows[str(p)]  # the product's 40-px minimum
                 if min(box[2] - box[0], box[3] - box[1]) >= MIN_FACE]
    owners = [o for o, _ in all_faces]
    matrix = np.stack([d for _, d in all_faces])
    dlib_rankings = []
    for query in dlib_queries:
        descriptor = dlib_rows[str(query)][dlib_label[str(query)]][1]
        near = distances(descriptor[None, :], matrix)[0]
        best: dict[str, float] = {}
        for owner, d in zip(owners, near):
            if owner != str(query):
                best[owner] = min(best.get(owner, np.inf), d)
        dlib_rankings.append(sorted(best, key=best.get))
    dlib = ranking_scores(dlib_rankings, [{str(p) for p in people[person_of[str(q)]] if p != q} for q in dlib_queries])
    same = sum(a == b for q, a in zip(queries, product_rankings)
               for p, b in zip(dlib_queries, dlib_rankings) if p == q)

    labelled = [faces.store.get(chosen[f][0]) for f in chosen]
    product_people = pair_scores([r.metadata[PERSON] for r in labelled], [person_of[r.path] for r in labelled])
    dlib_labelled = [(dlib_rows[str(p)][dlib_label[str(p)]][1], person_of[str(p)]) for p in dlib_queries]
    one_shot = pair_scores(average_linkage(np.stack([d for d, _ in dlib_labelled]), DEFAULT_THRESHOLD),
                           [t for _, t in dlib_labelled])
    return {"cost": cost,
            "detection": {"product": round(len(files_with_faces) / len(paths), 4),
                          "dlib": round(len(dlib_queries) / len(paths), 4)},
            "identity": {"product": product, "dlib": dlib, "identical rankings": same},
            "people": {"threshold": DEFAULT_THRESHOLD, "product (incremental)": product_people,
                       "dlib one-shot": one_shot,
                       "runs": [vars(grouped_first), vars(grouped_second)]}}


def video_check(people: dict[str, list[Path]], work: Path, encoder, count: int) -> dict:
    import av

    chosen = list(people)[:count]
    video = work / "slideshow.mp4"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 250, 250, "yuv420p"
        for name in chosen:
            picture = np.asarray(Image.open(people[name][0]).convert("RGB").resize((250, 250)))
            for _ in range(20):  # 2 s at 10 frames per second
                container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode())
    collection = Collection.open(work / "video", model=encoder)
    collection.add([video], faces=True, workers=1)
    right = 0
    for slot, name in enumerate(chosen):
        hits = collection.search(face=people[name][1], k=1, per_file=False)
        start = hits[0].record.metadata.get("start") if hits else None
        right += start is not None and 2 * slot - 0.5 <= start < 2 * slot + 1.5
    shots = sum(r.metadata.get("segment") == "shot" for r in collection.store.records())
    return {"people": count, "shots": shots, "right shot first": right}


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fit-people", type=int, default=80)
    parser.add_argument("--measured-people", type=int, default=30,
                        help="how many of the people after the fitting ones are measured (all: 78)")
    parser.add_argument("--video-people", type=int, default=8)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    listing = json.loads((DATA / "people.json").read_text())
    people = {name: [DATA / p for p in listing[name]] for name in sorted(listing)}
    names = list(people)
    fit = {n: people[n] for n in names[:args.fit_people]}
    held_out = {n: people[n] for n in names[args.fit_people:args.fit_people + args.measured_people]}
    started = time.perf_counter()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT,
                            check=False).stdout.strip()  # the tree measured, before anything is committed meanwhile
    fitted = fit_threshold(fit)
    print(f"fit ({fitted['people']} people, {fitted['faces']} labelled faces): best threshold {fitted['best']} "
          f"(code default {DEFAULT_THRESHOLD})")
    for threshold, scores in fitted["grid"].items():
        print(f"  {threshold:>6}  P {scores['precision']:.3f}  R {scores['recall']:.3f}  F1 {scores['f1']:.3f}")
    from mmret.models import load_encoder

    encoder = load_encoder("offline")
    with tempfile.TemporaryDirectory(dir=args.work) as temp:
        measured = measure(held_out, Path(temp), encoder)
        video = video_check(held_out, Path(temp), encoder, args.video_people)
    result = {"date": datetime.now(timezone.utc).isoformat(timespec="minutes"), "machine": machine(),
              "commit": commit,
              "split": {"fit people": len(fit), "measured people": len(held_out),
                        "measured photos (gallery)": sum(len(v) for v in held_out.values())},
              "fit": fitted, **measured, "video": video, "seconds": round(time.perf_counter() - started, 1)}
    print_tables(result)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "faces.json").write_text(json.dumps(result, indent=2))


def print_tables(result: dict) -> None:
    print(f"\nmeasured: {result['split']}")
    print(f"detection rate: product {result['detection']['product']}, dlib {result['detection']['dlib']}")
    print(f"{'identity':<10} {'R@1':>6} {'R@5':>6} {'mAP':>6} {'queries':>8}")
    for who in ("product", "dlib"):
        s = result["identity"][who]
        print(f"{who:<10} {s['R@1']:>6.3f} {s['R@5']:>6.3f} {s['mAP']:>6.3f} {s['queries']:>8}")
    print(f"identical rankings (product vs dlib): {result['identity']['identical rankings']}")
    print(f"{'people':<22} {'P':>6} {'R':>6} {'F1':>6}   threshold {result['people']['threshold']}")
    for who in ("product (incremental)", "dlib one-shot"):
        s = result["people"][who]
        print(f"{who:<22} {s['precision']:>6.3f} {s['recall']:>6.3f} {s['f1']:>6.3f}")
    print(f"cost: {result['cost']}")
    print(f"video: {result['video']}")


if __name__ == "__main__":
    main()
