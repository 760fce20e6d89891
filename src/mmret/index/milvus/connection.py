"""From a location to a Milvus client and collection name.

    photos.db                          Milvus Lite: the database (a directory) holds one mmret collection
    milvus://host:19530/photos         the collection `photos` on a Milvus server or cluster (default database)
    milvus://host:19530/media/photos   ... in the database `media`
    milvus://user:password@host:19530/photos   with authentication (or a token in MMRET_MILVUS_TOKEN)

Messages and `Collection.path` show a server location without its password (`shown`). mmret needs a Milvus
server of version 2.5 or later: its schema has nullable fields and its filters test `is null` (Milvus 2.5);
a Milvus 2.3 server (the `milvus` PyPI package) accepts everything else mmret sends, and is refused at once.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

import grpc
from pymilvus import MilvusClient, MilvusException

from mmret.errors import BadInput
from mmret.index.checks import CollectionError
from mmret.index.values import CollectionConflict, CollectionUnreachable

LITE_COLLECTION = "mmret"  # the collection's name inside a Milvus Lite file
TIMEOUT_VARIABLE = "MMRET_MILVUS_TIMEOUT"  # seconds to wait for a server to connect and to answer each call
DEFAULT_TIMEOUT = 60.0  # one answer; an index build or compaction is polled in short calls, a big load may need more
TOKEN_VARIABLE = "MMRET_MILVUS_TOKEN"  # "user:password" or an API key, for URIs without credentials
OLDEST_SERVER = (2, 5)  # nullable fields and `is null` filters
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# pymilvus logs each failed call with a traceback (and warns on every query iterator); mmret reports the
# failure itself, once, as a CollectionError naming the collection.
logging.getLogger("pymilvus").setLevel(logging.CRITICAL)


def connect(location: str | Path) -> tuple[MilvusClient, str]:
    """A client for the location and the collection name; CollectionError names the location and the reason."""
    try:
        if isinstance(location, Path):
            location.parent.mkdir(parents=True, exist_ok=True)
            try:
                return MilvusClient(str(location)), LITE_COLLECTION
            except MilvusException as error:
                raise CollectionConflict(f"{location}: cannot open Milvus Lite ({error.message}); a Milvus Lite "
                                         "database is open in one process at a time, is another mmret using it?") from None
        uri, database, name, token = _server(location)
        seconds = timeout()
        client = TimedClient(MilvusClient(uri=uri, db_name=database, token=token, timeout=seconds), seconds)
        _check_version(client, location)
        return client, name
    except MilvusException as error:
        raise CollectionUnreachable(f"{shown(location)}: cannot connect to Milvus: {error.message}") from None
    except OSError as error:
        raise CollectionError(f"{location}: cannot open Milvus Lite: {error}") from None


def exists_at(location: str | Path) -> bool:
    """Whether the location holds a collection (a missing Milvus Lite file is not created to find out)."""
    if isinstance(location, Path) and not location.exists():
        return False
    client, name = connect(location)
    try:
        return client.has_collection(name)
    finally:
        client.close()


def timeout() -> float:
    """Seconds from MMRET_MILVUS_TIMEOUT (default 60); BadInput when it is not a positive number."""
    text = os.environ.get(TIMEOUT_VARIABLE, "")
    try:
        seconds = float(text) if text else DEFAULT_TIMEOUT
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise BadInput(f"{TIMEOUT_VARIABLE}={text!r}: expected a positive number of seconds")
    return seconds


class TimedClient:
    """A MilvusClient whose calls to a server give up after `seconds` (pymilvus waits forever by default)."""

    def __init__(self, client: MilvusClient, seconds: float):
        self._client, self._seconds = client, seconds

    def __getattr__(self, name: str):
        method = getattr(self._client, name)
        if callable(method) and "timeout" in inspect.signature(method).parameters:
            return functools.partial(method, timeout=self._seconds)
        return method


def shown(location: str | Path) -> str | Path:
    """The location as messages show it: a server URI without its password."""
    if isinstance(location, Path):
        return location
    parts = urlsplit(location)
    if parts.password is None:
        return location
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[0].split(":", 1)[0] + "@"
                          + parts.netloc.rsplit("@", 1)[1]).geturl()


def _check_version(client: MilvusClient, location: str) -> None:
    version = client.get_server_version()
    found = re.match(r"v?(\d+)\.(\d+)", version)
    if found and (int(found[1]), int(found[2])) < OLDEST_SERVER:
        client.close()
        raise CollectionError(f"{shown(location)}: the Milvus server is {version}; mmret needs Milvus "
                              f"{'.'.join(map(str, OLDEST_SERVER))} or later (nullable fields, `is null` filters)")


def _server(location: str) -> tuple[str, str, str, str]:
    parts = urlsplit(location)
    names = [unquote(part) for part in parts.path.split("/") if part]
    if not parts.hostname or len(names) not in (1, 2) or not all(_NAME.fullmatch(n) for n in names):
        raise CollectionError(f"{shown(location)}: expected milvus://HOST:PORT/NAME or milvus://HOST:PORT/DATABASE/NAME, "
                              "names of letters, digits and '_' (not starting with a digit)")
    token = f"{unquote(parts.username)}:{unquote(parts.password or '')}" if parts.username else \
        os.environ.get(TOKEN_VARIABLE, "")
    database = names[0] if len(names) == 2 else "default"
    return f"http://{parts.hostname}:{parts.port or 19530}", database, names[-1], token


@contextmanager
def milvus_errors(location: str | Path, what: str) -> Iterator[None]:
    """Milvus's errors as CollectionError naming the location and what failed."""
    try:
        yield
    except MilvusException as error:
        raise CollectionError(f"{shown(location)}: {what}: {error.message}") from None
    except grpc.RpcError as error:  # pymilvus passes a call's deadline or a lost connection through as is
        raise CollectionUnreachable(f"{shown(location)}: {what}: the Milvus server did not answer "
                                    f"({error.code().name}; {TIMEOUT_VARIABLE}={timeout():g} s)") from None
