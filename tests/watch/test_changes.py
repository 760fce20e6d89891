"""The watcher's debounce (watch/changes.py): reads and the collection's own folder wake nothing; a burst is one
batch once it is quiet; changes that never pause still give a batch after `longest`; a stop ends the wait."""
import threading
import time

from watchdog.events import (
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileMovedEvent,
    FileOpenedEvent,
)

from mmret.watch.changes import PendingChanges


def _waiting(changes, quiet, longest):
    """wait_quiet on a thread; returns (the thread, the result list, the stop event)."""
    result, stop = [], threading.Event()
    thread = threading.Thread(target=lambda: result.append((changes.wait_quiet(quiet, longest, stop),
                                                            time.monotonic())))
    thread.start()
    return thread, result, stop


def test_reads_and_the_collections_own_folder_are_not_changes(tmp_path):
    changes = PendingChanges([tmp_path / "collection"])
    changes.on_any_event(FileOpenedEvent(str(tmp_path / "a.jpg")))
    changes.on_any_event(FileClosedNoWriteEvent(str(tmp_path / "a.jpg")))
    changes.on_any_event(FileCreatedEvent(str(tmp_path / "collection" / "segment.npy")))
    assert changes.count == 0
    changes.on_any_event(FileMovedEvent(str(tmp_path / "collection" / "x.txt"), str(tmp_path / "x.txt")))
    assert changes.count == 1  # moved out of it into the folder: a change


def test_a_burst_is_one_batch_after_the_quiet_period(tmp_path):
    changes = PendingChanges([])
    thread, result, _ = _waiting(changes, quiet=0.3, longest=30)
    for number in range(20):
        changes.on_any_event(FileCreatedEvent(str(tmp_path / f"{number}.txt")))
    last = time.monotonic()
    thread.join(10)
    count, returned = result[0]
    assert count == 20 and returned - last >= 0.3


def test_changes_that_never_pause_still_give_batches_and_stop_ends_the_wait(tmp_path):
    changes = PendingChanges([])
    thread, result, _ = _waiting(changes, quiet=0.5, longest=1.0)
    first = time.monotonic()
    while thread.is_alive() and time.monotonic() - first < 10:
        changes.on_any_event(FileCreatedEvent(str(tmp_path / "busy.txt")))
        time.sleep(0.05)  # never quiet for 0.5 s
    count, returned = result[0]
    assert count > 1 and 1.0 <= returned - first < 10

    thread, result, stop = _waiting(changes, quiet=0.3, longest=1.0)
    time.sleep(0.2)
    stop.set()
    changes.wake()
    thread.join(10)
    assert result[0][0] == 0
