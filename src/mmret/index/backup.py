"""A consistent copy of an embedded collection while writers keep committing: one committed generation, whole.

Inside one SQLite read transaction (its shared lock keeps writers from committing until it ends, see
generation.py) the database is copied with SQLite's online backup and the segment and index files that generation
lists are hard-linked (copied across file systems) into a temp folder beside the destination. The read then ends
and the links are replaced by copies of their own, so the backup shares no file with the source; the folder is
renamed to the destination last, so a destination that exists is always a whole backup.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
from pathlib import Path

from mmret.errors import BadInput, Conflict, NotFound, StorageFailure
from mmret.index.checks import DB_FILE
from mmret.index.collection import VectorCollection
from mmret.index.collection_base import CollectionBase
from mmret.index.locking import fsync_directory


def embedded_directory(collection: CollectionBase, what: str) -> Path:
    """The folder of an embedded collection; BadInput for a Milvus one, which Milvus itself backs up."""
    if not isinstance(collection, VectorCollection):
        raise BadInput(f"{collection.path}: {what} is for embedded collections (a folder); back up and check a "
                       "Milvus collection with Milvus's own tools (milvus-backup)")
    return collection.path


def backup_collection(source: Path, dest: str | os.PathLike) -> int:
    """Copy the collection in `source` to the new folder `dest`; the generation copied."""
    dest = Path(dest).expanduser()
    if dest.exists():
        raise Conflict(f"{dest}: already exists; a backup is written to a new folder")
    if not dest.parent.is_dir():
        raise NotFound(f"{dest.parent}: no such folder to write the backup {dest.name} in")
    temp = dest.parent / f".{dest.name}.backup-{os.getpid()}"
    try:
        temp.mkdir()
        generation, files = _copy_one_generation(source, temp)
        for name in files:
            _unshare(temp / name)
        fsync_directory(temp)
        if dest.exists():
            raise Conflict(f"{dest}: created by someone else while the backup was written")
        os.rename(temp, dest)
        fsync_directory(dest.parent)
    except OSError as error:
        raise StorageFailure(f"{dest}: backup failed, nothing was written there: {error}") from error
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return generation


def listed_files(db: sqlite3.Connection) -> list[str]:
    """The segment and index files the database's committed generation lists (call inside a read transaction)."""
    files = [f"{name}{suffix}" for (name,) in db.execute("SELECT name FROM segments") for suffix in (".npy",
                                                                                                    ".ids.npy")]
    for (value,) in db.execute("SELECT value FROM meta WHERE key LIKE 'index:%'"):
        built = json.loads(value)
        if built and built.get("file"):
            files.append(built["file"])
    return files


def _copy_one_generation(source: Path, temp: Path) -> tuple[int, list[str]]:
    db = sqlite3.connect(source / DB_FILE, isolation_level=None)
    try:
        db.execute("BEGIN")
        (generation,) = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()  # takes the lock
        files = listed_files(db)
        copy = sqlite3.connect(temp / DB_FILE)
        try:
            db.backup(copy)
        finally:
            copy.close()
        for name in files:
            _link_or_copy(source / name, temp / name)
        db.execute("COMMIT")
    finally:
        db.close()
    _fsync(temp / DB_FILE)
    return json.loads(generation), files


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError as error:
        if error.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        shutil.copyfile(source, target)


def _unshare(path: Path) -> None:
    """Give a linked file its own copy, so that damage to the source's file does not reach the backup."""
    if path.stat().st_nlink > 1:
        copy = path.with_name(path.name + ".copy")
        shutil.copyfile(path, copy)
        os.replace(copy, path)
    _fsync(path)


def _fsync(path: Path) -> None:
    with open(path, "rb") as file:
        os.fsync(file.fileno())
