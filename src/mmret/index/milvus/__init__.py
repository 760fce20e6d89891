"""The Milvus backend: a collection on a Milvus server or cluster, or in a Milvus Lite file (see collection.py)."""

from mmret.index.milvus.collection import MilvusCollection

__all__ = ["MilvusCollection"]
