"""The only place that touches `engine.worker.Engine`: its events become Qt signals.

The engine is this machine's `Engine`, or a `FarmClient` (the same face) when the user named
a render farm; `switch_engine` changes which while nothing is queued or running.

The engine calls back on its own thread. The callback only appends to a queue under a
lock and, if no hand-over is pending, posts one queued wake-up to the GUI thread; it never
blocks on the GUI. The GUI thread drains the queue at most every `min_interval_ms` (one
display frame), and previews coalesce: a newer preview for a job replaces an older one
still waiting, so a backend previewing faster than the screen can show never floods the
event loop, and the viewer always gets the latest estimate. The GUI never waits on the
engine; only `shutdown` joins its thread, when the window closes.

Events for jobs this bridge did not submit, or has been told to forget, are dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from engine.backends import Capabilities
from engine.jobs import (
    GenerationRequest,
    JobCancelled,
    JobEvent,
    JobFailed,
    JobFinished,
    JobNotice,
    JobPreview,
    JobProgress,
    JobQueued,
    JobStarted,
)
from engine.worker import Engine, resolve_device

log = logging.getLogger(__name__)

EngineFactory = Callable[[Callable[[JobEvent], None]], Engine]


class _PreviewSlot:
    """A place in the queue for a job's preview; a newer preview retires the older slot."""

    __slots__ = ("event",)

    def __init__(self, event: JobPreview) -> None:
        self.event: JobPreview | None = event


class EngineBridge(QObject):
    job_queued = Signal(str, int)  # job id, jobs ahead
    job_started = Signal(str, str, int)  # job id, backend, total steps
    job_placed = Signal(str, str)  # job id, the farm node running it
    job_progress = Signal(str, int, int, str, object)  # id, step, total, unit, job's clock
    preview_ready = Signal(str, object, int, int, bool)  # job id, frames, step, total, complete
    job_finished = Signal(str, object)  # job id, JobFinished
    job_cancelled = Signal(str)
    job_failed = Signal(str, str, str)  # job id, message, kind
    notice = Signal(str, str, str)  # job id, message, level

    _wake = Signal()

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        engine_factory: EngineFactory | None = None,
        device: str = "auto",
        min_interval_ms: int = 16,
    ) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._queue: deque[JobEvent | _PreviewSlot] = deque()
        self._latest_preview: dict[str, _PreviewSlot] = {}
        self._wake_pending = False
        self._last_drain = 0.0
        self._min_interval_s = min_interval_ms / 1000
        self._tracked: set[str] = set()
        self._capabilities: dict[str, Capabilities] | None = None
        self._closed = False
        self._drain_timer = QTimer(self)
        self._drain_timer.setSingleShot(True)
        self._drain_timer.timeout.connect(self._drain)
        self._wake.connect(self._on_wake, Qt.ConnectionType.QueuedConnection)
        self._device = device
        self._engine = self._make_engine(engine_factory)

    def _make_engine(self, engine_factory: EngineFactory | None):
        if engine_factory is None:
            # Resolved here, while the window is being built: "auto" imports torch to look
            # for a GPU, which holds the GIL long enough to freeze a visible window.
            device = self._device = resolve_device(self._device)
            engine_factory = lambda callback: Engine(callback, device=device, background=True)  # noqa: E731
        return engine_factory(self._on_engine_event)

    def switch_engine(self, engine_factory: EngineFactory | None, timeout: float = 10.0) -> bool:
        """Run later jobs on another engine (None: this machine's); False while busy."""
        if self._closed or self.is_busy():
            return False
        old, self._engine = self._engine, self._make_engine(engine_factory)
        if not old.shutdown(timeout):
            log.warning("the previous engine did not stop within %.0f s", timeout)
        self._capabilities = None
        return True

    # ------------------------------------------------------------------ GUI side API

    def submit(self, request: GenerationRequest) -> str:
        """Queue a job; returns at once. Its events arrive as this object's signals."""
        self._tracked.add(request.job_id)
        try:
            return self._engine.submit(request)
        except RuntimeError:
            self._tracked.discard(request.job_id)
            raise

    def cancel(self, job_id: str | None = None) -> bool:
        """Cancel a queued job, or the running one (`None`: whatever is running)."""
        return self._engine.cancel(job_id)

    def cancel_all(self) -> None:
        self._engine.cancel_all()

    def forget(self, job_id: str) -> None:
        """Stop delivering events for `job_id` (its row was removed, its project closed)."""
        self._tracked.discard(job_id)

    @property
    def running_job(self) -> str | None:
        return self._engine.running_job

    @property
    def pending_jobs(self) -> list[str]:
        return self._engine.pending_jobs

    def capabilities(self) -> dict[str, Capabilities]:
        """Every backend the engine offers, by name; read once, no weights loaded."""
        if self._capabilities is None:
            self._capabilities = self._engine.capabilities()
        return self._capabilities

    def refresh_capabilities(self) -> dict[str, Capabilities]:
        """Read the backends afresh (the model folders changed); models found appear."""
        self._capabilities = None
        return self.capabilities()

    def is_busy(self) -> bool:
        return self._engine.running_job is not None or bool(self._engine.pending_jobs)

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Cancel everything and join the engine thread (window close only)."""
        if self._closed:
            return True
        self._closed = True
        self._drain_timer.stop()
        stopped = self._engine.shutdown(timeout)
        with self._lock:
            self._queue.clear()
            self._latest_preview.clear()
        if not stopped:
            log.warning("the engine thread did not stop within %.0f s", timeout)
        return stopped

    # ------------------------------------------------------------------ engine thread

    def _on_engine_event(self, event: JobEvent) -> None:
        """Called on the engine thread: enqueue, wake the GUI once, return at once."""
        with self._lock:
            if isinstance(event, JobPreview):
                previous = self._latest_preview.get(event.job_id)
                if previous is not None:
                    previous.event = None  # retired: the frames can be freed now
                slot = _PreviewSlot(event)
                self._latest_preview[event.job_id] = slot
                self._queue.append(slot)
            else:
                self._queue.append(event)
            if self._wake_pending:
                return
            self._wake_pending = True
        self._wake.emit()

    # ------------------------------------------------------------------ GUI thread

    def _on_wake(self) -> None:
        if self._closed:
            return
        wait = self._min_interval_s - (time.monotonic() - self._last_drain)
        if wait > 0:
            if not self._drain_timer.isActive():
                self._drain_timer.start(max(1, round(wait * 1000)))
        else:
            self._drain()

    def _drain(self) -> None:
        with self._lock:
            items = list(self._queue)
            self._queue.clear()
            self._latest_preview.clear()
            self._wake_pending = False
        self._last_drain = time.monotonic()
        for item in items:
            if self._closed:
                return
            event = item.event if isinstance(item, _PreviewSlot) else item
            if event is None or event.job_id not in self._tracked:
                continue
            self._deliver(event)

    def _deliver(self, event: JobEvent) -> None:
        job_id = event.job_id
        if isinstance(event, JobPreview):
            self.preview_ready.emit(job_id, event.frames, event.step, event.total, event.complete)
        elif isinstance(event, JobProgress):
            self.job_progress.emit(job_id, event.step, event.total, event.message, event.elapsed_s)
        elif isinstance(event, JobQueued):
            self.job_queued.emit(job_id, event.position)
        elif isinstance(event, JobStarted):
            self.job_started.emit(job_id, event.backend, event.total_steps)
            if event.node:
                self.job_placed.emit(job_id, event.node)
        elif isinstance(event, JobFinished):
            self._tracked.discard(job_id)
            self.job_finished.emit(job_id, event)
        elif isinstance(event, JobCancelled):
            self._tracked.discard(job_id)
            self.job_cancelled.emit(job_id)
        elif isinstance(event, JobFailed):
            self._tracked.discard(job_id)
            log.warning("job %s failed: %s\n%s", job_id, event.message, event.detail)
            self.job_failed.emit(job_id, event.message, event.kind)
        elif isinstance(event, JobNotice):
            self.notice.emit(job_id, event.message, event.level)
