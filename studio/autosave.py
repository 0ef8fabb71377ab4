"""Autosave: every minute, unsaved changes go to a side file next to `project.json`.

The side file (`project.autosave.json`) is never the project itself: saving, or closing
cleanly, deletes it. So if one is found when a project opens, Kinema did not close cleanly
with unsaved changes, and the studio offers to recover them. The JSON is made on the GUI
thread (a consistent snapshot) and written on a worker thread, atomically.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from engine.errors import Cancelled, ProjectError, storage_error
from engine.limits import parse_json, read_project_text
from engine.project import PROJECT_FILE, Project, write_text_atomic

from .document import Document
from .tasks import TaskRunner

log = logging.getLogger(__name__)

AUTOSAVE_FILE = "project.autosave.json"
DEFAULT_INTERVAL_MS = 60_000


def autosave_path(folder: Path) -> Path:
    return Path(folder) / AUTOSAVE_FILE


def write_autosave(folder: Path, text: str) -> Path:
    """Write atomically (a unique temp, fsync, rename) so a crash mid-write keeps the
    previous one and two writers never share a temp file."""
    target = autosave_path(folder)
    try:
        write_text_atomic(target, text)
    except OSError as error:
        typed = storage_error(error, "the autosave", "The project file itself is untouched.")
        raise typed or ProjectError(f"Could not write the autosave: {error.strerror}.") from error
    return target


def pending_autosave(folder: Path) -> datetime | None:
    """When the leftover autosave was written, if there is one that differs from the project."""
    target = autosave_path(folder)
    if not target.is_file():
        return None
    try:
        saved = (Path(folder) / PROJECT_FILE).read_text(encoding="utf-8")
        if target.read_text(encoding="utf-8") == saved:
            target.unlink()
            return None
    except OSError:
        pass
    return datetime.fromtimestamp(target.stat().st_mtime)


def load_autosave(folder: Path) -> Project:
    """The autosaved document, validated (and limited) like any project file."""
    target = autosave_path(folder)
    text = read_project_text(target, AUTOSAVE_FILE)
    data, repaired = parse_json(text, AUTOSAVE_FILE)
    project = Project.from_dict(data, folder=Path(folder))
    project.repaired = repaired
    return project


def discard_autosave(folder: Path | None) -> None:
    if folder is not None:
        autosave_path(folder).unlink(missing_ok=True)


class Autosaver(QObject):
    """Writes the side file on a timer while the document has unsaved changes."""

    saved = Signal(str)  # path written
    failed = Signal(str)

    def __init__(
        self,
        document: Document,
        tasks: TaskRunner,
        interval_ms: int = DEFAULT_INTERVAL_MS,
        parent: QObject | None = None,
        can_write: Callable[[], bool] = lambda: True,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self._tasks = tasks
        self._can_write = can_write
        self._revision = 0
        self._written_revision = 0
        self._task = None
        self.last_written: datetime | None = None  # when the side file last held every change
        self.last_error = ""
        for signal in (
            document.shot_changed,
            document.takes_changed,
            document.project_changed,
            document.project_replaced,
        ):
            signal.connect(self._bump)
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.autosave_now)
        self.timer.start()

    def _bump(self, *args) -> None:
        self._revision += 1

    def autosave_now(self) -> bool:
        """Write now if there is anything new and unsaved; True if a write was started."""
        project = self.document.project
        if (
            project.folder is None
            or not self.document.is_dirty
            or self._revision == self._written_revision
            or not self._can_write()  # read-only here, or another Kinema holds the project
        ):
            return False
        try:
            text = project.to_json()
        except ProjectError as error:
            self.last_error = str(error)
            self.failed.emit(str(error))
            return False
        self._written_revision = self._revision
        folder = project.folder
        revision = self._revision

        def write(ctx) -> Path:
            ctx.check()
            return write_autosave(folder, text)

        task = self._tasks.submit(
            write,
            on_done=lambda path: self._on_written(task, path, revision),
            on_error=lambda error: self._on_failed(error),
            name="autosave",
        )
        self._task = task
        return True

    def describe(self) -> str:
        """What the side file holds of the unsaved changes, in a sentence (the crash dialog)."""
        if self.last_error:
            return (
                f"Your latest changes are NOT saved: the last autosave failed ({self.last_error})."
                " Save now, or use Save As, if the window still responds."
            )
        if self.last_written is None:
            return (
                "Your latest changes are not saved yet (autosave runs every "
                f"{self.timer.interval() // 1000} s): save now if the window still responds."
            )
        when = f"{self.last_written:%H:%M:%S}"
        if self._written_revision == self._revision and self._task is None:
            return (
                f"Your changes were autosaved at {when}; Kinema offers them back the next "
                "time this project opens."
            )
        return (
            f"Your changes up to {when} were autosaved (offered back the next time this project "
            "opens); the changes since then are not saved."
        )

    def forget(self) -> None:
        """The document was saved or replaced: nothing is pending, and a write in flight
        must not leave a stale side file behind."""
        self._written_revision = self._revision
        self.last_written, self.last_error = None, ""
        if self._task is not None:
            self._task.cancel()

    def _on_written(self, task, path: Path, revision: int) -> None:
        if task is self._task:
            self._task = None
        if task.context.cancelled:  # saved or closed while writing: the file is stale
            path.unlink(missing_ok=True)
            return
        if revision == self._written_revision:
            self.last_written, self.last_error = datetime.now(), ""
        self.saved.emit(str(path))

    def _on_failed(self, error: BaseException) -> None:
        self._task = None
        if isinstance(error, Cancelled):
            return
        log.warning("autosave failed: %s", error)
        self._written_revision = -1  # try again next time
        self.last_error = str(error)
        self.failed.emit(f"Autosave failed: {error}")
