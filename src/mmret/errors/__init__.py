"""The errors a user can act on. Each message names the file, field or item and the reason.

The surfaces map these types alone: the CLI to one line and an exit code, the server to a status and a JSON body.
Any other exception is a defect in mmret and is reported as an internal error. Each type also derives from the
built-in error a Python caller would expect (BadInput is a ValueError, MissingPackage an ImportError, ...).
"""
from __future__ import annotations

INTERNAL_EXIT_CODE = 70  # EX_SOFTWARE (sysexits.h): the command failed through a defect of its own


class MmretError(Exception):
    """A failure the user can act on; the message says what and why."""

    exit_code = 2
    http_status = 422


class BadInput(MmretError, ValueError):
    """An argument, file, record, filter or setting that cannot be used as given."""


class Forbidden(BadInput):
    """A request for something this server does not expose (a path outside its roots)."""

    http_status = 403


class NotFound(MmretError, LookupError):
    """A collection, item or file that is not there."""

    exit_code = 3
    http_status = 404


class Conflict(MmretError):
    """The request contradicts what is stored (another model's collection, a collection already there)."""

    exit_code = 4
    http_status = 409


class MissingPackage(MmretError, ImportError):
    """An optional part of mmret whose package is not installed; the message names the pip extra."""

    exit_code = 5
    http_status = 501


class StorageFailure(MmretError, OSError):
    """Reading or writing stored data failed (a full disk, a read-only folder); the last commit is kept."""

    exit_code = 6
    http_status = 507


class Unavailable(MmretError, ConnectionError):
    """A server mmret needs (a Milvus server, a Ray cluster) does not answer."""

    exit_code = 7
    http_status = 503
