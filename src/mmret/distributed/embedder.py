"""The Ray actor of a distributed indexing run: one model per actor, built from the collection's model id, mapping
whole shards of items to shard tables with the mapper stage the local path runs (pipeline/mapper.py)."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..encoders.model_id import ModelId
from ..errors import Conflict
from ..media.timed_settings import TimedSettings
from ..models import load_encoder
from ..pipeline.mapper import embed_stream
from .shards import file_states, row_item, shard_table


class ShardEmbedder:
    """The callable class of `map_batches`: each input row is one shard (its key and its items as JSON), each
    output table that shard's rows. Files are decoded in the actor's own process, batch by batch."""

    def __init__(self, model_id: str, precision: str, timed: TimedSettings, batch_size: int, device: str = "cpu"):
        self.encoder = load_encoder(model_id, precision, device)  # Ray shows a GPU actor its GPU as cuda:0
        if not ModelId.parse(model_id).same_weights(ModelId.parse(self.encoder.model_id)):
            raise Conflict(f"model {model_id!r} loaded as {self.encoder.model_id!r} on this Ray worker")
        self.timed, self.batch_size = timed, batch_size

    def __call__(self, shards: dict[str, np.ndarray]) -> pa.Table:
        tables = []
        for key, items_json in zip(shards["shard"], shards["items"]):
            items = [row_item(text) for text in items_json]
            states = file_states(items)  # before reading: a file changed meanwhile is embedded again next run
            batches = embed_stream(self.encoder, items, self.timed, self.batch_size, workers=0, progress=False)
            tables.append(shard_table(str(key), batches, states, self.encoder.spaces))
        return pa.concat_tables(tables)

