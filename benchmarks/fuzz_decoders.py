"""A bounded fuzzing run of the decoders and manifest parsers (hypothesis): mutated real files and random bytes.

The contract under test: a decoder either returns or raises DecodeError naming the file; a manifest either
yields items and per-row skips or raises SourceError. Anything else (another exception type, a DecodeError
that does not name the file) is a finding. Findings are collected, not raised, so every case runs; each
distinct one is printed with a reproducing input size.

Usage: python benchmarks/fuzz_decoders.py [--cases 2000] [--seed 0] [--only image audio video csv jsonl]
Prints a table and writes benchmarks/out/fuzz_decoders.json.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from PIL import Image

from mmret.data.audio import open_audio
from mmret.data.decode import DecodeError, load_rgb, open_image
from mmret.data.sources import Skipped, SourceError, iter_items
from mmret.data.video import VideoSettings, iter_shots

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
WORK = Path(tempfile.mkdtemp(prefix="fuzz-"))


def image_seeds() -> list[bytes]:
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    frames = [photo, photo.rotate(90)]
    out = []
    for fmt, options in [("PNG", {}), ("JPEG", {}), ("GIF", {"save_all": True, "append_images": frames[1:]}),
                         ("WEBP", {}), ("BMP", {}), ("TIFF", {})]:
        buffer = io.BytesIO()
        photo.save(buffer, fmt, **options)
        out.append(buffer.getvalue())
    return out


def audio_seeds() -> list[bytes]:
    import soundfile

    t = np.arange(4000) / 8000
    wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    out = []
    for fmt in ("WAV", "FLAC", "OGG"):
        buffer = io.BytesIO()
        soundfile.write(buffer, wave, 8000, format=fmt)
        out.append(buffer.getvalue())
    return out


def video_seeds() -> list[bytes]:
    import av

    out = []
    for fmt in ("mp4", "matroska"):
        path = WORK / f"seed.{fmt}"
        with av.open(str(path), "w", format=fmt) as container:
            stream = container.add_stream("mpeg4", rate=12)
            stream.width = stream.height = 16
            stream.pix_fmt = "yuv420p"
            for i in range(6):
                frame = np.full((16, 16, 3), i * 40, np.uint8)
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            container.mux(stream.encode())
        out.append(path.read_bytes())
    return out


def mutated(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """A seed file with a few bytes overwritten, a slice inserted or removed, or cut short; or random bytes."""
    def apply(args) -> bytes:
        data, flips, cut, insert = args
        data = bytearray(data)
        for position, value in flips:
            data[position % len(data)] = value
        if insert:
            at, chunk = insert
            data[at % len(data):at % len(data)] = chunk
        return bytes(data[:cut] if cut is not None else data)

    edits = st.tuples(st.sampled_from(seeds), st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)),
                                                       max_size=12),
                      st.none() | st.integers(0, 1 << 14),
                      st.none() | st.tuples(st.integers(0, 1 << 20), st.binary(max_size=64)))
    return st.one_of(edits.map(apply), st.binary(max_size=4096))


def decode_image(data: bytes, where: str) -> None:
    load_rgb(open_image(data, where), where=where)


def decode_video(data: bytes, where: str) -> None:
    Path(where).write_bytes(data)
    for _ in iter_shots(where, VideoSettings(max_seconds=60, max_frames=500)):
        pass


def parse_manifest(data: bytes, where: str) -> None:
    Path(where).write_bytes(data)
    list(iter_items([where], on_skip=lambda skipped: _check_skip(skipped)))


def _check_skip(skipped: Skipped) -> None:
    if not isinstance(skipped.reason, str) or not skipped.reason:
        raise AssertionError(f"empty skip reason at {skipped.where}")


COLUMNS = ["path", "text", "id", "modality", "tag"]
VALUES = ["a.png", "sub/../a.png", "../x.png", "/nonexistent.png", "", "image", "text", "audio", "smell", "é",
          "\x00", '"', ",", "\n", "\ufeff", "1"]


def with_stray_bytes(text: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """The text as UTF-8, sometimes with a few random bytes inserted somewhere."""
    def insert(args) -> bytes:
        data, at, stray = args
        data = data.encode("utf-8", "surrogatepass")
        return data[:at] + stray + data[at:]
    return st.tuples(text, st.integers(0, 4096), st.binary(max_size=8)).map(insert)


def csv_texts() -> st.SearchStrategy[bytes]:
    """A header with a path or text column, then rows of plausible and hostile fields."""
    header = st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=5, unique=True).filter(
        lambda names: "path" in names or "text" in names)
    field = st.sampled_from(VALUES) | st.text(max_size=6)
    row = st.lists(field, max_size=6).map(",".join)
    return with_stray_bytes(st.tuples(header.map(",".join), st.lists(row, max_size=12)).map(
        lambda parts: "\n".join([parts[0], *parts[1]]) + "\n"))


def jsonl_texts() -> st.SearchStrategy[bytes]:
    """Lines that are JSON objects with manifest keys and odd values, JSON that is not an object, or junk."""
    value = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.sampled_from(VALUES)
                         | st.text(max_size=6), lambda inner: st.lists(inner, max_size=3), max_leaves=5)
    record = st.dictionaries(st.sampled_from(COLUMNS) | st.text(max_size=4), value, max_size=5).map(json.dumps)
    junk = st.sampled_from(["{", "[1, 2]", '"text"', "null", "{\"path\": ", ""]) | st.text(max_size=12)
    return with_stray_bytes(st.lists(record | junk, max_size=12).map(lambda lines: "\n".join(lines) + "\n"))


def fuzz(name: str, target: Callable[[bytes, str], None], inputs: st.SearchStrategy[bytes], cases: int,
         suffix: str, allowed: tuple[type[BaseException], ...], run_seed: int) -> dict:
    """Run `target` on `cases` inputs; count the cases and collect each distinct finding."""
    findings: Counter = Counter()
    examples: dict[str, bytes] = {}  # the smallest input of each finding
    outcomes: Counter = Counter()
    where = str(WORK / f"case{suffix}")

    @seed(run_seed)
    @settings(max_examples=cases, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(inputs)
    def run(data: bytes) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                target(data, where)
            outcomes["accepted"] += 1
        except allowed as err:
            outcomes["refused"] += 1
            if isinstance(err, DecodeError) and err.where != where:
                key = f"DecodeError names {err.where!r}, not the file"
                _note(findings, examples, key, data)
        except Exception as err:  # noqa: BLE001 -- the point of fuzzing: any other exception is a finding
            outcomes["other exception"] += 1
            _note(findings, examples, f"{type(err).__name__}: {str(err)[:120]}", data)

    started = time.perf_counter()
    run()
    seconds = round(time.perf_counter() - started, 1)
    kept = []
    for number, key in enumerate(findings):
        path = OUT / "fuzz_findings" / f"{name.split()[0].lower()}-{number}{suffix or '.bin'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(examples[key])
        kept.append({"error": key, "cases": findings[key], "input_bytes": len(examples[key]), "input": str(path)})
    return {"target": name, "cases": sum(outcomes.values()), **outcomes, "seconds": seconds, "findings": kept}


def _note(findings: Counter, examples: dict[str, bytes], key: str, data: bytes) -> None:
    findings[key] += 1
    if key not in examples or len(data) < len(examples[key]):
        examples[key] = data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000, help="inputs per target (video: a tenth)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="+", metavar="WORD", help="run only targets whose name starts with one of these")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    Image.new("RGB", (4, 4)).save(WORK / "a.png")  # what manifest rows may point at
    plans = [
        ("image (open_image + load_rgb)", decode_image, mutated(image_seeds()), args.cases, "", (DecodeError,)),
        ("audio (open_audio)", open_audio, mutated(audio_seeds()), args.cases, "", (DecodeError,)),
        ("video (iter_shots)", decode_video, mutated(video_seeds()), max(1, args.cases // 10), ".mkv",
         (DecodeError,)),
        ("CSV manifest (iter_items)", parse_manifest, csv_texts(), args.cases, ".csv", (SourceError,)),
        ("JSONL manifest (iter_items)", parse_manifest, jsonl_texts(), args.cases, ".jsonl", (SourceError,)),
    ]
    rows = [fuzz(name, target, inputs, cases, suffix, allowed, args.seed)
            for name, target, inputs, cases, suffix, allowed in plans
            if not args.only or name.lower().startswith(tuple(word.lower() for word in args.only))]
    print(f"{'target':<30} {'cases':>6} {'accepted':>9} {'refused':>8} {'seconds':>8} {'findings':>9}")
    for row in rows:
        print(f"{row['target']:<30} {row['cases']:>6} {row.get('accepted', 0):>9} {row.get('refused', 0):>8} "
              f"{row['seconds']:>8} {len(row['findings']):>9}")
        for finding in row["findings"]:
            print(f"    {finding['cases']:>5} x {finding['error']} (e.g. a {finding['input_bytes']}-byte input)")
    OUT.mkdir(exist_ok=True)
    (OUT / "fuzz_decoders.json").write_text(json.dumps({"seed": args.seed, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
