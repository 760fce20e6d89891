"""Word analysis (index/words.py) and keyword query parsing (index/keyword_query.py)."""
import pytest

from mmret.errors import BadInput
from mmret.index.keyword_index import snippet_of
from mmret.index.keyword_query import KeywordQuery
from mmret.index.words import name_words, segmented, subwords, terms


def test_file_names_split_on_separators_camel_case_and_digits():
    assert name_words("/photos/My_Holidays/IMG_2031 beach-day.jpg") == ("IMG 2031 beach day jpg", "My Holidays", "")
    assert name_words("scans/HTMLParser2go.PDF") == ("HTMLParser2go PDF", "scans", "HTML Parser 2 go")
    assert name_words("/x/clip.mp4") == ("clip mp4", "x", "mp 4")
    assert name_words(None) == ("", "", "")


def test_english_text_is_lowercased_and_split_on_non_letters():
    assert terms("The dog's ball_game, 2 (ok)!") == ["the", "dog", "s", "ball", "game", "2", "ok"]


def test_chinese_is_segmented_into_words_and_long_words_into_their_parts():
    assert terms("我爱北京天安门") == ["我", "爱", "北京", "天安门"]
    assert segmented("在北京 hello").split() == ["在", "北京", "hello"]
    assert set(subwords("天安门广场")) >= set("天安 广场 天安门".replace(" ", "")) and "天安门" in subwords("天安门广场")


def test_jieba_is_not_imported_for_text_without_unspaced_scripts():
    import subprocess
    import sys

    code = ("import sys; from mmret.index.words import terms, name_words; terms('a dog'); name_words('a/b_c.jpg'); "
            "print('jieba' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


@pytest.mark.parametrize("query, match", [
    ("dog runs", '("dog" OR "runs")'),
    ('"a dog" snow -cat', '"a dog" AND ("snow" OR "a dog") NOT "cat"'),
    ("beac*", '("beac" *)'),
    ("IMG_2031", '("img" OR "2031")'),
    ('NEAR(x) OR y AND "z', None),
    ('x" OR "y', '"or" AND ("x" OR "y" OR "or")'),
    ("北京天安门", '("北京" OR "天安门")'),
    ("a strawberry on the table", '("strawberry" OR "table")'),  # function words are not searched for
    ("the", '("the")'),  # unless there is nothing else
    ('"the end" of', '"the end"'),  # a phrase keeps them
])
def test_user_text_becomes_fts5_strings_only(query, match):
    if match is None:
        with pytest.raises(BadInput, match="unbalanced quote"):
            KeywordQuery.parse(query)
    else:
        assert KeywordQuery.parse(query).match == match


@pytest.mark.parametrize("query, problem", [("", "empty"), ("   ", "empty"), ('"a dog', "unbalanced quote"),
                                            ("-dog -\"a cat\"", "only exclusions"), ("... ,", "no words")])
def test_malformed_queries_name_the_problem(query, problem):
    with pytest.raises(BadInput, match=problem):
        KeywordQuery.parse(query)


def test_snippet_marks_are_character_ranges_of_the_text_without_segmentation_spaces():
    snippet = snippet_of(" 我 爱 \x02北京\x03 ， hello \x02World\x03")
    assert snippet.text == "我爱北京， hello World"
    assert [snippet.text[a:b] for a, b in snippet.marks] == ["北京", "World"]
