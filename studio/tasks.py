"""Background work for the GUI (saving takes, loading clips, exporting, autosave writes).

Anything that touches the disk or decodes images runs here, never on the GUI thread, so
the window keeps painting. Results, errors and progress come back as queued signals, so
the callbacks run on the GUI thread and may touch widgets and the document.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from engine.errors import Cancelled
from engine.threads import yield_to_foreground

log = logging.getLogger(__name__)

#: progress reports closer together than this are dropped (the last one always goes)
_PROGRESS_INTERVAL_S = 0.03


class TaskContext:
    """What a background function gets: progress reporting and a cancel flag."""

    def __init__(self, relay: _Relay) -> None:
        self._relay = relay
        self._cancel = threading.Event()
        self._last_progress = 0.0

    def progress(self, done: int, total: int) -> None:
        """Report progress (throttled); raises `Cancelled` if the task was cancelled."""
        self.check()
        now = time.monotonic()
        if done >= total or now - self._last_progress >= _PROGRESS_INTERVAL_S:
            self._last_progress = now
            self._relay.progress.emit(int(done), int(total))

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()


class _Relay(QObject):
    """Lives on the GUI thread; signals emitted from the pool arrive there queued."""

    done = Signal(object)
    failed = Signal(object)
    progress = Signal(int, int)


class _Runnable(QRunnable):
    def __init__(self, fn: Callable[[TaskContext], Any], context: TaskContext, relay: _Relay):
        super().__init__()
        self._fn = fn
        self._context = context
        self._relay = relay

    def run(self) -> None:
        yield_to_foreground()  # a pool thread: the GUI thread comes first
        try:
            result = self._fn(self._context)
        except BaseException as error:  # every failure goes back to the GUI, none is lost
            self._relay.failed.emit(error)
        else:
            self._relay.done.emit(result)


class Task:
    """A handle on one submitted function: cancel it, ask whether it ended."""

    def __init__(self, name: str, context: TaskContext) -> None:
        self.name = name
        self.context = context
        self.finished = False

    def cancel(self) -> None:
        self.context.cancel()


class TaskRunner(QObject):
    """A small private thread pool; `wait()` at shutdown so no thread outlives the window."""

    def __init__(self, parent: QObject | None = None, max_threads: int = 2) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._live: dict[_Relay, Task] = {}

    def submit(
        self,
        fn: Callable[[TaskContext], Any],
        *,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        name: str = "task",
    ) -> Task:
        """Run `fn(context)` on the pool; the callbacks run later on the GUI thread."""
        relay = _Relay(self)
        context = TaskContext(relay)
        task = Task(name, context)
        self._live[relay] = task

        def finish(callback, value):
            task.finished = True
            self._live.pop(relay, None)
            relay.deleteLater()
            if callback is not None:
                callback(value)
            elif isinstance(value, BaseException) and not isinstance(value, Cancelled):
                log.error("background task %s failed", name, exc_info=value)

        relay.done.connect(lambda result: finish(on_done, result))
        relay.failed.connect(lambda error: finish(on_error, error))
        if on_progress is not None:
            relay.progress.connect(on_progress)
        self._pool.start(_Runnable(fn, context, relay))
        return task

    @property
    def busy(self) -> bool:
        return bool(self._live)

    @property
    def active_threads(self) -> int:
        """Pool threads running a task right now (0 once `wait` returned)."""
        return self._pool.activeThreadCount()

    def cancel_all(self) -> None:
        for task in list(self._live.values()):
            task.cancel()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until every task has returned (shutdown and tests only)."""
        return self._pool.waitForDone(timeout_ms)
