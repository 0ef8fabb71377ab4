"""The open document as the GUI sees it: the engine's `Project`, its undo stack, the current shot.

Widgets read the project freely but change it only by pushing commands (`commands.py`);
each command emits one of the signals below, so every view refreshes from the same place
whether the change came from itself, another widget, undo or redo.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from engine.project import Project, Shot


class Document(QObject):
    project_replaced = Signal()  # another project (or a recovered version) is now open
    project_changed = Signal()  # project fields: name, fps, size, the list of shots
    shot_changed = Signal(str)  # a shot's content or settings changed (shot id)
    takes_changed = Signal(str)  # a shot's takes or active take changed (shot id)
    current_shot_changed = Signal(str)  # the selected shot ("" for none)
    dirty_changed = Signal(bool)
    notice = Signal(str)  # a line for the status bar about an edit (text repaired on entry)

    def __init__(self, project: Project | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self._project = project or Project()
        self._current = self._project.shots[0].id if self._project.shots else ""

    def _on_clean_changed(self, clean: bool) -> None:
        self.dirty_changed.emit(not clean)

    # ------------------------------------------------------------------ reading

    @property
    def project(self) -> Project:
        return self._project

    @property
    def current_shot(self) -> Shot | None:
        return self._project.shot(self._current) if self._current else None

    @property
    def current_shot_id(self) -> str:
        return self._current

    def shot(self, shot_id: str) -> Shot | None:
        return self._project.shot(shot_id)

    def shot_number(self, shot_id: str) -> int:
        """1-based position of the shot in the sequence (0 if unknown)."""
        for index, shot in enumerate(self._project.shots, 1):
            if shot.id == shot_id:
                return index
        return 0

    @property
    def is_dirty(self) -> bool:
        return not self.undo_stack.isClean()

    # ------------------------------------------------------------------ changing

    def push(self, command: QUndoCommand) -> None:
        """The one way to edit the document: run `command` and record it for undo."""
        self.undo_stack.push(command)

    def set_current_shot(self, shot_id: str) -> None:
        """Select a shot (a view choice, not an edit: it is not undoable)."""
        if shot_id and self._project.shot(shot_id) is None:
            shot_id = ""
        if shot_id != self._current:
            self._current = shot_id
            self.current_shot_changed.emit(shot_id)

    def replace_project(self, project: Project) -> None:
        """Open `project` in place of the current one; history starts afresh."""
        self._project = project
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self._current = project.shots[0].id if project.shots else ""
        self.project_replaced.emit()
        self.current_shot_changed.emit(self._current)
        self.dirty_changed.emit(False)

    def mark_saved(self) -> None:
        self.undo_stack.setClean()

    def ensure_current_shot(self) -> None:
        """After shots were added or removed, keep a valid selection."""
        if self.current_shot is None:
            self.set_current_shot(self._project.shots[0].id if self._project.shots else "")
