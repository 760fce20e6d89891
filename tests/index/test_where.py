"""A `where` parsed once into its tree: the tree of each form, every refusal naming the bad part, the keys it reads,
and one tree compiled by both backends."""
import numpy as np
import pytest

from mmret.index.columns import MetadataColumns
from mmret.index.filters import compile_mask
from mmret.index.milvus.filters import compile_expression
from mmret.index.store import Changes, MetadataStore, Record, Row
from mmret.index.where import And, Condition, Not, Or, PathPrefix, keys_of, parse_where


@pytest.mark.parametrize("where, tree", [
    ({}, And(())),
    ({"label": "cat"}, Condition("label", "$eq", "cat")),
    ({"label": "cat", "modality": "image"}, And((Condition("label", "$eq", "cat"), Condition("modality", "$eq", "image")))),
    ({"year": {"$gte": 2000, "$lt": "2010"}}, And((Condition("year", "$gte", 2000), Condition("year", "$lt", "2010")))),
    ({"ok": {"$ne": None}}, Condition("ok", "$ne", None)),
    ({"tag": {"$in": ["a", 1, True]}}, Condition("tag", "$in", ("a", 1, True))),
    ({"tag": {"$nin": []}}, Condition("tag", "$nin", ())),
    ({"path_prefix": "/d/"}, PathPrefix("/d/")),
    ({"$or": [{"a": 1}, {"$not": {"b": 2}}]}, Or((Condition("a", "$eq", 1), Not(Condition("b", "$eq", 2))))),
    ({"$and": [{"a": 1}]}, And((Condition("a", "$eq", 1),))),
    ({"$not": {}}, Not(And(()))),
])
def test_each_form_parses_into_its_tree(where, tree):
    assert parse_where(where) == tree


def test_the_tree_is_immutable_and_hashable():
    tree = parse_where({"$or": [{"tag": {"$in": ["a", "b"]}}, {"year": {"$gt": 3}}]})
    with pytest.raises(AttributeError):
        tree.parts = ()
    assert hash(tree) == hash(parse_where({"$or": [{"tag": {"$in": ["a", "b"]}}, {"year": {"$gt": 3}}]}))


@pytest.mark.parametrize("where, message", [
    (["a"], "a filter must be a dict, got list: ['a']"),
    ({"$or": [{"a": 1}, 5]}, "a filter must be a dict, got int: 5"),
    ({1: "x"}, "a filter key must be a text, got 1"),
    ({"$xor": []}, "unknown filter operator '$xor'; use $and, $or, $not or a metadata key"),
    ({"$and": []}, "$and needs a non-empty list of filters, got []"),
    ({"$or": {"a": 1}}, "$or needs a non-empty list of filters, got {'a': 1}"),
    ({"$not": {"a": {"$near": 1}}}, ("filter 'a': unknown operator '$near'; known are "
                                     "['$eq', '$gt', '$gte', '$in', '$lt', '$lte', '$ne', '$nin']")),
    ({"path_prefix": 3}, "filter path_prefix must be a string, got 3"),
    ({"tag": {"$in": "cat"}}, "filter 'tag': $in needs a list of values, got 'cat'"),
    ({"tag": {"$nin": ["a", {"b": 1}]}}, "metadata filter 'tag': unsupported value type dict ({'b': 1})"),
    ({"tag": [1, 2]}, "metadata filter 'tag': unsupported value type list ([1, 2])"),
    ({"tag": {"b": 1}}, "metadata filter 'tag': unsupported value type dict ({'b': 1})"),
    ({"tag": {"$eq": 1, "x": 2}}, "metadata filter 'tag': unsupported value type dict"),
    ({"year": {"$gt": True}}, "filter 'year': a range bound must be a number or a text, got True"),
    ({"year": {"$lte": None}}, "filter 'year': a range bound must be a number or a text, got None"),
])
def test_a_bad_where_is_refused_naming_the_bad_part(where, message):
    with pytest.raises(ValueError) as refused:
        parse_where(where)
    assert str(refused.value).startswith(message)


def test_keys_are_the_metadata_keys_compared_anywhere_in_the_tree():
    where = {"a": 1, "modality": "image", "path": "/x", "path_prefix": "/d/",
             "$or": [{"b": {"$gt": 1}}, {"$not": {"c": None}}], "$and": [{"a": 2}]}
    assert keys_of(parse_where(where)) == {"a", "b", "c"}
    assert keys_of(parse_where({})) == set()


def test_one_tree_compiles_to_the_embedded_mask_and_to_the_milvus_expression(tmp_path):
    tree = parse_where({"modality": "image", "$not": {"path_prefix": "/d/n"}})
    records = [Record("a", "image", path="/d/p/a.jpg"), Record("b", "image", path="/d/n/b.jpg"),
               Record("c", "text", path="/d/p/c.txt"), Record("d", "image")]
    store = MetadataStore.create(tmp_path / "s.sqlite", {"generation": 0})
    store.apply([Row(i + 1, r, ()) for i, r in enumerate(records)], [], Changes({}))
    try:
        assert np.flatnonzero(compile_mask(tree, MetadataColumns(store))).tolist() == [1, 4]  # row ids of a, d
    finally:
        store.close()
    assert compile_expression(tree, {}) == \
        '(modality is not null and modality == "image") and (not (path is not null and path like "/d/n%"))'
