"""`mmret search --mode` and `mmret index --words-from` / `mmret migrate` on the command line: snippets on the
terminal, channels in --json, a malformed keyword query one line with exit 2."""
import json
import sqlite3

import pytest

from mmret import Collection


@pytest.fixture
def notes(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "Trip_Beijing-2024.txt").write_text("我们在北京天安门广场拍照", encoding="utf-8")
    (folder / "garden.txt").write_text("The dogs were running around the garden all day", encoding="utf-8")
    (folder / "kitchen.txt").write_text("A recipe for bread with seeds", encoding="utf-8")
    return folder


def test_keyword_search_from_the_command_line(notes, tmp_path, run):
    coll = tmp_path / "coll"
    assert run("index", notes, "--collection", coll)[0] == 0
    code, out, _ = run("search", "runs", "--collection", coll, "--mode", "keyword")
    assert code == 0 and 'garden.txt "The dogs were running around the garden all day"' in out.splitlines()[0]
    assert "[words #1]  The dogs were [running] around" in out
    code, out, _ = run("search", "天安门", "--collection", coll, "--mode", "keyword", "--json")
    [row] = json.loads(out)["results"]
    assert row["path"].endswith("Trip_Beijing-2024.txt") and row["channel"] == "words"
    code, out, _ = run("search", "beijing 2024", "--collection", coll, "--mode", "keyword", "--paths")
    assert out.strip().endswith("Trip_Beijing-2024.txt")  # its file name's words
    code, out, _ = run("search", "bread", "--collection", coll, "--json", "-k", "1")
    [row] = json.loads(out)["results"]
    assert row["path"].endswith("kitchen.txt") and row["channel"] == "both"
    assert row["channels"]["words"]["rank"] == 1 and row["snippet"]["marks"] == [[13, 18]]


def test_malformed_keyword_query_is_one_line_and_exit_2(notes, tmp_path, run):
    coll = tmp_path / "coll"
    run("index", notes, "--collection", coll)
    code, out, err = run("search", '"bread with', "--collection", coll, "--mode", "keyword")
    assert code == 2 and out == "" and err.strip().count("\n") == 0 and "unbalanced quote" in err


def test_words_from_and_migrate(tmp_path, run):
    manifest = tmp_path / "m.csv"
    manifest.write_text("text,author\na quiet lake,Ana Lima\na busy street,Rui Costa\n", encoding="utf-8")
    coll = tmp_path / "coll"
    assert run("index", manifest, "--collection", coll, "--words-from", "author")[0] == 0
    code, out, _ = run("search", "lima", "--collection", coll, "--mode", "keyword", "--json")
    assert [r["text"] for r in json.loads(out)["results"]] == ["a quiet lake"]
    assert json.loads(run("info", "--collection", coll)[1])["keyword index"] == {"fields": ["author"]}
    db = sqlite3.connect(coll / "collection.sqlite")  # as a collection made before the keyword index
    db.execute("DROP TABLE words")
    db.commit()
    db.close()
    assert run("search", "lima", "--collection", coll, "--mode", "keyword")[0] == 2
    assert json.loads(run("info", "--collection", coll)[1])["keyword index"] is None
    code, out, _ = run("migrate", "--collection", coll)
    assert code == 0 and "keyword index built for 2 items" in out
    assert Collection.open(coll).search("costa", mode="keyword")[0].record.text == "a busy street"
