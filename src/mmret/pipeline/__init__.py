"""Indexing as reader -> mapper -> writer stages (reader.py, mapper.py, writer.py), run by `Ingest`."""
from .ingest import Ingest
from .report import IndexReport

__all__ = ["IndexReport", "Ingest"]
