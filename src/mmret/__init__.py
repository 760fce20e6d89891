"""mmret: multimodal retrieval. Text, images, audio and video in one vector space, indexed and searched.

`Collection` and `load_encoder` are imported on first use, so that `import mmret.cli` (and `mmret --help`, or
an argument error) does not pay for torch and the models' libraries.
"""
from __future__ import annotations

__all__ = ["Collection", "QueryPart", "SearchParams", "load_encoder"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "Collection":
        from .api import Collection

        return Collection
    if name == "QueryPart":
        from .query.parts import QueryPart

        return QueryPart
    if name == "SearchParams":
        from .index.base import SearchParams

        return SearchParams
    if name == "load_encoder":
        from .models import load_encoder

        return load_encoder
    raise AttributeError(f"module 'mmret' has no attribute {name!r}")
