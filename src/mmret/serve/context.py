"""What every route needs, built once per app: the live collection, the encoder, settings, jobs, metrics."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from ..api import Collection
from ..encoders.base import Encoder
from ..index.collection_base import CollectionBase
from ..index.values import Record
from ..pipeline import IndexReport
from .jobs import CountingStore, JobBoard, JobState
from .live import LiveCollection
from .metrics import Metrics
from .pictures import DecodeBudget
from .schemas import AddReport
from .settings import ServeSettings


@dataclass
class ServerContext:
    live: LiveCollection
    encoder: Encoder
    settings: ServeSettings
    roots: list[Path]
    jobs: JobBoard
    metrics: Metrics
    decodes: DecodeBudget  # decoded bytes of pictures, shared by all requests

    def get(self, item_id: str) -> Record | None:
        return self.live.read(lambda store: store.get(item_id))

    def add(self, sources: list[Path], sync: bool = False, job: JobState | None = None) -> AddReport:
        """Index files or folders through the writer handle, as `Collection.add` does for the API."""
        def index(store: CollectionBase) -> IndexReport:
            target = CountingStore(store, job) if job is not None else store
            # workers=0: no forked decoders inside a threaded server
            return Collection(target, self.encoder).add(sources, sync=sync, workers=0)

        report = self.live.write(index)
        return AddReport(added=report.added, updated=report.updated, unchanged=report.unchanged,
                         skipped=[f"{s.where}: {s.reason}" for s in report.skipped])


def context(request: Request) -> ServerContext:
    return request.app.state.context
