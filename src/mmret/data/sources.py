"""Where items come from: folders of media and text files, single files, and CSV/JSONL/Parquet manifests.

`iter_items` validates every source up front (so a typo fails before hours of encoding), then yields
items lazily. Entries that cannot become an item are reported through `on_skip`, never raised: a stray
README or a bad manifest row costs one line of report, not the run.

A media file's metadata is `folder`, the name of the folder that holds it: the same whichever root (or the file
itself) was given, so indexing a subfolder again never relabels what a wider index stored. A `.txt` or `.md` file
is a text item of its content (see text_files.py). Manifests are read by manifests.py.
"""
from __future__ import annotations

import errno
import os
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from mmret.data.entries import (
    MEDIA_EXTENSIONS,
    Entry,
    OnSkip,
    Skipped,
    SourceError,
    not_utf8,
    unsupported_type,
)
from mmret.data.items import MODALITIES, Item, file_id
from mmret.data.manifests import (
    MANIFEST_READERS,
    check_manifest_columns,
    manifest_entries,
)
from mmret.data.text_files import TEXT_EXTENSIONS, UnreadableText, text_file_content

from ..errors import BadInput

__all__ = ["MEDIA_EXTENSIONS", "Entry", "OnSkip", "Skipped", "SourceError", "check_sources", "iter_items"]


def iter_items(
    paths: Iterable[str | Path] | str | Path,
    modalities: Collection[str] | None = None,
    on_skip: OnSkip | None = None,
    within: Collection[Path] | None = None,
    exclude: Collection[str | Path] = (),
) -> Iterator[Item]:
    """Yield the items found in `paths` (folders, media and text files, manifests), each distinct id once.

    Raises SourceError at call time if any source is unusable. Entries that are not indexable
    (unsupported file type, bad manifest row, modality not in `modalities`, duplicate id) go to
    `on_skip`; with `on_skip=None` they are dropped silently. `within` (resolved folders, a server's roots):
    a manifest row naming a file elsewhere is skipped, as a folder's link leading out of it is. Folders in
    `exclude` (a collection's own folder, inside the folder it indexes) are never walked.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    wanted = _checked_modalities(modalities)
    excluded = frozenset(Path(folder).resolve() for folder in exclude)
    sources = [_open_source(Path(path), excluded, within) for path in paths]
    return _unique_wanted_items(sources, wanted, on_skip or (lambda skipped: None))


def check_sources(paths: Iterable[str | Path]) -> None:
    """Raise SourceError if any source is unusable (missing, or a manifest with an unusable header), reading
    no more than headers: the check to make before creating anything for them."""
    for path in paths:
        _open_source(Path(path), frozenset())


def _checked_modalities(modalities: Collection[str] | None) -> frozenset[str] | None:
    if modalities is None:
        return None
    unknown = set(modalities) - set(MODALITIES)
    if unknown:
        raise BadInput(f"unknown modalities {sorted(unknown)}, expected some of {MODALITIES}")
    return frozenset(modalities)


def _unique_wanted_items(
    sources: list[Callable[[OnSkip], Iterator[Entry]]], wanted: frozenset[str] | None, report: OnSkip
) -> Iterator[Item]:
    seen_ids: set[str] = set()
    for entries in sources:
        for where, item in entries(report):
            if wanted is not None and item.modality not in wanted:
                requested = ", ".join(sorted(wanted))
                report(Skipped(where, f"modality {item.modality!r} not requested (only {requested})"))
            elif item.id in seen_ids:
                report(Skipped(where, f"duplicate of an item already read: {item.id}"))
            else:
                seen_ids.add(item.id)
                yield item


def _open_source(path: Path, excluded: frozenset[Path],
                 within: Collection[Path] | None = None) -> Callable[[OnSkip], Iterator[Entry]]:
    """Check that `path` is usable and return the function that reads its entries."""
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.is_dir():
        return partial(_folder_entries, path, excluded)
    reader = MANIFEST_READERS.get(path.suffix.lower())
    if reader is None:
        return partial(_single_file_entries, path)
    check_manifest_columns(path, reader.columns(path))
    return partial(manifest_entries, path, reader.rows, within)



# --- media and text files, folders ---------------------------------------------------------------


def _single_file_entries(path: Path, report: OnSkip) -> Iterator[Entry]:
    item = _file_item(path, report)
    if item is not None:
        yield str(path), item


def _folder_entries(root: Path, excluded: frozenset[Path], report: OnSkip) -> Iterator[Entry]:
    walk = _Walk(root.resolve(), excluded, report)
    for path in walk.files(root, frozenset({_identity(root)})):
        item = _file_item(path, report)
        if item is not None:
            yield str(path), item


def _file_item(path: Path, report: OnSkip) -> Item | None:
    suffix = path.suffix.lower()
    modality = "text" if suffix in TEXT_EXTENSIONS else MEDIA_EXTENSIONS.get(suffix)
    if modality is None:
        report(Skipped(str(path), unsupported_type(path)))
        return None
    if reason := not_utf8([str(path)]):  # os.scandir keeps such bytes as surrogates, which SQLite cannot store
        report(Skipped(str(path), f"file name is {reason}; rename it"))
        return None
    resolved = file_id(path)
    try:
        text = text_file_content(Path(resolved)) if modality == "text" else None
    except UnreadableText as unreadable:
        report(Skipped(str(path), str(unreadable)))
        return None
    return Item(id=resolved, modality=modality, path=resolved, text=text, metadata={"folder": Path(resolved).parent.name})



@dataclass(frozen=True)
class _Walk:
    """Files under a folder in sorted depth-first order, skipping hidden names, the `excluded` folders, symlink
    loops and links that lead out of `root` (the resolved folder being indexed; `ln -s .. up` must not index its
    siblings). Lists one folder at a time, so the first file comes without reading the whole tree."""

    root: Path
    excluded: frozenset[Path]
    report: OnSkip

    def files(self, folder: Path, ancestors: frozenset[tuple[int, int]]) -> Iterator[Path]:
        """`ancestors` holds the (device, inode) of each folder on the way down, to catch loops."""
        for entry in _sorted_entries(folder, self.report):
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            if entry.is_symlink() and (refusal := _unfollowable_link(path, self.root)):
                self.report(Skipped(str(path), refusal))
            elif entry.is_dir():
                yield from self._folder_files(path, ancestors)
            elif entry.is_file():
                yield path
            else:
                self.report(Skipped(str(path), "not a regular file (a device, socket or pipe)"))

    def _folder_files(self, path: Path, ancestors: frozenset[tuple[int, int]]) -> Iterator[Path]:
        if path.resolve() in self.excluded:
            return
        identity = _identity(path)
        if identity in ancestors:
            self.report(Skipped(str(path), "symlink loop: leads back to a folder above it"))
        else:
            yield from self.files(path, ancestors | {identity})


def _unfollowable_link(link: Path, root: Path) -> str | None:
    """Why a symlink is not followed, or None when its target exists inside `root`."""
    try:
        os.stat(link)
    except OSError as err:
        return "symlink loop: the link never resolves" if err.errno == errno.ELOOP else "broken symlink"
    target = Path(os.path.realpath(link))
    if not target.is_relative_to(root):
        return "symlink leads outside the indexed folder; index its target as a source of its own"
    return None


def _sorted_entries(folder: Path, report: OnSkip) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            return sorted(entries, key=lambda entry: entry.name)
    except OSError as err:
        report(Skipped(str(folder), f"cannot read folder: {err.strerror}"))
        return []


def _identity(folder: Path) -> tuple[int, int]:
    stat = folder.stat()
    return stat.st_dev, stat.st_ino
