"""/api/search's relevance: each text hit's calibrated relevance, the default cut the page uses, min_relevance, and
a 422 naming the model where there is no calibration."""
from __future__ import annotations

from mmret.api import Collection
from mmret.query.relevance import relevance_curve

from .conftest import ColourEncoder, client_for, square

SHADES = {"red": [(220, 20, 20), (200, 40, 30), (180, 30, 60)], "blue": [(20, 20, 220), (40, 60, 200)],
          "green": [(20, 200, 20), (60, 180, 40)]}


def test_search_answers_relevance_and_cuts_at_min_relevance(tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    for name, shades in SHADES.items():
        for number, colour in enumerate(shades):
            square(root / f"{name}{number}.png", colour)
    with client_for(tmp_path / "c", root, tmp_path / "thumbs") as client:
        refused = client.get("/api/search", params={"q": "red", "min_relevance": 0.5})
        assert refused.status_code == 422 and "model 'test-colour' has no relevance calibration" in refused.text
        plain = client.get("/api/search", params={"q": "red"}).json()
        assert plain["relevance_cut"] is None and all(r["relevance"] is None for r in plain["results"])

        collection = Collection.open(tmp_path / "c", ColourEncoder())
        collection.calibrate_relevance({name: [str(root / f"{name}{n}.png") for n in range(len(shades))]
                                        for name, shades in SHADES.items()})
        cut = relevance_curve(collection.store).cut
        page = client.get("/api/search", params={"q": "red", "k": 7}).json()
        assert page["relevance_cut"] == cut
        relevance = [r["relevance"] for r in page["results"]]
        assert relevance == sorted(relevance, reverse=True) and len(relevance) == 7
        assert relevance[0] >= cut > relevance[3]  # the page shows the best red square first, hides the others
        between = (relevance[2] + relevance[3]) / 2  # the three red squares rank first
        kept = client.get("/api/search", params={"q": "red", "k": 7, "min_relevance": between}).json()["results"]
        assert [r["id"] for r in kept] == [r["id"] for r in page["results"][:3]]
        assert {r["path"].rsplit("/", 1)[1][:3] for r in kept} == {"red"}
        assert client.get("/api/search", params={"q": "red", "min_relevance": 2}).status_code == 422
