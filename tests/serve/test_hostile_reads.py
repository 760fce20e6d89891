"""Reads that anyone may send (no key) answer 4xx, never 500, and tell nothing about the server's system: a
`like` name is taken as written (no `~` expansion), a path that cannot resolve is unknown, and JSON parameters
nested past the bound are refused before any recursion."""
from __future__ import annotations

import json

import pytest

from mmret.errors import BadInput
from mmret.index.where import MAX_DEPTH, parse_where


@pytest.mark.parametrize("name", ["~nosuchuser", "~root", "~", "~nosuchuser/x.png", "a\x00b"])
def test_a_home_directory_name_is_an_unknown_item_like_any_other(served, name):
    client, _, _ = served
    answer = client.get("/api/search", params={"like": name})
    assert answer.status_code == 404 and answer.json()["detail"].startswith(f"like {name!r}: no stored item")


def test_a_symlink_loop_is_an_unknown_item(served):
    client, _, root = served
    loop = root / "loop"
    loop.symlink_to(root / "loop2")
    (root / "loop2").symlink_to(loop)
    try:
        for name in (str(loop), f"{loop}/x.png"):
            assert client.get("/api/search", params={"like": name}).status_code == 404
    finally:
        loop.unlink()
        (root / "loop2").unlink()


def nested_not(depth: int) -> dict:
    where: dict = {"folder": "photos"}
    for _ in range(depth - 1):
        where = {"$not": where}
    return where


@pytest.mark.parametrize(("name", "value"), [("where", "[" * 1999 + "]" * 1999),
                                             ("where", json.dumps(nested_not(400), separators=(",", ":"))),
                                             ("where", json.dumps(nested_not(MAX_DEPTH + 1))),
                                             ("parts", "[" * 1999 + "]" * 1999),
                                             ("parts", '[{"text": "red", "weight": ' + "[" * 900 + "]" * 900 + "}]")])
def test_json_nested_past_the_bound_is_422(served, name, value):
    client, _, _ = served
    answer = client.get("/api/search", params={"q": "red", name: value})
    assert answer.status_code == 422 and f"deeper than {MAX_DEPTH}" in answer.json()["detail"], answer.text


def test_the_bound_is_the_parsers_so_every_surface_has_it():
    assert parse_where(nested_not(MAX_DEPTH))  # at the bound: a filter
    with pytest.raises(BadInput, match=f"deeper than {MAX_DEPTH}"):
        parse_where(nested_not(MAX_DEPTH + 1))
    with pytest.raises(BadInput, match=f"deeper than {MAX_DEPTH}"):
        parse_where({"$and": [{"$or": [nested_not(MAX_DEPTH - 1)]}]})
