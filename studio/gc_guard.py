"""Python's cycle collector, run on the GUI thread only while a studio window is open.

The collector runs in whichever thread happens to allocate when a generation fills up;
with worker threads busy (previs, loading takes, the engine), that is often not the GUI
thread. A cycle holding a Qt object then destroys it on a worker thread, which crashes or
deadlocks Qt (seen here as a pyqtgraph plot, dropped when the camera editor showed other
curves, freed from a previs worker). The remedy pyqtgraph ships
(`pyqtgraph.util.garbage_collector`): switch automatic collection off and collect on a GUI
timer instead. Reference-counted, so several windows (tests) share it, and collection is
switched back on when the last one closes.
"""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject, QTimer

_lock = threading.Lock()
_holders = 0
_was_enabled = True


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
        self._threshold = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.collect_if_due)
        self._timer.start(interval_ms)

    def collect_if_due(self) -> None:
        """What automatic collection would have done by now, generation by generation."""
        counts = gc.get_count()
        if counts[0] > self._threshold[0]:
            gc.collect(0)
            if counts[1] > self._threshold[1]:
                gc.collect(1)
                if counts[2] > self._threshold[2]:
                    gc.collect(2)

    def release(self) -> None:
        """The window is closing and its threads have stopped: back to automatic collection."""
        global _holders
        if self._released:
            return
        self._released = True
        self._timer.stop()
        gc.collect()  # on this (the GUI) thread, while we still can
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
