"""Background re-indexing with progress: one job at a time, on its own thread, through the writer handle."""
from __future__ import annotations

import itertools
import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.sources import MEDIA_EXTENSIONS
from ..index.collection_base import CollectionBase
from ..media.segments import SEGMENT_OF
from .schemas import AddReport, Job

MAX_COUNTED = 1_000_000  # files counted for the progress total; beyond, the total is left unknown
MAX_KEPT = 100  # finished jobs remembered


@dataclass
class JobState:
    id: str
    sources: list[Path]
    sync: bool = True
    state: str = "queued"
    files_total: int | None = None
    files_done: int = 0
    skipped: int = 0
    message: str | None = None
    report: AddReport | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def view(self) -> Job:
        with self.lock:
            return Job(id=self.id, state=self.state, sources=[str(s) for s in self.sources],
                       files_total=self.files_total, files_done=self.files_done, skipped=self.skipped,
                       message=self.message, report=self.report)


class JobBoard:
    def __init__(self, run: Callable[[JobState], AddReport]):
        """`run(job)` indexes the job's sources and returns the report."""
        self._run = run
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="mmret-job")
        self._jobs: dict[str, JobState] = {}
        self._lock = threading.Lock()

    def submit(self, sources: list[Path], sync: bool = True) -> JobState:
        job = JobState(uuid.uuid4().hex[:12], sources, sync)
        with self._lock:
            self._jobs[job.id] = job
            for old in list(self._jobs)[:-MAX_KEPT]:
                if self._jobs[old].state in ("done", "failed"):
                    del self._jobs[old]
        self._executor.submit(self._work, job)
        return job

    def get(self, job_id: str) -> JobState | None:
        with self._lock:
            return self._jobs.get(job_id)

    def all(self) -> list[JobState]:
        with self._lock:
            return list(self._jobs.values())

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _work(self, job: JobState) -> None:
        with job.lock:
            job.state = "running"
        try:
            job.files_total = count_media(job.sources)
            report = self._run(job)
        except Exception as error:  # noqa: BLE001 -- a failed job reports its reason; the server keeps serving
            with job.lock:
                job.state, job.message = "failed", f"{type(error).__name__}: {error}"
            return
        with job.lock:
            job.state, job.report = "done", report
            job.message = f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged"


class CountingStore:
    """Stands in for the writer's collection during a job: counts the files the indexer looks at."""

    def __init__(self, store: CollectionBase, job: JobState):
        self._store, self._job = store, job

    def get(self, item_id: str):
        record = self._store.get(item_id)
        if record is None or SEGMENT_OF not in record.metadata:
            with self._job.lock:
                self._job.files_done += 1
        return record

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def count_media(sources: list[Path]) -> int | None:
    counted = 0
    for source in sources:
        if source.is_file():
            counted += 1
            continue
        for _, _, files in itertools.islice(os.walk(source), MAX_COUNTED):
            counted += sum(Path(name).suffix.lower() in MEDIA_EXTENSIONS for name in files)
            if counted > MAX_COUNTED:
                return None
    return counted
