"""The server answers mmret's own errors with their status and reason; anything else is a 500 that says it is an
internal error and carries the request id under which its traceback is logged."""
from __future__ import annotations

import logging

from fastapi.testclient import TestClient

from mmret.errors import NotFound
from mmret.serve.routes import search


def test_a_defect_is_a_500_with_a_request_id_in_the_body_and_the_log(writable, monkeypatch, caplog):
    client, _, _ = writable

    def broken(*args, **kwargs):
        raise KeyError("segment")

    monkeypatch.setattr(search, "run_search", broken)
    quiet = TestClient(client.app, raise_server_exceptions=False, base_url="http://localhost")
    with caplog.at_level(logging.ERROR, logger="mmret.serve"):
        answer = quiet.get("/api/search", params={"q": "red"})
    body = answer.json()
    assert answer.status_code == 500 and body["detail"].startswith("internal error")
    assert "segment" not in body["detail"]  # the internals stay in the log
    assert answer.headers["X-Request-ID"] == body["request_id"]
    logged = [r for r in caplog.records if body["request_id"] in r.getMessage()]
    assert logged and "KeyError: 'segment'" in caplog.text


def test_an_own_error_is_its_status_with_the_reason(writable, monkeypatch):
    client, _, _ = writable

    def gone(*args, **kwargs):
        raise NotFound("like 'x': no stored item has this id or path")

    monkeypatch.setattr(search, "run_search", gone)
    answer = client.get("/api/search", params={"q": "red"})
    assert answer.status_code == 404 and answer.json() == {"detail": "like 'x': no stored item has this id or path"}
    assert len(answer.headers["X-Request-ID"]) == 32


def test_a_plain_request_id_is_kept(writable):
    client, _, _ = writable
    answer = client.get("/healthz", headers={"X-Request-ID": "trace-42"})
    assert answer.headers["X-Request-ID"] == "trace-42"
