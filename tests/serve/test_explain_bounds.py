"""An explanation's work is bounded by its request: too many words is a 422 before any work, and work past the
request's timeout stops instead of running on after the 504."""
from __future__ import annotations

import time

from mmret.eval.explain import WORD_BATCH

from .conftest import ColourEncoder, client_for

SECONDS_PER_TEXT = 0.05


class SlowTexts(ColourEncoder):
    """Counts the texts it embeds, each taking SECONDS_PER_TEXT."""

    embedded = 0

    def embed_prepared(self, modality, batch):
        if modality == "text":
            time.sleep(SECONDS_PER_TEXT * len(batch))
            SlowTexts.embedded += len(batch)
        return super().embed_prepared(modality, batch)


def test_too_many_words_is_422(served):
    client, _, root = served
    red = str((root / "red.png").resolve())
    answer = client.get("/api/explain", params={"id": red, "text": " ".join(["red"] * 65)})
    assert answer.status_code == 422 and "at most 64 words" in answer.json()["detail"]
    assert client.get("/api/explain", params={"id": red, "text": "a red square"}).status_code == 200


def test_work_past_the_timeout_stops(tmp_path, media_root, monkeypatch):
    from tests.serve import conftest

    monkeypatch.setattr(conftest, "ColourEncoder", SlowTexts)
    words = 64  # 3.2 s of embedding against a 1 s timeout
    with client_for(tmp_path / "c", media_root, tmp_path / "t", request_timeout=1.0) as client:
        SlowTexts.embedded = 0
        red = str((media_root / "red.png").resolve())
        answer = client.get("/api/explain", params={"id": red, "text": " ".join(["red"] * words)})
        assert answer.status_code == 504
        time.sleep(words * SECONDS_PER_TEXT + 0.5)  # what the whole explanation would have taken
        # the query text, what fits in the second, and the batch running at the deadline
        assert SlowTexts.embedded <= 1 + 1.0 / SECONDS_PER_TEXT + WORD_BATCH, f"{SlowTexts.embedded} texts embedded"
