"""`mmret serve --watch DIR` (a real server process): a file written into the folder is found by the server's search
within seconds, a deleted one is gone from its answers; a missing folder stops the server from starting."""
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.parse
import urllib.request

from .watching import ENV, mmret, until


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _found(base: str, text: str) -> list[str]:
    query = urllib.parse.urlencode({"q": text, "k": 5})
    with urllib.request.urlopen(f"{base}/api/search?{query}", timeout=30) as answer:
        return [hit["path"] for hit in json.load(answer)["results"]]


def _ready(base: str) -> bool:
    try:
        urllib.request.urlopen(f"{base}/readyz", timeout=2).read()
        return True
    except OSError:
        return False


def test_serve_watch_indexes_and_removes_what_the_folder_gets_and_loses(tmp_path):
    folder, collection = tmp_path / "notes", tmp_path / "c"
    folder.mkdir()
    (folder / "cat.txt").write_text("a cat sleeping on a sofa")
    assert mmret("index", folder, "--collection", collection).returncode == 0
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with open(tmp_path / "serve.log", "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "mmret.cli", "serve", "--collection", str(collection),
                                   "--port", str(port), "--watch", str(folder)], stdout=log,
                                  stderr=subprocess.STDOUT, env=ENV, start_new_session=True)
    try:
        assert until(lambda: _ready(base), 300), (tmp_path / "serve.log").read_text()
        boat = str((folder / "boat.txt").resolve())
        (folder / "boat.txt").write_text("a sailing boat on the ocean")
        assert until(lambda: boat in _found(base, "a boat at sea"), 60), (tmp_path / "serve.log").read_text()
        (folder / "cat.txt").unlink()
        assert until(lambda: _found(base, "a cat") == [boat], 60), (tmp_path / "serve.log").read_text()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def test_serve_watch_of_a_missing_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("a note")
    assert mmret("index", folder, "--collection", tmp_path / "c").returncode == 0
    answer = mmret("serve", "--collection", tmp_path / "c", "--watch", tmp_path / "nowhere")
    assert answer.returncode == 2 and "nowhere: no such folder to watch" in answer.stderr
