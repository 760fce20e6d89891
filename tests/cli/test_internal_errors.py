"""Only mmret's own error types are user errors: each has its exit code and one line; any other exception is an
internal error, said as such with its traceback and an exit code of its own."""
from __future__ import annotations

import pytest

from mmret.cli import collection, main
from mmret.errors import (
    INTERNAL_EXIT_CODE,
    BadInput,
    Conflict,
    MissingPackage,
    NotFound,
    StorageFailure,
    Unavailable,
)


def test_a_defect_is_an_internal_error_not_bad_input(monkeypatch, capsys, tmp_path):
    def broken(args):
        raise KeyError("segment")

    monkeypatch.setattr(collection, "_info", broken)
    code = main(["info", "--collection", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == INTERNAL_EXIT_CODE and code != BadInput.exit_code
    assert "Traceback" in err and "KeyError: 'segment'" in err
    assert err.strip().splitlines()[-1].startswith("mmret: internal error: a defect in mmret")


@pytest.mark.parametrize("error", [ValueError("x"), OSError("x"), RuntimeError("x"), ImportError("x")])
def test_built_in_errors_are_no_longer_taken_for_bad_input(monkeypatch, capsys, tmp_path, error):
    def broken(args):
        raise error

    monkeypatch.setattr(collection, "_info", broken)
    assert main(["info", "--collection", str(tmp_path / "c")]) == INTERNAL_EXIT_CODE
    assert "mmret: internal error" in capsys.readouterr().err


def test_each_error_type_has_its_own_exit_code(monkeypatch, capsys, tmp_path):
    kinds = (BadInput, NotFound, Conflict, MissingPackage, StorageFailure, Unavailable)
    codes = {kind.exit_code for kind in kinds}
    assert len(codes) == len(kinds) and INTERNAL_EXIT_CODE not in codes and 0 not in codes

    def missing(args):
        raise NotFound("c: no collection here")

    monkeypatch.setattr(collection, "_info", missing)
    assert main(["info", "--collection", str(tmp_path / "c")]) == NotFound.exit_code
    assert capsys.readouterr().err == "mmret: error: c: no collection here\n"
