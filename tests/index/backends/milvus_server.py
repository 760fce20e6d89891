"""A real Milvus standalone server for the tests, from the PyPI package `milvus` (2.3.x: the server binary is in its
wheel), on free loopback ports with its data in a temporary folder; or your own server named by MMRET_TEST_MILVUS.

    MMRET_TEST_MILVUS=milvus://root:Milvus@my-host:19530 pytest tests/index/backends
"""
from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from mmret.index.milvus.connection import OLDEST_SERVER

OWN_SERVER = "MMRET_TEST_MILVUS"
USER, PASSWORD = "root", "t3st-Secr3t"  # authentication is on, as on a production server
FIRST_PASSWORD = "Milvus"  # root's password on a new server


@dataclass
class ServerUnderTest:
    host: str
    port: int
    user: str
    password: str
    launcher: object | None = None  # milvus.MilvusServer when these tests started the server

    @cached_property
    def version(self) -> str:
        from pymilvus import MilvusClient
        client = MilvusClient(uri=f"http://{self.host}:{self.port}", token=f"{self.user}:{self.password}")
        try:
            return client.get_server_version()
        finally:
            client.close()

    @property
    def too_old(self) -> str | None:
        """Why mmret refuses this server (see index/milvus/connection.py), or None."""
        found = re.match(r"v?(\d+)\.(\d+)", version := self.version)
        if found and (int(found[1]), int(found[2])) < OLDEST_SERVER:
            return f"the Milvus server here is {version}; mmret needs 2.5 or later (set {OWN_SERVER} to test yours)"
        return None

    def uri(self, name: str | None = None, credentials: bool = True) -> str:
        """milvus://[USER:PASSWORD@]HOST:PORT/NAME, a new collection name unless one is given."""
        login = f"{self.user}:{self.password}@" if credentials and self.user else ""
        return f"milvus://{login}{self.host}:{self.port}/{name or 't_' + uuid.uuid4().hex[:12]}"

    @property
    def pid(self) -> int | None:
        return self.launcher.server_proc.pid if self.launcher and self.launcher.server_proc else None

    def stop(self) -> None:
        if self.launcher:
            self.launcher.stop()  # only the process it started: terminate, then kill after a second


def start_server(data_dir: Path) -> ServerUnderTest:
    """The server to test against; RuntimeError with the reason when none can be started here."""
    if own := os.environ.get(OWN_SERVER):
        parts = urlsplit(own)
        return ServerUnderTest(parts.hostname, parts.port or 19530, parts.username or "", parts.password or "")
    try:
        from milvus import MilvusServer
    except ImportError as error:
        raise RuntimeError(f"no Milvus server to test against: {error} (pip install 'milvus==2.3.5', or set "
                           f"{OWN_SERVER}=milvus://USER:PASSWORD@HOST:PORT)") from None
    launcher = MilvusServer(data_dir=str(data_dir))
    launcher.config.set("authorization_enabled", True)
    try:
        launcher.start()  # picks free ports from 19530 up, binds 127.0.0.1, waits for /healthz
    except (OSError, RuntimeError, TimeoutError) as error:
        launcher.stop()
        raise RuntimeError(f"the Milvus server from the `milvus` package did not start here: {error} "
                           f"(logs in {data_dir / 'logs'})") from None
    from pymilvus import MilvusClient
    client = MilvusClient(uri=f"http://127.0.0.1:{launcher.listen_port}", token=f"{USER}:{FIRST_PASSWORD}")
    client.update_password(USER, FIRST_PASSWORD, PASSWORD)
    client.close()
    return ServerUnderTest("127.0.0.1", launcher.listen_port, USER, PASSWORD, launcher)
