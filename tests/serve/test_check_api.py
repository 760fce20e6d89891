"""`GET /api/check`: the operator's view of `mmret check` over HTTP; it needs the write key and names a damaged
segment file of the served collection."""
from __future__ import annotations

import sqlite3

from mmret.index.checks import DB_FILE

from .conftest import KEY

AUTH = {"X-API-Key": KEY}


def test_check_reports_a_whole_collection_then_names_a_damaged_segment(writable):
    client, folder, _ = writable
    assert client.get("/api/check").status_code == 401
    assert client.get("/api/check", headers={"X-API-Key": "wrong-key-0123456789"}).status_code == 403
    whole = client.get("/api/check", headers=AUTH)
    assert whole.status_code == 200 and whole.json() == {"ok": True, "problems": []}
    (name,) = sqlite3.connect(folder / DB_FILE).execute("SELECT name FROM segments LIMIT 1").fetchone()
    data = bytearray((folder / f"{name}.npy").read_bytes())
    data[-1] ^= 0x10
    (folder / f"{name}.npy").write_bytes(bytes(data))
    damaged = client.get("/api/check", headers=AUTH).json()
    assert damaged["ok"] is False
    assert [problem["file"] for problem in damaged["problems"]] == [f"{name}.npy"]
    assert "SHA-256" in damaged["problems"][0]["problem"]
