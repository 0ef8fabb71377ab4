"""New, Open, Save, Save As, the unsaved-changes question and crash recovery.

Opening never damages the current work: the new file is loaded and validated completely
first, and only then replaces the document; a bad file becomes a message naming the
problem (the engine's `ProjectError` carries the sentence) and the current project stays
open.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from engine.errors import KinemaError, ProjectError
from engine.project import PROJECT_FILE, SUFFIX, Project, Shot
from engine.takes import purge_unused_takes

from . import settings
from .autosave import (
    DEFAULT_INTERVAL_MS,
    Autosaver,
    discard_autosave,
    load_autosave,
    pending_autosave,
)
from .commands import ReplaceContent
from .document import Document
from .tasks import TaskRunner

log = logging.getLogger(__name__)


class FileController(QObject):
    project_opened = Signal(str)  # folder
    project_saved = Signal(str)  # folder
    message = Signal(str)  # a line for the status bar

    def __init__(
        self,
        document: Document,
        dialogs,
        tasks: TaskRunner,
        autosave_interval_ms: int = DEFAULT_INTERVAL_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.dialogs = dialogs
        self._tasks = tasks
        self.saving_as = False
        self.autosaver = Autosaver(document, tasks, autosave_interval_ms, self)
        self.autosaver.failed.connect(self.message)

    @property
    def folder(self) -> Path | None:
        return self.document.project.folder

    # ------------------------------------------------------------------ opening

    def open_path(self, path: Path | str, offer_recovery: bool = True) -> bool:
        """Load `path` and make it the document; on a bad file say why and keep the current one."""
        try:
            project = Project.load(Path(path))
        except ProjectError as error:
            log.warning("could not open %s: %s", path, error)
            self.dialogs.error("Could not open the project", f"{Path(path).name}: {error}")
            return False
        self._install(project)
        if offer_recovery:
            self.offer_recovery()
        return True

    def open_project(self, path: Path | str | None = None) -> bool:
        if not self.maybe_save():
            return False
        if path is None:
            path = self.dialogs.open_project_path(self._start_folder())
            if path is None:
                return False
        return self.open_path(path)

    def new_project(self, path: Path | str | None = None) -> bool:
        if not self.maybe_save():
            return False
        if path is None:
            path = self.dialogs.new_project_path(self._start_folder())
            if path is None:
                return False
        try:
            project = Project.new(Path(path))
            project.shots = [Shot(name="Shot 1")]
            project.save()
        except (ProjectError, OSError) as error:
            self.dialogs.error("Could not create the project", _sentence(error))
            return False
        self._install(project)
        return True

    def _install(self, project: Project) -> None:
        old = self.document.project.folder
        if old is not None and old != project.folder:
            discard_autosave(old)  # the user saved or discarded those changes already
        self.document.replace_project(project)
        self.autosaver.forget()
        if project.folder is not None:
            settings.remember_project(project.folder)
            self.project_opened.emit(str(project.folder))
            self.message.emit(f"Opened {project.folder}")

    def offer_recovery(self) -> bool:
        """If the last session crashed with unsaved changes, offer them back (undoably)."""
        folder = self.folder
        if folder is None:
            return False
        saved_at = pending_autosave(folder)
        if saved_at is None:
            return False
        if not self.dialogs.offer_recovery(self.document.project.name, saved_at):
            discard_autosave(folder)
            return False
        try:
            recovered = load_autosave(folder)
        except ProjectError as error:
            self.dialogs.error("Could not recover the autosaved changes", str(error))
            return False
        for shot in recovered.shots:
            for take in shot.takes:
                take.missing = not (folder / take.folder).is_dir()
        self.document.push(ReplaceContent(self.document, recovered, "Recover autosaved changes"))
        self.message.emit("Recovered the autosaved changes. Save to keep them.")
        return True

    # ------------------------------------------------------------------ saving

    def save(self) -> bool:
        return self._save_to(None)

    def save_as(self, path: Path | str | None = None) -> bool:
        """Save into a new folder. Media and takes are copied on a worker thread first (a
        project with many takes is gigabytes); the document switches over once they are
        there. Returns True once started; `project_saved` or an error follows."""
        if path is None:
            path = self.dialogs.save_project_path(self._start_folder())
            if path is None:
                return False
        target = Path(path)
        if target.suffix != SUFFIX:
            target = target.with_name(target.name + SUFFIX)
        old = self.folder
        if old is None or old.resolve() == target.resolve():
            return self._save_to(target)
        if (target / PROJECT_FILE).exists():
            self.dialogs.error(
                "Could not save the project", f"A project already exists at '{target}'."
            )
            return False
        if self.saving_as:
            return False
        self.saving_as = True
        self.message.emit(f"Copying the project's media and takes to {target}…")
        self._tasks.submit(
            lambda ctx: _copy_project_files(old, target, ctx),
            on_done=lambda _result: self._finish_save_as(old, target),
            on_error=lambda error: self._save_as_failed(error),
            name="save as",
        )
        return True

    def _finish_save_as(self, old: Path, target: Path) -> None:
        self.saving_as = False
        if self.document.project.folder != old:
            return  # another project was opened meanwhile
        _copy_project_files(old, target)  # takes finished while copying (quick: the rest is there)
        project = self.document.project
        project.folder = target  # the files are there: save writes project.json only
        if self._save_to(None):
            discard_autosave(old)
        else:
            project.folder = old

    def _save_as_failed(self, error: BaseException) -> None:
        self.saving_as = False
        self.dialogs.error("Could not save the project", _sentence(error))

    def _save_to(self, target: Path | None) -> bool:
        project = self.document.project
        old = project.folder
        try:
            project.save(target)
        except (ProjectError, OSError) as error:
            self.dialogs.error("Could not save the project", _sentence(error))
            return False
        self.autosaver.forget()
        discard_autosave(project.folder)
        if old is not None and old != project.folder:
            discard_autosave(old)
        self.document.mark_saved()
        settings.remember_project(project.folder)
        self.project_saved.emit(str(project.folder))
        self.message.emit(f"Saved {project.folder}")
        return True

    def maybe_save(self) -> bool:
        """Ask about unsaved changes; True when it is fine to go on (saved or discarded)."""
        if not self.document.is_dirty:
            return True
        answer = self.dialogs.unsaved_changes(self.document.project.name)
        if answer == "save":
            return self.save()
        return answer == "discard"

    def close(self) -> None:
        """The window closes cleanly: no crash to recover from, and no take left unreferenced.

        Called once no job or background task can still add a take. Takes that the saved
        project does not list (deleted, undone, or never saved) are removed from disk; until
        now they were kept so that undo could bring them back.
        """
        self.autosaver.timer.stop()
        self.autosaver.forget()
        folder = self.folder
        discard_autosave(folder)
        if folder is None:
            return
        try:
            purge_unused_takes(Project.load(folder))
        except (ProjectError, OSError) as error:
            log.warning("left unused takes in %s: %s", folder, error)

    def _start_folder(self) -> Path | None:
        return self.folder.parent if self.folder is not None else None


def _copy_project_files(source: Path, target: Path, context=None) -> None:
    """Copy media/ and takes/ into a new project folder, skipping what is already there."""
    for sub in ("media", "takes"):
        if not (source / sub).is_dir():
            continue
        for path in sorted((source / sub).rglob("*")):
            if context is not None:
                context.check()
            relative = path.relative_to(source)
            if any(part.endswith(".partial") for part in relative.parts):
                continue  # a take still being written; it is copied when complete
            destination = target / relative
            if path.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
            elif not destination.exists():
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, destination)


def _sentence(error: BaseException) -> str:
    if isinstance(error, KinemaError):
        return str(error)
    if isinstance(error, OSError):
        return f"{error.strerror or error} ({error.filename})" if error.filename else str(error)
    return str(error)
