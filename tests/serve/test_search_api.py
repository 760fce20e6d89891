"""Search over HTTP: text, uploads, more like this, filters, pages, results' media."""
from __future__ import annotations

import io
import json
import re
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

from mmret.index.where import LOGICAL, OPERATORS

from .conftest import COLOURS, PHOTOS


def names(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["path"].rsplit("/", 1)[-1] for r in response.json()["results"]]


def png(colour, side=32) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), colour).save(out, "PNG")
    return out.getvalue()


def test_text_search_ranks_the_named_colour_first(served):
    client, _, _ = served
    for colour in ("red", "green"):
        assert names(client.get("/api/search", params={"q": colour, "k": 3}))[0] == f"{colour}.png"


def test_video_result_is_its_matching_shot_with_times_and_urls(served):
    client, _, _ = served
    results = client.get("/api/search", params={"q": "blue", "k": 20}).json()["results"]
    clip = next(r for r in results if r["path"].endswith("clip.mp4"))
    assert clip["segment"]["kind"] == "shot" and clip["segment"]["start"] >= 2.5  # the blue half
    assert f"at={clip['segment']['start']:g}" in clip["thumbnail_url"]
    thumb = client.get(clip["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    blue = Image.open(io.BytesIO(thumb.content)).convert("RGB").getpixel((10, 10))
    assert blue[2] > 150 and blue[0] < 80  # the frame at the shot's start, not the red first frame


def test_pages_are_disjoint_and_concatenate_to_one_longer_page(served):
    client, _, _ = served
    whole = names(client.get("/api/search", params={"q": "red", "k": 6}))
    first = client.get("/api/search", params={"q": "red", "k": 3}).json()
    second = names(client.get("/api/search", params={"q": "red", "k": 3, "offset": 3}))
    assert first["has_more"] and [r["path"].rsplit("/", 1)[-1] for r in first["results"]] + second == whole


def test_each_file_appears_once_unless_all_segments_are_asked_for(served):
    client, _, _ = served
    total = len(COLOURS) + PHOTOS + 1
    per_file = names(client.get("/api/search", params={"q": "red", "k": 100}))
    segments = names(client.get("/api/search", params={"q": "red", "k": 100, "per_file": "false"}))
    assert len(per_file) == len(set(per_file)) == total
    assert segments.count("clip.mp4") >= 2


def test_uploaded_image_finds_its_colour(served):
    client, _, _ = served
    response = client.post("/api/search", files={"file": ("q.png", png(COLOURS["blue"]), "image/png")},
                           data={"k": "2"})
    assert names(response)[0] == "blue.png"


def test_more_like_this_leaves_out_the_item_itself(served):
    client, _, root = served
    red = str((root / "red.png").resolve())
    found = names(client.get("/api/search", params={"like": red, "k": 5}))
    assert "red.png" not in found and len(found) == 5


def test_more_like_a_shot_leaves_out_the_whole_video(served):
    client, _, _ = served
    results = client.get("/api/search", params={"q": "blue", "k": 20}).json()["results"]
    shot = next(r for r in results if r["path"].endswith("clip.mp4"))
    found = names(client.get("/api/search", params={"like": shot["id"], "k": 3}))
    assert found[0] == "blue.png" and "clip.mp4" not in found


def test_filters_restrict_results(served):
    client, _, _ = served
    found = names(client.get("/api/search", params={"q": "red", "k": 50, "where": json.dumps({"folder": "photos"})}))
    assert len(found) == PHOTOS and "red.png" not in found


def test_range_and_in_filters_work_over_http(served):
    client, _, _ = served
    later = {"start": {"$gte": 2.5}}
    results = client.get("/api/search", params={"q": "red", "k": 50, "per_file": "false",
                                                 "where": json.dumps(later)}).json()["results"]
    assert results and all(r["segment"]["start"] >= 2.5 for r in results)
    either = {"$or": [later, {"folder": {"$in": ["photos"]}}]}
    found = names(client.get("/api/search", params={"q": "red", "k": 50, "where": json.dumps(either)}))
    assert sorted(set(found)) == sorted(found) and "clip.mp4" in found and len(found) == PHOTOS + 1


def test_bad_parameters_are_4xx_with_the_reason(served):
    client, _, _ = served
    cases = [({}, "needs q"), ({"q": "x", "where": "{nope"}, "not valid JSON"),
             ({"q": "x", "where": '{"a": [1]}'}, "unsupported value type"),
             ({"q": "x", "where": '{"a": {"$near": 1}}'}, "unknown operator"), ({"q": "x", "where": "[1]"}, "JSON object"), ({"q": "x", "k": 0}, "k"),
             ({"q": "x", "space": "nope"}, "space"), ({"like": "no-such-id"}, "no stored item")]
    for params, reason in cases:
        response = client.get("/api/search", params=params)
        assert 400 <= response.status_code < 500 and reason in response.json()["detail"], (params, response.text)


def test_the_where_parameter_documents_exactly_the_operators_the_index_knows(served):
    client, _, _ = served
    parameters = client.get("/openapi.json").json()["paths"]["/api/search"]["get"]["parameters"]
    described = next(parameter for parameter in parameters if parameter["name"] == "where")["description"]
    assert set(re.findall(r"\$\w+", described)) == {*OPERATORS, *LOGICAL}


def test_concurrent_searches_all_succeed_and_agree(served):
    client, _, _ = served
    with ThreadPoolExecutor(8) as pool:
        pages = list(pool.map(lambda _: names(client.get("/api/search", params={"q": "green", "k": 4})), range(40)))
    assert all(page == pages[0] for page in pages) and pages[0][0] == "green.png"


def test_media_honours_range_requests(served):
    client, _, root = served
    clip = str((root / "clip.mp4").resolve())
    whole = (root / "clip.mp4").read_bytes()
    response = client.get("/api/media", params={"id": clip}, headers={"Range": "bytes=100-199"})
    assert response.status_code == 206 and response.content == whole[100:200]
    assert response.headers["content-range"] == f"bytes 100-199/{len(whole)}"
    assert response.headers["content-type"] == "video/mp4"


def test_a_negative_text_part_pushes_its_colour_down(served):
    client, _, _ = served
    squares = [f"{c}.png" for c in COLOURS]
    plain = [n for n in names(client.get("/api/search", params={"q": "red", "k": 100})) if n in squares]
    unlike_blue = json.dumps([{"text": "blue", "weight": -1}])
    pushed = [n for n in names(client.get("/api/search", params={"q": "red", "parts": unlike_blue, "k": 100}))
              if n in squares]
    assert plain[0] == pushed[0] == "red.png"
    assert pushed.index("blue.png") > pushed.index("green.png")  # red minus blue: blue is the least like it


def test_rank_fusion_of_two_text_parts_matches_rrf_of_their_own_lists(served):
    client, _, _ = served
    every = {"k": 100, "per_file": "false", "mode": "semantic"}  # fusion of the parts' vector lists

    def ranks(query: str) -> dict[str, int]:
        results = client.get("/api/search", params={"q": query, **every}).json()["results"]
        return {r["id"]: r["rank"] for r in results}

    red, green = ranks("red"), ranks("green")
    expected = {item: 1 / (60 + red[item]) + 1 / (60 + green[item]) for item in red}  # RRF, k = 60
    fused = client.get("/api/search", params={"q": "red", "parts": json.dumps([{"text": "green"}]),
                                              "fusion": "rrf", **every}).json()["results"]
    assert len(fused) == len(expected)
    assert all(abs(r["score"] - expected[r["id"]]) < 1e-6 for r in fused)


def test_bad_parts_are_422_with_the_reason(served):
    client, _, _ = served
    for parts, reason in (("[1]", "JSON array"), ('[{"text": "red", "weight": 0}]', "non-zero"),
                          ('[{"text": "red", "weight": "x"}]', "number"), ("{", "not valid JSON"),
                          ('[{"text": "red", "weight": -1}]', "positive part")):
        response = client.get("/api/search", params={"parts": parts})
        assert response.status_code == 422 and reason in response.text, (parts, response.text)
