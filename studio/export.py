"""Export in the background: the engine's delivery (`engine.export`) on a worker thread.

What to export is decided on the GUI thread (`plan_export`), so a later edit cannot change
a running export; the frames are then read, resized and encoded on a worker thread one
take at a time. Progress comes back throttled, and cancelling leaves no file behind (the
engine's writers are atomic).

The Export dialog's choices are remembered per project (`remembered_options`), so the
next Export opens as the last one was set; "Generate missing" hands the export to
`ExportAfterGeneration`, which starts it once every shot it waits for has a take.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from engine.errors import Cancelled, InvalidRequest
from engine.export import Delivered, ExportOptions, ExportPlan, plan_export, run_export
from engine.project import Project

from . import settings
from .document import Document
from .tasks import Task, TaskRunner

log = logging.getLogger(__name__)

__all__ = [
    "ExportAfterGeneration",
    "ExportController",
    "ExportOptions",
    "ExportPlan",
    "plan_export",
    "remember_options",
    "remembered_options",
]

REMEMBERED_KEY = "export/remembered"  # JSON: project folder -> the dialog's last options
LAST_KEY = "export/last"  # JSON: the last options of any project (codec, quality, range)
MAX_REMEMBERED = 50


def _load(key: str):
    try:
        return json.loads(str(settings.value(key, "") or "null"))
    except ValueError:
        log.warning("ignored unreadable %s", key)
        return None


def _options(data, path: Path) -> ExportOptions | None:
    if not isinstance(data, dict):
        return None
    try:
        crf, fps = data.get("crf"), data.get("fps")
        return ExportOptions(
            path=path,
            scope=str(data.get("scope") or "shot"),
            codec=str(data.get("codec") or "h264"),
            crf=int(crf) if crf is not None else None,
            preset=str(data["preset"]) if data.get("preset") else None,
            fps=float(fps) if fps else None,
        )
    except (TypeError, ValueError):
        return None


def remembered_options(project: Project, fresh: ExportOptions) -> ExportOptions:
    """The dialog's options as the user last set them for this project (its path too);
    for a project never exported, the last export's codec, quality and range on `fresh`'s path."""
    mine = _load(REMEMBERED_KEY)
    if isinstance(mine, dict) and project.folder is not None:
        entry = mine.get(str(project.folder))
        if isinstance(entry, dict) and entry.get("path"):
            found = _options(entry, Path(str(entry["path"])))
            if found is not None:
                return found
    return _options(_load(LAST_KEY), fresh.path) or fresh


def remember_options(project: Project, options: ExportOptions) -> None:
    data = {**asdict(options), "path": str(options.path)}
    settings.set_value(LAST_KEY, json.dumps(data))
    if project.folder is None:
        return
    mine = _load(REMEMBERED_KEY)
    mine = mine if isinstance(mine, dict) else {}
    mine.pop(str(project.folder), None)
    mine[str(project.folder)] = data  # newest last; the oldest go first
    while len(mine) > MAX_REMEMBERED:
        mine.pop(next(iter(mine)))
    settings.set_value(REMEMBERED_KEY, json.dumps(mine))


class ExportAfterGeneration(QObject):
    """An export waiting for shots to be generated ("Generate missing" or "Regenerate these"
    in the Export dialog).

    It follows the generation's `job_ended`: when every shot it waits for has a new active
    take, `ready` hands the options over; when a job for one of them ends without one
    (failed, cancelled) or another project opens, it gives up and says so.
    """

    ready = Signal(object)  # ExportOptions
    abandoned = Signal(str)  # the sentence for the status bar

    def __init__(self, document: Document, job_ended: Signal, parent: QObject | None = None):
        super().__init__(parent)
        self.document = document
        self.options: ExportOptions | None = None
        self.waiting: dict[str, str | None] = {}  # shot id -> its active take when asked
        job_ended.connect(self._on_job_ended)
        document.project_replaced.connect(lambda: self.drop("Another project is open"))

    @property
    def pending(self) -> bool:
        return self.options is not None

    def wait_for(self, options: ExportOptions, shot_ids) -> None:
        self.options = options
        self.waiting = {}
        for shot_id in shot_ids:
            shot = self.document.shot(shot_id)
            if shot is not None:
                self.waiting[shot_id] = shot.active_take

    def drop(self, why: str) -> None:
        if self.options is not None:
            self.options, self.waiting = None, {}
            self.abandoned.emit(f"{why}: the export waiting for it was not started.")

    def refused(self, why: str) -> None:
        """A generation or its storyboard plan was refused: no job will end for that shot,
        so the waiting export would otherwise wait for good (and start on a later Generate)."""
        self.drop(why.rstrip(". "))

    def _new_take(self, shot_id: str) -> bool:
        shot = self.document.shot(shot_id)
        take = shot.active() if shot is not None else None
        return take is not None and not take.missing and take.id != self.waiting.get(shot_id)

    def _on_job_ended(self, shot_id: str, _job_id: str) -> None:
        if self.options is None or shot_id not in self.waiting:
            return
        if not self._new_take(shot_id):
            shot = self.document.shot(shot_id)
            self.drop(f"Shot '{shot.name if shot else shot_id}' was not generated")
            return
        del self.waiting[shot_id]
        if not self.waiting:
            options, self.options = self.options, None
            self.ready.emit(options)


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
