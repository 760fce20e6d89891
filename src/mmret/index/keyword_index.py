"""The keyword index of the embedded collection: an FTS5 table `words` in the collection's SQLite file, one row per
item (its rowid is the item's id), written by the same transaction as the item rows (store.py `apply`).

Columns: the item's text (title, caption, transcript, OCR text), its file name and folder split into words, the
values of the metadata fields named at index time (meta `words_from`), and the subwords of Chinese/Japanese text
and the camelCase and letter/digit parts of file names (words.py). Meta `words_generation` is the generation the words were last written at: a collection committed
since by an mmret that did not know of the table has words out of step, which the next commit rebuilds whole.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Iterator

from mmret.index.keyword_query import KeywordQuery
from mmret.index.values import Snippet
from mmret.index.words import TOKENIZER, UNSPACED_CHAR, name_words, segmented, subwords

WORDS_TABLE = "words"
COLUMNS = ("text", "name", "folder", "fields", "subwords")
WORDS_SCHEMA = f"CREATE VIRTUAL TABLE {WORDS_TABLE} USING fts5({', '.join(COLUMNS)}, tokenize='{TOKENIZER}')"
SNIPPET_START, SNIPPET_END = "\x02", "\x03"  # never in indexed text (words.py removes them)
_SNIPPET_WORDS = 16
# a space that segmentation put between two unspaced-script characters (markers between them allowed)
_CJK = UNSPACED_CHAR[:-1] + "\u3000-\u303f\uff00-\uffef]"  # and CJK punctuation
_ADDED_SPACE = re.compile(f"(?<={_CJK})([\x02\x03]?) +([\x02\x03]?)(?={_CJK})")


def word_row(text: str | None, path: str | None, metadata: dict, fields: list[str]) -> tuple[str, ...]:
    """The words table's columns for one item."""
    field_text = " ".join(_field_text(metadata.get(name)) for name in fields)
    name, folder, name_parts = name_words(path)
    parts = " ".join(filter(None, (subwords(f"{text or ''} {field_text}"), name_parts)))
    return segmented(text or ""), name, folder, segmented(field_text), parts


def _field_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(_field_text(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class KeywordTable:
    """The words table on one SQLite connection; writes join the caller's transaction."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def exists(self) -> bool:
        return self._db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (WORDS_TABLE,)).fetchone() is not None

    def fields(self) -> list[str]:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'words_from'").fetchone()
        return json.loads(row[0]) if row else []

    def in_step(self) -> bool:
        """Whether the table exists and was written by the last commit (see the module's docstring)."""
        if not self.exists():
            return False
        rows = dict(self._db.execute("SELECT key, value FROM meta WHERE key IN ('generation', 'words_generation')"))
        return rows.get("words_generation") == rows.get("generation")

    def write(self, rows: Iterable[tuple[int, str | None, str | None, dict]], removed_ids: list[int]) -> None:
        """Update for a commit that removes `removed_ids` and stores `rows` (id, text, path, metadata); the whole
        table rebuilt when it is missing or out of step. The caller sets `words_generation`."""
        if not self.in_step():
            self.rebuild()
            return
        self._db.executemany(f"DELETE FROM {WORDS_TABLE} WHERE rowid = ?", [(i,) for i in removed_ids])
        self._insert(rows)

    def rebuild(self) -> None:
        """The table made afresh from the items table (inside the caller's transaction)."""
        self._db.execute(f"DROP TABLE IF EXISTS {WORDS_TABLE}")
        self._db.execute(WORDS_SCHEMA)
        cursor = self._db.execute("SELECT id, text, path, metadata FROM items")
        self._insert((row_id, text, path, json.loads(metadata)) for row_id, text, path, metadata in cursor)

    def _insert(self, rows: Iterable[tuple[int, str | None, str | None, dict]]) -> None:
        fields = self.fields()
        self._db.executemany(
            f"INSERT INTO {WORDS_TABLE} (rowid, {', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)",
            ((row_id, *word_row(text, path, metadata, fields)) for row_id, text, path, metadata in rows))

    def ranked(self, query: KeywordQuery, limit: int, offset: int = 0) -> list[tuple[int, float]]:
        """(id, BM25 score: higher is better) of the items matching `query`, best first."""
        return [(row_id, -rank) for row_id, rank in self._db.execute(
            f"SELECT rowid, bm25({WORDS_TABLE}) FROM {WORDS_TABLE} WHERE {WORDS_TABLE} MATCH ? "
            "ORDER BY bm25(words), rowid LIMIT ? OFFSET ?", (query.match, limit, offset))]

    def snippets(self, query: KeywordQuery, ids: list[int]) -> dict[int, str]:
        """id -> a snippet with the matched words between SNIPPET_START and SNIPPET_END: of the item's text, else
        of the first of its name, folder and fields that matched (the text, unmarked, if only subwords did)."""
        shown = ", ".join(f"snippet({WORDS_TABLE}, {column}, ?, ?, '…', {_SNIPPET_WORDS})"
                          for column in range(len(COLUMNS) - 1))
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            f"SELECT rowid, {shown} FROM {WORDS_TABLE} WHERE {WORDS_TABLE} MATCH ? AND rowid IN ({marks})",
            (*[SNIPPET_START, SNIPPET_END] * (len(COLUMNS) - 1), query.match, *ids))
        return {row[0]: next((s for s in row[1:] if SNIPPET_START in s), row[1]) for row in rows}

    def stored_rows(self) -> Iterator[tuple[int, tuple[str, ...]]]:
        """(id, columns) of every row, for `check`."""
        return ((row[0], tuple(row[1:])) for row in self._db.execute(
            f"SELECT rowid, {', '.join(COLUMNS)} FROM {WORDS_TABLE}"))


def snippet_of(marked: str) -> Snippet:
    """A Snippet from FTS5's snippet() text (the matched words between SNIPPET_START and SNIPPET_END), without the
    spaces that segmentation put into Chinese or Japanese text."""
    marked = re.sub(" {2,}", " ", _ADDED_SPACE.sub(r"\1\2", marked)).strip()
    text, marks, start = [], [], None
    length = 0
    for char in marked:
        if char == SNIPPET_START:
            start = length
        elif char == SNIPPET_END and start is not None:
            marks.append((start, length))
            start = None
        else:
            text.append(char)
            length += 1
    return Snippet("".join(text), tuple(marks))
