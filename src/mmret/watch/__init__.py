"""Watched folders: a collection kept in step with folders as files appear, change, move and vanish."""
from .watcher import FolderWatcher, check_folders

__all__ = ["FolderWatcher", "check_folders"]
