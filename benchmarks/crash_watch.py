"""The `watch` writer of crash_trials.py: `mmret watch` on a folder that a burst changes (copies in, renames,
deletions) while the watcher starts, catches up and rescans, SIGKILLed at a random moment of its measured run.

Each trial starts from the same folder and collection (the first half of the harness's photos, indexed). After the
kill, the collection must be sound (it opens, rows and vectors agree, each record exactly the oracle's for the
content at its path, before or after the burst) and hold every photo the burst left alone; then a restarted watcher
must converge to the folder: exactly its files, once each, each with the vectors of its content."""
from __future__ import annotations

import hashlib
import random
import shutil
import time
from pathlib import Path

import crash_trials as harness


def trials(setup, count: int, rng: random.Random) -> dict:
    base = _Base.prepare(setup)
    started = time.monotonic()
    problem = base.converges(base.fresh("calibrate"), base.burst)
    duration = time.monotonic() - started
    if problem:
        raise RuntimeError(f"watch: an uninterrupted run is wrong: {problem}")
    survived, failures = 0, []
    for trial in range(count):
        target = base.fresh(trial)
        process = base.start(target)
        base.burst()
        time.sleep(rng.uniform(0, duration))
        harness.kill_group(process)
        problem = harness.check(target, base.oracle(), base.untouched())
        problem = problem or base.converges(target, lambda: None)
        if problem:
            failures.append(f"trial {trial}: {problem}")
        else:
            survived += 1
        shutil.rmtree(target)
    return {"writer": "watch", "trials": count, "survived": survived, "reruns_checked": count,
            "run_seconds": round(duration, 2), "failures": failures}


class _Base:
    """The folder the trials watch (reset before each) and the collection of its first state."""

    def __init__(self, setup, folder: Path, start_files: list[Path], extra: list[Path], collection: Path):
        self.setup, self.folder, self.start_files, self.extra = setup, folder, start_files, extra
        self.collection = collection
        by_id = setup.oracle
        self.by_hash = {record.content_hash: by_id.vectors[item] for item, record in by_id.records.items()
                        if record.content_hash}

    @classmethod
    def prepare(cls, setup) -> _Base:
        images = sorted(setup.images.iterdir())
        half = len(images) // 2
        folder, collection = setup.work / "watched", setup.work / "watched-collection"
        base = cls(setup, folder, images[:half], images[half:], collection)
        base.reset()
        harness.finished("index", folder, "--collection", collection)
        return base

    def reset(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir()
        for image in self.start_files:
            shutil.copy(image, self.folder / image.name)

    def fresh(self, name) -> Path:
        self.reset()
        target = self.setup.work / f"watch-{name}"
        shutil.copytree(self.collection, target)
        return target

    def start(self, target: Path):
        return harness.mmret("watch", self.folder, "--collection", target, "--quiet", 0.5)

    def burst(self) -> None:
        """Copies in, renames and deletions: a quarter of the files each."""
        for image in self.extra[: len(self.extra) // 2]:
            shutil.copy(image, self.folder / image.name)
        start = sorted(self.folder / image.name for image in self.start_files)
        for path in start[::4]:
            path.rename(path.with_name(f"renamed-{path.name}"))
        for path in start[1::4]:
            path.unlink()

    def untouched(self) -> set[str]:
        """The files of the first state that the burst leaves where they were: they must never go."""
        start = sorted(self.folder / image.name for image in self.start_files)
        return {str(path.resolve()) for i, path in enumerate(start) if i % 4 > 1}

    def oracle(self) -> harness.Oracle:
        """Each path the folder had before or has after the burst, with the vectors of its content."""
        from mmret.index.collection import Record

        paths = {self.folder / image.name: image for image in self.start_files + self.extra}
        paths.update({path: path for path in self.folder.iterdir()})
        oracle = harness.Oracle()
        for path, content in paths.items():
            item = str(path.resolve())
            oracle.records[item] = Record(item, "image", item, None, {"folder": self.folder.name})
            oracle.vectors[item] = self.by_hash[hashlib.sha256(content.read_bytes()).hexdigest()]
        return oracle

    def converges(self, target: Path, burst) -> str | None:
        """Run a watcher through `burst` until the collection holds the folder's files; then check it exactly."""
        process = self.start(target)
        burst()
        expected = {str(path.resolve()) for path in self.folder.iterdir()}
        deadline = time.monotonic() + 300
        try:
            while harness.ids_of(target) != expected:
                if time.monotonic() > deadline or process.poll() is not None:
                    return f"not in step with the folder after {time.monotonic() - deadline + 300:.0f} s"
                time.sleep(0.2)
        finally:
            harness.kill_group(process)
        return harness.check(target, self.oracle(), expected, expected)
