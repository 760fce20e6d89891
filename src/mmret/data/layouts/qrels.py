"""`qrels`: a user's own collection judged in TREC format.

- qrels: one judgement per line, `query_id iteration doc_id relevance` (whitespace-separated); a relevance of
  at least `min_relevance` (default 1) counts as relevant (grades are not used: metrics are binary).
- queries and documents listings: a `.tsv` of `id<TAB>text` lines (no header), or a `.csv`/`.jsonl` with an
  `id` (or BEIR's `_id`) and a `text` or a media `path` (relative to the listing's folder). One modality each.

Given a folder, the files are `qrels.txt` (or `qrels.tsv`, `qrels`), `queries.{tsv,jsonl,csv}` and
`documents.{tsv,jsonl,csv}` (or `docs.*`, `corpus.*`). Pools: "query" and "document"; one task, named by
their modalities ("text->text", "text->image"). A query without a relevant document is unanswerable; a
judged document missing from the listing is an error. `start`/`stop` slice the queries in listing order."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import BadInput
from ..items import Item
from ..sources import MEDIA_EXTENSIONS
from .base import RetrievalDataset, slice_text, sliced_name, task_between
from .files import check_files_exist, find_file, read_table

QRELS_NAMES = ("qrels.txt", "qrels.tsv", "qrels")
QUERY_NAMES = tuple(f"queries{suffix}" for suffix in (".tsv", ".jsonl", ".csv"))
DOCUMENT_NAMES = tuple(f"{stem}{suffix}" for stem in ("documents", "docs", "corpus")
                       for suffix in (".tsv", ".jsonl", ".csv"))


def qrels(path: str | Path, start: int = 0, stop: int | None = None, name: str | None = None,
          queries: str | Path | None = None, documents: str | Path | None = None,
          min_relevance: int = 1) -> RetrievalDataset:
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    qrels_file = find_file(path, QRELS_NAMES, "qrels file") if path.is_dir() else path
    query_items = read_listing(Path(queries) if queries else find_file(folder, QUERY_NAMES, "queries listing"))
    query_items = query_items[start:stop]
    if not query_items:
        raise BadInput(f"{folder}: no queries in the slice {slice_text(start, stop)}")
    document_file = Path(documents) if documents else find_file(folder, DOCUMENT_NAMES, "documents listing")
    document_items = read_listing(document_file)
    pools = {"query": query_items, "document": document_items}
    relevance = _relevance(qrels_file, query_items, document_items, min_relevance)
    return RetrievalDataset(name or sliced_name(folder.name, start, stop), pools,
                            (task_between("query", "document", relevance, pools),))


def read_listing(file: Path) -> list[Item]:
    """Items of a queries or documents listing (see the module doc), all of one modality."""
    rows = _tsv_rows(file) if file.suffix.lower() == ".tsv" else read_table(file)
    items = [_listed_item(file, number, row) for number, row in enumerate(rows, 1)]
    if not items:
        raise BadInput(f"{file}: lists no items")
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise BadInput(f"{file}: id {item.id} is listed more than once")
        seen.add(item.id)
    modalities = {item.modality for item in items}
    if len(modalities) > 1:
        raise BadInput(f"{file}: mixes modalities {sorted(modalities)}; list one modality per file")
    if items[0].modality != "text":
        check_files_exist(file, items)
    return items


def read_judgements(file: Path, min_relevance: int = 1) -> set[tuple[str, str]]:
    """(query id, document id) pairs judged relevant."""
    if not file.is_file():
        raise BadInput(f"{file}: no such qrels file")
    pairs = set()
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 4 or not fields[3].lstrip("-").isdigit():
            raise BadInput(f"{file}:{number}: expected 'query_id iteration doc_id relevance', got {line!r}")
        if int(fields[3]) >= min_relevance:
            pairs.add((fields[0], fields[2]))
    return pairs


def _relevance(file: Path, queries: list[Item], documents: list[Item], min_relevance: int) -> np.ndarray:
    judged = read_judgements(file, min_relevance)
    row = {item.id: i for i, item in enumerate(queries)}
    column = {item.id: j for j, item in enumerate(documents)}
    unknown = sorted({doc for _, doc in judged} - set(column))
    if unknown:
        raise BadInput(f"{file}: {len(unknown)} judged document(s) missing from the documents listing, "
                       f"first {unknown[0]}")
    relevance = np.zeros((len(queries), len(documents)), dtype=bool)
    for query, doc in judged:
        if query in row:
            relevance[row[query], column[doc]] = True
    return relevance


def _tsv_rows(file: Path) -> list[dict]:
    if not file.is_file():
        raise BadInput(f"{file}: no such listing")
    rows = []
    for number, line in enumerate(file.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        identifier, tab, text = line.partition("\t")
        if not tab:
            raise BadInput(f"{file}:{number}: expected 'id<TAB>text'")
        rows.append({"id": identifier, "text": text})
    return rows


def _listed_item(file: Path, number: int, row: dict) -> Item:
    identifier = row.get("id", row.get("_id"))
    if identifier in (None, ""):
        raise BadInput(f"{file}: item {number} has no id")
    metadata = {key: value for key, value in row.items() if key not in ("id", "_id", "text", "path")}
    if row.get("path"):
        suffix = Path(row["path"]).suffix.lower()
        if suffix not in MEDIA_EXTENSIONS:
            raise BadInput(f"{file}: item {identifier}: {row['path']} is not a supported media file")
        return Item(str(identifier), MEDIA_EXTENSIONS[suffix], path=str(file.parent / row["path"]), metadata=metadata)
    if not row.get("text"):
        raise BadInput(f"{file}: item {identifier} needs a text or a path")
    return Item(str(identifier), "text", text=str(row["text"]), metadata=metadata)
