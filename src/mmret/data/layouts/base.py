"""What every layout produces: a RetrievalDataset, named pools of items and the retrieval tasks between them.

A pool holds items of one modality ("image", "text", "audio" for the built-in layouts; "query" and "document"
for a qrels collection). A task ranks one pool's items (the candidates) for each item of another pool, or of
the same pool (then the query itself is left out of its own results); it is named by the modalities,
"text->image", and carries its boolean relevance matrix (queries x candidates).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ...errors import BadInput
from ..items import Item

TEXT_TO_IMAGE = "text->image"
IMAGE_TO_TEXT = "image->text"
IMAGE_TO_IMAGE = "image->image"
TEXT_TO_AUDIO = "text->audio"
AUDIO_TO_AUDIO = "audio->audio"


@dataclass(frozen=True)
class Task:
    name: str
    queries: str  # pool name
    candidates: str  # pool name
    relevance: np.ndarray  # (len(queries pool), len(candidates pool)) bool

    @property
    def excludes_self(self) -> bool:
        """Queries come from the candidates' own pool: each query is left out of its own results."""
        return self.queries == self.candidates


@dataclass(frozen=True)
class RetrievalDataset:
    name: str
    pools: Mapping[str, list[Item]]
    task_list: tuple[Task, ...]

    def __post_init__(self) -> None:
        for pool, items in self.pools.items():
            kinds = {item.modality for item in items}
            if len(kinds) > 1:
                raise BadInput(f"dataset {self.name}: pool {pool!r} mixes modalities {sorted(kinds)}")
        names = [task.name for task in self.task_list]
        if len(set(names)) != len(names):
            raise BadInput(f"dataset {self.name}: task names repeat: {names}")
        for task in self.task_list:
            shape = (len(self.pools[task.queries]), len(self.pools[task.candidates]))
            if task.relevance.shape != shape or task.relevance.dtype != bool:
                raise BadInput(f"dataset {self.name}: task {task.name} relevance must be bool {shape}, "
                               f"got {task.relevance.dtype} {task.relevance.shape}")

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(task.name for task in self.task_list)

    def task(self, name: str) -> Task:
        for task in self.task_list:
            if task.name == name:
                return task
        raise BadInput(f"dataset {self.name} has no task {name!r}; it has {self.tasks}")

    def relevance(self, task: str) -> np.ndarray:
        """(n_queries, n_candidates) bool relevance of a task such as "text->image"."""
        return self.task(task).relevance

    def modality(self, pool: str) -> str:
        return pool_modality(self.pools, pool)

    @property
    def images(self) -> list[Item]:
        return self.pools.get("image", [])

    @property
    def texts(self) -> list[Item]:
        return self.pools.get("text", [])

    @property
    def text_image(self) -> np.ndarray:
        """(n_texts, n_images) bool: text i describes image j (one of its captions, or its class)."""
        return self.relevance(TEXT_TO_IMAGE)

    @property
    def image_image(self) -> np.ndarray | None:
        """(n_images, n_images) bool, self-pairs included; None when the dataset has no image->image task."""
        return self.relevance(IMAGE_TO_IMAGE) if IMAGE_TO_IMAGE in self.tasks else None


def task_between(queries: str, candidates: str, relevance: np.ndarray, pools: Mapping[str, Sequence[Item]]) -> Task:
    """A task named by its pools' modalities."""
    name = f"{pool_modality(pools, queries)}->{pool_modality(pools, candidates)}"
    return Task(name, queries, candidates, np.asarray(relevance, dtype=bool))


def sliced_name(name: str, start: int, stop: int | None) -> str:
    return name if start == 0 and stop is None else name + slice_text(start, stop)


def slice_text(start: int, stop: int | None) -> str:
    return f"[{start}:{'' if stop is None else stop}]"


def pool_modality(pools: Mapping[str, Sequence[Item]], pool: str) -> str:
    """The modality of a pool's items (an empty pool: its name)."""
    items = pools[pool]
    return items[0].modality if items else pool
