"""Word analysis for the keyword index, the same at index and at query time.

Python does only what SQLite's `porter unicode61` tokenizer cannot: it segments runs of Chinese, Japanese and
Korean characters into words (jieba, loaded on first use) and splits file names at camelCase and letter/digit
boundaries. The text it hands FTS5 keeps its case and punctuation (so snippets read naturally) with spaces
between the words it found; FTS5 then lowercases, drops diacritics, splits on non-letters and stems English.
`terms` is the same analysis as a list of lowercased terms (before stemming), for queries and for checking.
"""

from __future__ import annotations

import functools
import logging
import re
from pathlib import PurePath

TOKENIZER = "porter unicode61"
# Han, Hiragana, Katakana, Hangul (and their extensions): scripts written without spaces between words.
UNSPACED_CHAR = (r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f]")
_UNSPACED = re.compile(UNSPACED_CHAR + "+")
_TERM = re.compile(r"[^\W_]+")  # unicode61's tokens: runs of letters and digits (the underscore separates)
_NAME_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|[^\W\d_]+")
_MARKS = re.compile("[\x02\x03]")  # snippet markers (keyword_search.py): never part of indexed text


def segmented(text: str) -> str:
    """`text` with its unspaced runs split into words by spaces; the rest as it is (FTS5 tokenizes it)."""
    text = _MARKS.sub(" ", text)
    if not _UNSPACED.search(text):
        return text
    return _UNSPACED.sub(lambda run: " " + " ".join(_cjk_words(run.group())) + " ", text)


def terms(text: str) -> list[str]:
    """The lowercased terms of `text`, in order: words of unspaced runs, and runs of letters and digits."""
    return _TERM.findall(segmented(text).lower())


def subwords(text: str) -> str:
    """The shorter words inside the long words of unspaced runs (天安门广场 -> 天安 天安门 广场), space-separated:
    indexed beside the text so that a query for a part finds the whole."""
    found = []
    for run in _UNSPACED.findall(_MARKS.sub(" ", text)):
        whole = set(_cjk_words(run))
        found.extend(word for word in _jieba().cut_for_search(run) if word.strip() and word not in whole)
    return " ".join(found)


def name_words(path: str | None) -> tuple[str, str, str]:
    """(file name, folder, parts) of `path` as space-separated words: the name and its folder's name split at
    separators (`IMG_2031 beach-day.jpg` -> "IMG 2031 beach day jpg"), and the parts of their words split at camelCase
    and letter/digit boundaries (`HTMLParser2go` -> "HTML Parser 2 go"), which the words table holds apart, so that
    `parser` finds the file as `htmlparser2go` does. Empty strings for an item without a path."""
    if not path:
        return "", "", ""
    pure = PurePath(path)
    words = [_TERM.findall(segmented(name)) for name in (pure.name, pure.parent.name)]
    parts = [part for chunk in words[0] + words[1] if len(split := _NAME_PARTS.findall(chunk)) > 1 for part in split]
    return " ".join(words[0]), " ".join(words[1]), " ".join(parts)


def _cjk_words(run: str) -> list[str]:
    return [word for word in _jieba().cut(run) if word.strip()]


@functools.cache
def _jieba():
    """jieba, imported and its dictionary loaded on the first unspaced text (its start-up message silenced)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba
