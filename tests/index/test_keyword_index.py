"""The embedded collection's keyword index (index/keyword_index.py, keyword_search.py): written with the items,
kept in step by replacements and removals, built for collections made without it, ranked by BM25 as computed by
hand, filtered like vector search."""
import json
import math
import sqlite3
from collections import Counter

import numpy as np
import pytest

from mmret.errors import BadInput
from mmret.index.collection import Record, VectorCollection
from mmret.index.values import WORDS

DIM = 4


def unit(n: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def add(coll, records):
    coll.upsert(records, {"shared": unit(len(records))})


def found(coll, query, **options):
    return [hit.item_id for hit in coll.keyword_search(query, **options)]


@pytest.fixture
def coll(tmp_path):
    with VectorCollection.create(tmp_path / "c", "m", {"shared": DIM}) as collection:
        yield collection


def test_words_follow_adds_replacements_and_removals(coll):
    add(coll, [Record("a", "text", text="a dog runs in the snow"), Record("b", "text", text="a cat sleeps")])
    assert found(coll, "running") == ["a"]  # porter: running -> run <- runs
    add(coll, [Record("a", "text", text="a horse in a field")])  # replaced: its old words go
    assert found(coll, "dog") == [] and found(coll, "horse") == ["a"]
    coll.remove(["b"])
    assert found(coll, "cat") == []
    with coll.transaction():
        add(coll, [Record("c", "text", text="snow on the hills")])
        assert found(coll, "snow") == []  # staged: not committed yet
    assert found(coll, "snow") == ["c"]


def test_file_names_folders_and_named_metadata_fields_are_words(coll):
    add(coll, [Record("p", "image", path="/pics/Summer_Trip/IMG_2031 beach-day.jpg", metadata={"tags": ["Lisbon"]}),
               Record("q", "image", path="/pics/home/cat.jpg", metadata={"author": "Ana Lima"})])
    assert found(coll, "beach") == ["p"] and found(coll, "2031") == ["p"] and found(coll, "trip") == ["p"]
    add(coll, [Record("s", "image", path="/pics/scans/HTMLParser2go.PDF")])
    assert found(coll, "parser") == ["s"] and found(coll, "htmlparser2go") == ["s"]
    assert found(coll, "lisbon") == []
    coll.index_words(["tags", "author"])
    assert found(coll, "lisbon") == ["p"] and found(coll, '"ana lima"') == ["q"]
    add(coll, [Record("r", "text", text="x", metadata={"tags": "Lisbon"})])  # new items: the remembered fields
    assert sorted(found(coll, "lisbon")) == ["p", "r"] and coll.word_fields() == ["tags", "author"]


def test_chinese_titles_are_found_by_chinese_words(coll):
    add(coll, [Record("1", "text", text="北京天安门广场的夜景"), Record("2", "text", text="上海外滩的夜晚"),
               Record("3", "text", text="a night in Beijing")])
    assert found(coll, "天安门") == ["1"]  # a part of the longer word 天安门广场
    assert found(coll, "外滩") == ["2"]
    assert found(coll, "北京 -夜景") == []
    hit = coll.keyword_search("外滩")[0]
    assert [hit.snippet.text[a:b] for a, b in hit.snippet.marks] == ["外滩"]


def test_phrases_prefixes_exclusions_and_filters(coll):
    add(coll, [Record("a", "text", text="a red car on the road", metadata={"kind": "street"}),
               Record("b", "text", text="the road was red with leaves", metadata={"kind": "park"}),
               Record("c", "text", text="a carpet of red leaves", metadata={"kind": "park"})])
    assert found(coll, '"red car"') == ["a"]
    assert sorted(found(coll, "car*")) == ["a", "c"]
    assert sorted(found(coll, "red -road")) == ["c"]
    assert sorted(found(coll, "red", where={"kind": "park"})) == ["b", "c"]
    assert found(coll, "red", where={"kind": "park"}, exclude=["b"]) == ["c"]
    hit = coll.keyword_search('"red car"')[0]
    assert hit.space == WORDS and hit.channels[WORDS].rank == 1 and hit.channels[WORDS].score == hit.score
    assert [hit.snippet.text[a:b] for a, b in hit.snippet.marks] == ["red car"]
    with pytest.raises(BadInput, match="unbalanced quote"):
        coll.keyword_search('"red car')


def drop_words_as_main_made_it(path):
    """The database as mmret before the keyword index wrote it: no words table, no words_generation."""
    db = sqlite3.connect(path / "collection.sqlite")
    db.execute("DROP TABLE words")
    db.execute("DELETE FROM meta WHERE key = 'words_generation'")
    db.commit()
    db.close()


def items_and_meta(path):
    db = sqlite3.connect(path / "collection.sqlite")
    try:
        return (db.execute("SELECT * FROM items ORDER BY id").fetchall(),
                dict(db.execute("SELECT key, value FROM meta WHERE key NOT LIKE 'words_%'").fetchall()),
                db.execute("SELECT * FROM segments").fetchall())
    finally:
        db.close()


def test_a_collection_without_words_gains_them_by_migrate_with_nothing_else_changed(tmp_path):
    with VectorCollection.create(tmp_path / "old", "m", {"shared": DIM}) as coll:
        add(coll, [Record("a", "text", text="a dog runs"), Record("b", "image", path="/x/beach.jpg")])
    drop_words_as_main_made_it(tmp_path / "old")
    before = items_and_meta(tmp_path / "old")
    with VectorCollection.open(tmp_path / "old") as coll:
        assert not coll.has_words()
        with pytest.raises(BadInput, match="mmret migrate"):
            coll.keyword_search("dog")
        coll.index_words()
        assert coll.has_words() and found(coll, "beach") == ["b"]
    assert items_and_meta(tmp_path / "old") == before


def test_a_collection_without_words_gains_them_on_its_first_write(tmp_path):
    with VectorCollection.create(tmp_path / "old", "m", {"shared": DIM}) as coll:
        add(coll, [Record("a", "text", text="a dog runs")])
    drop_words_as_main_made_it(tmp_path / "old")
    with VectorCollection.open(tmp_path / "old") as coll:
        add(coll, [Record("b", "text", text="a dog sleeps")])
        assert sorted(found(coll, "dog")) == ["a", "b"]


def test_words_written_by_an_older_mmret_commit_are_out_of_step_until_rebuilt(tmp_path):
    with VectorCollection.create(tmp_path / "c", "m", {"shared": DIM}) as coll:
        add(coll, [Record("a", "text", text="a dog runs")])
    db = sqlite3.connect(tmp_path / "c" / "collection.sqlite")  # an older mmret's commit: items, not words
    db.execute("UPDATE items SET text = 'a cat' WHERE item_id = 'a'")
    db.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
    db.commit()
    db.close()
    with VectorCollection.open(tmp_path / "c") as coll:
        assert not coll.has_words()
        add(coll, [Record("b", "text", text="another dog")])
        assert found(coll, "cat") == ["a"] and found(coll, "dog") == ["b"]


# -- BM25 against a hand computation -------------------------------------------------------------------------


def bm25_by_hand(docs: dict[str, list[str]], query_terms: list[str], k1=1.2, b=0.75) -> dict[str, float]:
    """FTS5's BM25 (its documentation's formula, IDF floored at 1e-6) of the docs that hold any query term."""
    n = len(docs)
    avgdl = sum(map(len, docs.values())) / n
    counts = {item: Counter(tokens) for item, tokens in docs.items()}
    scores = {}
    for item, tokens in docs.items():
        if not any(counts[item][t] for t in query_terms):
            continue
        score = 0.0
        for term in query_terms:
            having = sum(1 for c in counts.values() if c[term])
            idf = max(math.log((n - having + 0.5) / (having + 0.5)), 1e-6)
            f = counts[item][term]
            score += idf * f * (k1 + 1) / (f + k1 * (1 - b + b * len(tokens) / avgdl))
        scores[item] = score
    return scores


def stemmed_tokens(path) -> dict[int, list[str]]:
    """Each row's tokens as FTS5 stored them (its porter stems), read from an fts5vocab table of the words."""
    db = sqlite3.connect(path / "collection.sqlite")
    db.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, words, instance)")
    tokens: dict[int, list[str]] = {}
    for term, doc in db.execute("SELECT term, doc FROM vocab ORDER BY doc, col, offset"):
        tokens.setdefault(doc, []).append(term)
    ids = dict(db.execute("SELECT id, item_id FROM items"))
    db.close()
    return {ids[doc]: terms for doc, terms in tokens.items()}


@pytest.mark.parametrize("query", ["dog snow", "girl playing water", "man red shirt bike", "two dogs running"])
def test_keyword_ranking_matches_bm25_computed_by_hand_on_flickr_captions(tmp_path, data_dir, query):
    rows = json.loads((data_dir / "flickr8k-500" / "captions.json").read_text())[:300]
    with VectorCollection.create(tmp_path / "c", "m", {"shared": DIM}) as coll:
        add(coll, [Record(str(i), "text", text=row["captions"][0]) for i, row in enumerate(rows)])
        hits = coll.keyword_search(query, k=20)
    docs = stemmed_tokens(tmp_path / "c")
    docs.update({str(i): [] for i in range(len(rows)) if str(i) not in docs})
    stems = [stemmed_tokens_of_query(tmp_path, word) for word in query.split()]
    expected = bm25_by_hand(docs, stems)
    ranked = sorted(expected, key=lambda item: (-expected[item], int(item)))[:20]
    assert [hit.item_id for hit in hits] == ranked
    np.testing.assert_allclose([hit.score for hit in hits], [expected[i] for i in ranked], rtol=1e-6)


def stemmed_tokens_of_query(tmp_path, word: str) -> str:
    """The stem FTS5's porter tokenizer makes of one query word (through a scratch table)."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='porter unicode61')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, row)")
    db.execute("INSERT INTO t VALUES (?)", (word,))
    return db.execute("SELECT term FROM v").fetchone()[0]


# -- check and repair ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("damage, problem", [
    ("DELETE FROM words WHERE rowid = (SELECT id FROM items WHERE item_id = 'a')", "1 items' words are missing"),
    ("UPDATE words SET text = 'wrong' WHERE rowid = (SELECT id FROM items WHERE item_id = 'b')", "differ"),
    ("INSERT INTO words (rowid, text) VALUES (999, 'stray')", "1 rows belong to no item"),
    ("UPDATE meta SET value = 0 WHERE key = 'words_generation'", "out of step"),
])
def test_check_names_words_out_of_step_and_repair_rebuilds_them(tmp_path, run, damage, problem):
    path = tmp_path / "c"
    with VectorCollection.create(path, "m", {"shared": DIM}) as coll:
        add(coll, [Record("a", "text", text="a dog runs"), Record("b", "image", path="/x/beach_day.jpg")])
        coll.index_words([])
    assert run("check", "--collection", path)[0] == 0
    db = sqlite3.connect(path / "collection.sqlite")
    db.execute(damage)
    db.commit()
    db.close()
    code, out, _ = run("check", "--collection", path)
    assert code == 6 and out.startswith("words: ") and problem in out
    code, out, err = run("check", "--collection", path, "--repair")
    assert code == 0 and "rebuilt the keyword index" in err and "no problems found" in out
    with VectorCollection.open(path) as coll:
        assert found(coll, "dog") == ["a"] and found(coll, "beach") == ["b"] and found(coll, "stray") == []
