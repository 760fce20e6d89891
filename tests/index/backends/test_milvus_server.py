"""mmret against a running Milvus server (conftest.py starts one per session): what a user meets when the server
is too old, down, or asked with credentials that must not be shown."""
from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from mmret.errors import Unavailable
from mmret.index.backend import create_collection
from mmret.index.milvus.connection import connect, milvus_errors
from mmret.index.values import CollectionError, CollectionUnreachable

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


def test_a_server_that_does_not_answer_is_given_up_after_the_timeout(run, monkeypatch):
    monkeypatch.setenv("MMRET_MILVUS_TIMEOUT", "1.5")
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        started = time.monotonic()
        code, _, err = run("info", "--collection", f"milvus://127.0.0.1:{port}/photos")
    assert code == 7 and f"milvus://127.0.0.1:{port}/photos: cannot connect to Milvus" in err
    assert time.monotonic() - started < 10


def test_each_call_to_a_stalled_server_gives_up_after_the_timeout(monkeypatch, milvus_server):
    if not milvus_server.pid:
        pytest.skip("stalls only a server these tests started")
    monkeypatch.setenv("MMRET_MILVUS_TIMEOUT", "1.5")
    monkeypatch.setattr("mmret.index.milvus.connection.OLDEST_SERVER", (2, 0))  # calls a 2.3 server takes
    client, name = connect(milvus_server.uri())
    os.kill(milvus_server.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        expected = (r"^milvus://root@127\.0\.0\.1:\d+/t_\w+: cannot read: the Milvus server did not answer "
                    r"\(DEADLINE_EXCEEDED; MMRET_MILVUS_TIMEOUT=1\.5 s\)$")
        with pytest.raises(CollectionUnreachable, match=expected), milvus_errors(milvus_server.uri(), "cannot read"):
            client.has_collection(name)
        assert time.monotonic() - started < 10
    finally:
        os.kill(milvus_server.pid, signal.SIGCONT)
        client.close()
    assert not connect(milvus_server.uri())[0].has_collection(name)  # answering again


def test_a_bad_timeout_setting_is_named(run, monkeypatch):
    monkeypatch.setenv("MMRET_MILVUS_TIMEOUT", "soon")
    code, _, err = run("info", "--collection", "milvus://127.0.0.1:1/photos")
    assert code == 2 and "MMRET_MILVUS_TIMEOUT='soon': expected a positive number of seconds" in err
