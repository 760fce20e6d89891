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
from ..query.stored_parts import stored_record
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

    def get(self, name: str) -> Record | None:
        """The item with id `name`, else the file at path `name` (as `Collection.get` finds it)."""
        return self.live.read(lambda store: stored_record(store, name))

    def add(self, sources: list[Path], sync: bool = False, job: JobState | None = None,
            shown: dict[str, str] | None = None) -> AddReport:
        """Index files or folders through the writer handle, as `Collection.add` does for the API; `shown`: the
        name a client knows a server path by (an upload by its field and file name), used in skip messages."""
        def index(store: CollectionBase) -> IndexReport:
            target = CountingStore(store, job) if job is not None else store
            # workers=0: no forked decoders inside a threaded server
            return Collection(target, self.encoder).add(sources, sync=sync, workers=0, within=self.roots)

        report = self.live.write(index)
        return AddReport(added=report.added, updated=report.updated, unchanged=report.unchanged,
                         skipped=[_told(str(s), shown or {}) for s in report.skipped])


def context(request: Request) -> ServerContext:
    return request.app.state.context


def _told(message: str, shown: dict[str, str]) -> str:
    for path, name in shown.items():
        message = message.replace(path, name)
    return message
