"""Export in the background: the engine's delivery (`engine.export`) on a worker thread.

What to export is decided on the GUI thread (`plan_export`), so a later edit cannot change
a running export; the frames are then read, resized and encoded on a worker thread one
take at a time. Progress comes back throttled, and cancelling leaves no file behind (the
engine's writers are atomic).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from engine.errors import Cancelled, InvalidRequest
from engine.export import Delivered, ExportOptions, ExportPlan, plan_export, run_export

from .tasks import Task, TaskRunner

__all__ = ["ExportController", "ExportOptions", "ExportPlan", "plan_export"]


class ExportController(QObject):
    started = Signal(str)  # what is being exported, for the status bar
    progress = Signal(int, int)
    finished = Signal(str)  # the path written; `notes` says what the codec changed
    failed = Signal(str)  # the sentence to show
    cancelled = Signal()

    def __init__(self, tasks: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._task: Task | None = None
        self.notes: tuple[str, ...] = ()  # the last export's notes (a size made legal)

    @property
    def busy(self) -> bool:
        return self._task is not None

    def start(self, plan: ExportPlan) -> None:
        if self._task is not None:
            raise InvalidRequest("An export is already running: wait for it or cancel it.")
        self.started.emit(str(plan.options.path))
        self._task = self._tasks.submit(
            lambda ctx: run_export(plan, ctx.progress, ctx.check),
            on_done=self._on_done,
            on_error=self._on_error,
            on_progress=self.progress.emit,
            name="export",
        )

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def _on_done(self, delivered: Delivered) -> None:
        self._task = None
        self.notes = delivered.notes
        self.finished.emit(str(delivered.path))

    def _on_error(self, error: BaseException) -> None:
        self._task = None
        if isinstance(error, Cancelled):
            self.cancelled.emit()
        else:
            self.failed.emit(str(error))
