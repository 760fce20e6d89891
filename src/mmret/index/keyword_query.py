"""A user's keyword query -> a safe FTS5 MATCH expression; raw user text never reaches MATCH.

Syntax: words (any may match; more and rarer ones rank higher), "quoted phrases" (each must appear, its words in
that order), `word*` (words starting so; matched against word stems, as English words are stemmed), and `-word`
or `-"a phrase"` (leave out items that have it). English function words typed as bare words ("a", "the", "of")
are not searched for unless the query has nothing else: in a small collection they are rare enough for BM25 to rank
an item high on "a" alone, which would look like a confident keyword match to hybrid fusion. Every term is analysed as indexed text is (words.py) and
written as an FTS5 string, so no user character is ever read as FTS5 syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mmret.errors import BadInput
from mmret.index.words import terms

# English function words: they say how a sentence is built, not what it is about.
STOP_WORDS = frozenset({"a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have", "in",
    "into", "is", "it", "its", "of", "on", "or", "over", "so", "than", "that", "the", "their", "there", "these",
    "this", "those", "to", "under", "was", "were", "while", "with", "within", "without"})
_PIECE = re.compile(r'(-?)"([^"]*)"|(-?)([^\s"]+)')


@dataclass(frozen=True)
class KeywordQuery:
    words: tuple[str, ...] = ()  # FTS5 strings, each one term (or its prefix, with `prefixes`)
    phrases: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> KeywordQuery:
        """The query in `text`; BadInput naming the problem if it is empty, has an unbalanced quote or only
        exclusions."""
        if not isinstance(text, str) or not text.strip():
            raise BadInput("keyword query is empty")
        if text.count('"') % 2:
            raise BadInput(f"keyword query {text!r}: unbalanced quote (\")")
        words, phrases, excluded, prefixes = [], [], [], []
        for match in _PIECE.finditer(text):
            quoted_minus, quoted, minus, bare = match.groups()
            if quoted is not None:
                phrase = " ".join(terms(quoted))
                if phrase:
                    (excluded if quoted_minus else phrases).append(phrase)
            else:
                _add_bare(bare, bool(minus), words, excluded, prefixes)
        content = [word for word in words if word not in STOP_WORDS]
        words = content if content or phrases or prefixes else words
        if not (words or phrases or prefixes):
            raise BadInput(f"keyword query {text!r}: " + ("only exclusions; say what to find as well" if excluded
                                                          else "no words to search for"))
        return cls(tuple(dict.fromkeys(words)), tuple(phrases), tuple(excluded), tuple(dict.fromkeys(prefixes)))

    @property
    def match(self) -> str:
        """The FTS5 MATCH expression: every phrase, and (if any words) any word or phrase, and none excluded."""
        required = [_string(p) for p in self.phrases]
        optional = [_string(w) for w in self.words] + [f"{_string(p)} *" for p in self.prefixes]
        if optional and required:
            optional.append(required[0])  # the words rank the hits that have the phrases; they are not required
        clauses = required + ([f"({' OR '.join(optional)})"] if optional else [])
        expression = " AND ".join(clauses)
        return expression + "".join(f" NOT {_string(x)}" for x in self.excluded)


def _add_bare(bare: str, minus: bool, words: list, excluded: list, prefixes: list) -> None:
    """A word as typed: `-x` excluded (`-beach-day` as the phrase "beach day"), `x*` a prefix, else its terms
    (`IMG_2031` -> img, 2031 as a file name is indexed; a Chinese run -> its words)."""
    pieces = terms(bare)
    if not pieces:
        return
    if minus:
        excluded.append(" ".join(pieces))
    elif bare.endswith("*") and len(pieces) == 1:
        prefixes.append(pieces[0])
    else:
        words.extend(pieces)


def _string(value: str) -> str:
    """An FTS5 string: double quotes around, inner ones doubled; FTS5 reads everything inside as text."""
    return '"' + value.replace('"', '""') + '"'
