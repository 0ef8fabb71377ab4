"""New, Open, Save, Save As, the unsaved-changes question and crash recovery.

Opening never damages the current work: the new file is loaded and validated completely
first, and only then replaces the document; a bad file becomes a message naming the
problem (the engine's `ProjectError` carries the sentence) and the current project stays
open.

One writer per project: opening takes the project's lock (`engine.lock`). When another
Kinema holds it the user chooses to open read-only or to take it over; read-only means
nothing is written into that folder (no save, autosave, takes or clean-up) until Save As
puts the work elsewhere. The lock is checked before every write, so a window that was taken
over stops writing instead of overwriting, and says so.

Clean-up at close deletes only takes this session saw in the document and the user
removed; a take nobody listed (a job that finished after its project was closed, or
before a crash) is an orphan, offered back the next time the project opens.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from engine.errors import KinemaError, ProjectError
from engine.lock import HEARTBEAT_S, LockLost, ProjectLock, ProjectLocked
from engine.paths import copy_tree
from engine.project import PROJECT_FILE, SUFFIX, Project, Shot
from engine.takes import listed_take_folders, orphan_takes, purge_takes

from . import settings
from .autosave import (
    DEFAULT_INTERVAL_MS,
    Autosaver,
    discard_autosave,
    load_autosave,
    pending_autosave,
)
from .commands import AddTake, ReplaceContent
from .document import Document
from .tasks import TaskRunner

log = logging.getLogger(__name__)


class FileController(QObject):
    project_opened = Signal(str)  # folder
    project_saved = Signal(str)  # folder
    message = Signal(str)  # a line for the status bar
    read_only_changed = Signal(bool)

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
        self.lock: ProjectLock | None = None
        self.read_only_reason = ""  # why this project is read-only here ("" when writable)
        #: how many jobs are running or queued (the window wires it to the generation)
        self.jobs_running = lambda: 0
        #: cancels them (the same)
        self.cancel_jobs = lambda: None
        self._session_takes: set[str] = set()  # every take folder the document has listed
        self.autosaver = Autosaver(document, tasks, autosave_interval_ms, self, self.can_write)
        self.autosaver.failed.connect(self.message)
        self.heartbeat = QTimer(self)
        self.heartbeat.setInterval(HEARTBEAT_S * 1000)
        self.heartbeat.timeout.connect(self._on_heartbeat)
        self.heartbeat.start()
        document.takes_changed.connect(self._note_takes)
        document.project_replaced.connect(self._note_takes)

    @property
    def folder(self) -> Path | None:
        return self.document.project.folder

    @property
    def read_only(self) -> bool:
        return bool(self.read_only_reason)

    def can_write(self) -> bool:
        """Whether this window may write into its project's folder now."""
        return self.lock is not None and not self.read_only_reason and self.lock.holds()

    def write_refusal(self) -> str:
        """The sentence for anything that would write into a read-only project ("" if none)."""
        if self.document.project.folder is None:
            return ""
        if self.read_only_reason:
            return (
                f"'{self.document.project.name}' is open read-only here: "
                f"{self.read_only_reason}. Use Save As to work on a copy."
            )
        return ""

    # ------------------------------------------------------------------ opening

    def open_path(self, path: Path | str, offer_recovery: bool = True) -> bool:
        """Load `path` and make it the document; on a bad file say why and keep the current one."""
        try:
            project = Project.load(Path(path))
        except ProjectError as error:
            log.warning("could not open %s: %s", path, error)
            self.dialogs.error("Could not open the project", f"{Path(path).name}: {error}")
            return False
        assert project.folder is not None
        got = self._lock_for(project.folder, project.name)
        if got is None:
            return False  # the user chose not to open it
        lock, reason, taken_from_live = got
        self._install(project, lock, reason)
        if project.repaired:
            fields = ", ".join(project.repaired[:5]) + (" …" if len(project.repaired) > 5 else "")
            self.dialogs.error(
                "Some text was repaired",
                f"Some text in '{project.name}' held characters no file can store (half of a "
                f"UTF-16 pair, usually from pasted text): {fields}. They were replaced with "
                "\ufffd; save to keep the repaired text.",
            )
        missing = project.check_files()
        if missing:
            self.dialogs.missing_media(project.name, missing)
        if lock is not None and offer_recovery and not taken_from_live:
            self.offer_recovery()
        if lock is not None and offer_recovery:
            self.offer_orphans()
        return True

    def _lock_for(self, folder: Path, name: str) -> tuple[ProjectLock | None, str, bool] | None:
        """(lock or None, read-only reason, taken over from a live holder); None: cancelled."""
        if self.lock is not None and _same_folder(self.lock.folder, folder) and self.lock.holds():
            return self.lock, "", False  # reopening our own project
        try:
            return ProjectLock.acquire(folder), "", False
        except ProjectLocked as error:
            who = error.owner.describe() if error.owner else "another Kinema"
            answer = self.dialogs.project_locked(name, who)
            if answer == "read-only":
                return None, f"it is open in another Kinema ({who})", False
            if answer != "take-over":
                return None
            try:
                return ProjectLock.acquire(folder, take_over=True), "", True
            except ProjectError as again:
                self.dialogs.error("Could not take the project over", str(again))
                return None
        except ProjectError as error:  # the folder cannot be written
            self.message.emit(str(error))
            return None, "Kinema cannot write in its folder", False

    def open_project(self, path: Path | str | None = None) -> bool:
        if not self._may_switch():
            return False
        if path is None:
            path = self.dialogs.open_project_path(self._start_folder())
            if path is None:
                return False
        return self.open_path(path)

    def new_project(self, path: Path | str | None = None) -> bool:
        if not self._may_switch():
            return False
        if path is None:
            path = self.dialogs.new_project_path(self._start_folder())
            if path is None:
                return False
        try:
            project = Project.new(Path(path))
            lock = ProjectLock.acquire(project.folder)
            project.shots = [Shot(name="Shot 1")]
            project.save()
        except (KinemaError, OSError) as error:
            self.dialogs.error("Could not create the project", _sentence(error))
            return False
        self._install(project, lock, "")
        return True

    def _may_switch(self) -> bool:
        """Before another project replaces this one: running jobs and unsaved changes."""
        jobs = self.jobs_running()
        if jobs:
            answer = self.dialogs.switch_while_busy(jobs, self.document.project.name)
            if answer == "stay":
                return False
            if answer == "cancel":
                self.cancel_jobs()
        return self.maybe_save()

    def _install(self, project: Project, lock: ProjectLock | None, reason: str) -> None:
        old_lock = self.lock
        if old_lock is not None and old_lock is not lock:
            if old_lock.holds():
                discard_autosave(old_lock.folder)  # the user saved or discarded those changes
            old_lock.release()
        self.lock = lock
        self.document.replace_project(project)
        self._session_takes = listed_take_folders(project)
        self.autosaver.forget()
        self._set_read_only(reason)
        if project.folder is not None:
            settings.remember_project(project.folder)
            self.project_opened.emit(str(project.folder))
            note = " (read-only)" if reason else ""
            self.message.emit(f"Opened {project.folder}{note}")

    def _set_read_only(self, reason: str) -> None:
        if reason != self.read_only_reason:
            self.read_only_reason = reason
            self.read_only_changed.emit(bool(reason))

    def _note_takes(self, *_args) -> None:
        self._session_takes |= listed_take_folders(self.document.project)

    def _on_heartbeat(self) -> None:
        if self.lock is not None and not self.read_only_reason and not self.lock.refresh():
            self._lost_lock()

    def _lost_lock(self, error: LockLost | None = None) -> None:
        """Another Kinema took this project over: stop writing, keep the work open."""
        lock, self.lock = self.lock, None
        if lock is None:
            return
        try:
            lock.check()
        except LockLost as lost:
            error = error or lost
        self._set_read_only("another Kinema took it over")
        self.dialogs.error(
            "The project was taken over",
            str(error) if error else "Another Kinema took this project over.",
        )

    def offer_recovery(self) -> bool:
        """If the last session crashed with unsaved changes, offer them back (undoably)."""
        folder = self.folder
        if folder is None or not self.can_write():
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
        recovered.check_files()
        self.document.push(ReplaceContent(self.document, recovered, "Recover autosaved changes"))
        self.message.emit("Recovered the autosaved changes. Save to keep them.")
        return True

    def offer_orphans(self) -> int:
        """Takes on disk that no shot lists (made while the project was closing, or before a
        crash): offer them back; returns how many were added."""
        project = self.document.project
        if project.folder is None or not self.can_write():
            return 0
        orphans = orphan_takes(project)
        if not orphans:
            return 0
        answer = self.dialogs.offer_orphans(project.name, len(orphans))
        if answer == "discard":
            purge_takes(project, [take.folder for _shot, take in orphans])
            return 0
        if answer != "add":
            return 0
        for shot_id, take in sorted(orphans, key=lambda item: item[1].created):
            shot = self.document.shot(shot_id)
            if shot is None:
                continue
            take.label = take.label or f"Recovered take {len(shot.takes) + 1}"
            self.document.push(AddTake(self.document, shot_id, take, make_active=False))
        self.message.emit(f"Added {len(orphans)} recovered take(s). Save to keep them.")
        return len(orphans)

    # ------------------------------------------------------------------ saving

    def save(self) -> bool:
        refusal = self.write_refusal()
        if refusal:
            self.dialogs.error("This project is open read-only", refusal)
            return False
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
        if old is not None and _same_folder(old, target):
            return self.save()
        if (target / PROJECT_FILE).exists():
            self.dialogs.error(
                "Could not save the project", f"A project already exists at '{target}'."
            )
            return False
        if self.saving_as:
            return False
        try:
            target.mkdir(parents=True, exist_ok=True)
            target_lock = ProjectLock.acquire(target)
        except (KinemaError, OSError) as error:
            self.dialogs.error("Could not save the project", _sentence(error))
            return False
        if old is None:
            return self._switch_to(target, target_lock)
        self.saving_as = True
        self.message.emit(f"Copying the project's media and takes to {target}…")
        self._tasks.submit(
            lambda ctx: _copy_project_files(old, target, ctx),
            on_done=lambda _result: self._finish_save_as(old, target, target_lock),
            on_error=lambda error: self._save_as_failed(error, target_lock),
            name="save as",
        )
        return True

    def _finish_save_as(self, old: Path, target: Path, target_lock: ProjectLock) -> None:
        self.saving_as = False
        if self.document.project.folder != old:
            target_lock.release()
            return  # another project was opened meanwhile
        _copy_project_files(old, target)  # takes finished while copying (quick: the rest is there)
        self._switch_to(target, target_lock)

    def _switch_to(self, target: Path, target_lock: ProjectLock) -> bool:
        """The files are in `target`: save project.json there and make it this window's."""
        project = self.document.project
        old, old_lock, old_reason = project.folder, self.lock, self.read_only_reason
        project.folder = target
        self.lock, self.read_only_reason = target_lock, ""
        if not self._save_to(None):
            project.folder, self.lock, self.read_only_reason = old, old_lock, old_reason
            target_lock.release()
            return False
        if old_lock is not None:
            if old is not None and old_lock.holds():
                discard_autosave(old)
            old_lock.release()
        self._session_takes = listed_take_folders(project)
        self.read_only_changed.emit(False)
        return True

    def _save_as_failed(self, error: BaseException, target_lock: ProjectLock) -> None:
        self.saving_as = False
        target_lock.release()
        self.dialogs.error("Could not save the project", _sentence(error))

    def _save_to(self, target: Path | None) -> bool:
        project = self.document.project
        old = project.folder
        try:
            if self.lock is not None:
                self.lock.check()
            elif project.folder is not None:
                raise ProjectError(self.write_refusal() or "This project is not open for writing.")
            project.save(target)
        except LockLost as error:
            self._lost_lock(error)
            return False
        except (KinemaError, OSError) as error:
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
            return self.save_as() if self.read_only else self.save()
        return answer == "discard"

    def close(self) -> None:
        """The window closes cleanly: no crash to recover from, and no removed take left.

        Called once no job or background task can still add a take. Of the takes this
        session saw, those the saved project no longer lists (deleted or undone) are removed
        from disk; until now they were kept so that undo could bring them back. A window
        that does not hold the lock touches nothing.
        """
        self.autosaver.timer.stop()
        self.heartbeat.stop()
        self.autosaver.forget()
        folder, lock = self.folder, self.lock
        self.lock = None
        if folder is None or lock is None or not lock.holds():
            return
        discard_autosave(folder)
        try:
            purge_takes(Project.load(folder), self._session_takes)
        except (ProjectError, OSError) as error:
            log.warning("left unused takes in %s: %s", folder, error)
        lock.release()

    def release(self) -> None:
        """Give the lock up without cleaning anything (the window stops without closing)."""
        self.autosaver.timer.stop()
        self.heartbeat.stop()
        lock, self.lock = self.lock, None
        if lock is not None:
            lock.release()

    def saved_state(self) -> str:
        """The truth about the user's work, for the crash dialog."""
        project = self.document.project
        if project.folder is None:
            return "This project was never saved: use Save As now if the window still responds."
        if self.read_only_reason:
            return (
                f"This project is open read-only ({self.read_only_reason}): nothing of it was "
                "saved here. Use Save As to keep your changes."
            )
        if not self.document.is_dirty:
            return "Everything was saved."
        return self.autosaver.describe()

    def _start_folder(self) -> Path | None:
        return self.folder.parent if self.folder is not None else None


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return Path(a) == Path(b)


def _copy_project_files(source: Path, target: Path, context=None) -> None:
    """Copy media/ and takes/ into a new project folder, skipping what is already there."""
    for sub in ("media", "takes"):
        copy_tree(source / sub, target / sub, context.check if context is not None else None)


def _sentence(error: BaseException) -> str:
    if isinstance(error, KinemaError):
        return str(error)
    if isinstance(error, OSError):
        return f"{error.strerror or error} ({error.filename})" if error.filename else str(error)
    return str(error)
