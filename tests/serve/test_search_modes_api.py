"""`mode` over HTTP (GET and POST /api/search): keyword hits by file and folder names with snippets and channel
ranks, hybrid by default, malformed keyword queries a 422 with the reason, and the OpenAPI document saying so."""
from __future__ import annotations

from .conftest import PHOTOS


def results(response) -> list[dict]:
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_keyword_mode_finds_files_by_the_words_of_their_names(served):
    client, _, _ = served
    found = results(client.get("/api/search", params={"q": "photos", "k": 50, "mode": "keyword"}))
    assert len(found) == PHOTOS and all("/photos/" in r["path"] for r in found)  # the folder's name
    assert all(r["channel"] == "words" and r["channels"]["words"]["rank"] == r["rank"] for r in found)
    [clip] = results(client.get("/api/search", params={"q": "clip", "mode": "keyword"}))
    assert clip["path"].endswith("clip.mp4")
    assert clip["snippet"]["text"] == "clip mp4" and clip["snippet"]["marks"] == [[0, 4]]


def test_hybrid_is_the_default_and_says_which_channel_found_each_hit(served):
    client, _, _ = served
    default = results(client.get("/api/search", params={"q": "red", "k": 5}))
    assert default == results(client.get("/api/search", params={"q": "red", "k": 5, "mode": "hybrid"}))
    assert default[0]["path"].endswith("red.png") and default[0]["channel"] == "both"
    assert default[0]["snippet"]["text"] == "red png"
    semantic = results(client.get("/api/search", params={"q": "red", "k": 5, "mode": "semantic"}))
    assert all(r["channel"] == "vectors" and r["snippet"] is None for r in semantic)
    posted = results(client.post("/api/search", data={"text": "green", "mode": "keyword"}))
    assert [r["path"].rsplit("/", 1)[-1] for r in posted] == ["green.png"]


def test_malformed_keyword_queries_and_modes_are_422_with_the_reason(served):
    client, _, _ = served
    for params, reason in (({"q": '"red', "mode": "keyword"}, "unbalanced quote"),
                           ({"q": "-red", "mode": "keyword"}, "only exclusions"),
                           ({"q": "red", "mode": "fuzzy"}, "mode")):
        response = client.get("/api/search", params=params)
        assert response.status_code == 422 and reason in response.text


def test_openapi_documents_mode_and_the_channels(served):
    client, _, _ = served
    document = client.get("/openapi.json").json()
    parameters = {p["name"]: p for p in document["paths"]["/api/search"]["get"]["parameters"]}
    assert set(parameters["mode"]["schema"]["anyOf"][0]["enum"]) == {"hybrid", "semantic", "keyword"}
    result = document["components"]["schemas"]["Result"]["properties"]
    assert {"channel", "channels", "snippet"} <= set(result)


def test_the_page_address_keeps_the_query(served):
    client, _, _ = served
    response = client.get("/?q=a+red+square&mode=keyword", follow_redirects=False)
    assert response.headers["location"] == "/static/index.html?q=a+red+square&mode=keyword"
    assert client.get("/", follow_redirects=False).headers["location"] == "/static/index.html"
