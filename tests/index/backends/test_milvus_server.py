"""mmret against a running Milvus server (conftest.py starts one per session): what a user meets when the server
is too old, down, or asked with credentials that must not be shown."""
from __future__ import annotations

import socket

import pytest

from mmret.errors import Unavailable
from mmret.index.backend import create_collection
from mmret.index.values import CollectionError

SECRET = "pa55-w0rd-x"


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_server_that_is_down_is_one_line_naming_the_address_and_exit_code_7(run):
    port = closed_port()
    code, out, err = run("info", "--collection", f"milvus://root:{SECRET}@127.0.0.1:{port}/photos")
    assert code == Unavailable.exit_code == 7 and out == ""
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert f"milvus://root@127.0.0.1:{port}/photos: cannot connect to Milvus" in err and SECRET not in err


def test_a_token_from_the_environment_is_used_and_never_shown(run, monkeypatch, milvus_server):
    monkeypatch.setenv("MMRET_MILVUS_TOKEN", f"{milvus_server.user}:{milvus_server.password}")
    code, _, err = run("info", "--collection", milvus_server.uri(credentials=False))
    # past authentication: refused for its version, or no such collection
    assert (code, "needs Milvus 2.5" in err) == (2, True) if milvus_server.too_old else code == 3
    assert milvus_server.password not in err and "Traceback" not in err
    monkeypatch.setenv("MMRET_MILVUS_TOKEN", f"{milvus_server.user}:{SECRET}")  # a wrong password
    code, _, err = run("info", "--collection", milvus_server.uri(credentials=False))
    assert code != 0 and "Traceback" not in err and SECRET not in err and f"127.0.0.1:{milvus_server.port}" in err


def test_an_old_server_is_refused_at_once_naming_its_version(run, milvus_server):
    if not milvus_server.too_old:
        pytest.skip(f"the server is {milvus_server.version}, recent enough")
    place = milvus_server.uri()
    with pytest.raises(CollectionError, match=r"the Milvus server is v?2\.\d[^;]*; mmret needs Milvus 2\.5 or later"):
        create_collection(place, "test-model", {"shared": 4})
    code, out, err = run("info", "--collection", place)
    assert code == 2 and out == "" and "needs Milvus 2.5 or later" in err and milvus_server.password not in err
    assert err.strip().count("\n") == 0 and "Traceback" not in err
