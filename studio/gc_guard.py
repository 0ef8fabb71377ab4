"""Python's cycle collector, run on the GUI thread only while a studio window is open.

The collector runs in whichever thread happens to allocate when a generation fills up;
with worker threads busy (previs, loading takes, the engine), that is often not the GUI
thread. A cycle holding a Qt object then destroys it on a worker thread, which crashes or
deadlocks Qt (seen here as a pyqtgraph plot, dropped when the camera editor showed other
curves, freed from a previs worker). The remedy pyqtgraph ships
(`pyqtgraph.util.garbage_collector`): switch automatic collection off and collect on a GUI
timer instead. Reference-counted, so several windows (tests) share it, and collection is
switched back on when the last one closes.

A full collection walks every object the process holds, and a studio holds torch, Qt and
numpy's hundreds of thousands from start-up: about 50 ms on the GUI thread each time, a
visible hitch. So, as CPython does, a full collection waits until objects that survived
younger collections since the last one amount to a quarter of those it kept, here read as
at most one every `FULL_EVERY_S` seconds; and the objects alive once the window is up are
frozen (`gc.freeze`): they live as long as the process, and later collections skip them.
"""

from __future__ import annotations

import gc
import threading
import time

from PySide6.QtCore import QObject, QTimer

_lock = threading.Lock()
_holders = 0
_was_enabled = True
_frozen = False

#: the least time between two full (generation 2) collections
FULL_EVERY_S = 20.0


class GuiThreadCollector(QObject):
    """While alive (until `release`), the cycle collector runs only from this timer."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = 500) -> None:
        super().__init__(parent)
        global _holders, _was_enabled
        with _lock:
            if _holders == 0:
                _was_enabled = gc.isenabled()
                gc.disable()
            _holders += 1
        self._released = False
        self._last_full = time.monotonic()
        self._threshold = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.collect_if_due)
        self._timer.start(interval_ms)

    def freeze_startup(self) -> None:
        """Collect once and freeze what is alive: the window, torch, Qt (once a process)."""
        global _frozen
        with _lock:
            if _frozen:
                return
            _frozen = True
        gc.collect()
        gc.freeze()
        self._last_full = time.monotonic()

    def collect_if_due(self) -> None:
        """What automatic collection would have done by now, generation by generation."""
        if not _frozen:  # a window that did not say it was built: its first tick
            self.freeze_startup()
            return
        counts = gc.get_count()
        if counts[0] > self._threshold[0]:
            gc.collect(0)
            if counts[1] > self._threshold[1]:
                gc.collect(1)
                now = time.monotonic()
                if counts[2] > self._threshold[2] and now - self._last_full >= FULL_EVERY_S:
                    gc.collect(2)
                    self._last_full = now

    def release(self) -> None:
        """The window is closing and its threads have stopped: back to automatic collection."""
        global _holders, _frozen
        if self._released:
            return
        self._released = True
        self._timer.stop()
        gc.collect()  # on this (the GUI) thread, while we still can
        with _lock:
            _holders -= 1
            if _holders == 0:
                if _frozen:  # what start-up froze may be garbage by now: let it be found
                    gc.unfreeze()
                    _frozen = False
                    gc.collect()
                if _was_enabled:
                    gc.enable()
