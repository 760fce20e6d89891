"""Result lines for a terminal: a segment with its time range, and a record whose segment keys are malformed as
the plain file it is (never an error)."""
from __future__ import annotations

from mmret.cli.format import format_row


def row(metadata: dict) -> dict:
    return {"rank": 1, "score": 0.5, "id": "x", "path": "/m/clip.mp4", "text": None, "metadata": metadata}


def test_a_segment_shows_its_place_and_a_malformed_one_the_plain_file():
    shot = {"segment_of": "/m/clip.mp4", "segment": "shot", "start": 1.0, "end": 2.5, "folder": "m"}
    assert format_row(row(shot)) == '  1  0.5000  /m/clip.mp4 @ 1.0-2.5 s (shot)  {"folder": "m"}'
    for bad in ({"start": "soon", "end": 1, "segment": "shot", "segment_of": "a"}, {"start": 1.0},
                {"segment_of": ["x"], "segment": 3, "start": 0, "end": 1}):
        assert format_row(row(bad)) == "  1  0.5000  /m/clip.mp4  "
