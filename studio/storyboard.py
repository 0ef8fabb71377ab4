"""Plan from prompt: the shot's storyboard staged off the GUI thread, applied as one undo step.

Planning renders the world (a fraction of a second, more on the first call), so it runs on the
task pool on a snapshot of the shot. When it is done the result is applied only if the shot
still asks for the same thing (prompt, seed, length and the strokes it had), since an edit made
meanwhile must not be overwritten by a plan of the old shot; then Generate, if it asked for the
plan, goes on.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from engine.errors import KinemaError
from engine.project import Shot
from engine.storyboard import PlannedShot, plan_shot

from .commands import PlanShot
from .document import Document
from .tasks import TaskRunner

log = logging.getLogger(__name__)


def _asked(shot: Shot) -> tuple:
    """What a plan of `shot` depends on; a plan is dropped when this changed meanwhile."""
    return (
        shot.prompt,
        shot.seed,
        shot.duration,
        shot.keyframe,
        tuple(s.id for s in shot.strokes),
        repr(shot.camera.to_dict()),
    )


class StoryboardController(QObject):
    planned = Signal(str)  # shot id whose plan is now in the document
    message = Signal(str)  # status bar line: what the plan holds, what it could not use
    problem = Signal(str)  # planning failed; the sentence says why

    def __init__(self, document: Document, tasks: TaskRunner, parent: QObject | None = None):
        super().__init__(parent)
        self.document = document
        self._tasks = tasks
        self._running: dict[str, tuple] = {}  # shot id -> what was asked

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def is_planning(self, shot_id: str) -> bool:
        return shot_id in self._running

    def plan(self, shot_id: str | None = None, then: Callable[[], None] | None = None) -> bool:
        """Plan the shot (default: the current one) from its prompt; `then` runs once it is in
        the document. False when there is nothing to plan (the reason goes to `problem`)."""
        shot = self.document.shot(shot_id) if shot_id else self.document.current_shot
        if shot is None:
            self.problem.emit("Select a shot to plan.")
            return False
        if not shot.prompt.strip():
            self.problem.emit("Write a prompt first: the plan is staged from its words.")
            return False
        if shot.id in self._running:
            return True  # the same plan is on its way
        project = self.document.project
        snapshot = copy.deepcopy(shot)
        asked = _asked(shot)
        size = (project.width, project.height, project.fps)
        self._running[shot.id] = asked
        self.message.emit("Planning the shot from its prompt…")
        self._tasks.submit(
            lambda _ctx: plan_shot(snapshot, *size),
            on_done=lambda planned: self._on_planned(project, shot.id, asked, planned, then),
            on_error=lambda error: self._on_failed(shot.id, error),
            name="plan from prompt",
        )
        return True

    def _on_planned(self, project, shot_id: str, asked: tuple, planned: PlannedShot, then) -> None:
        self._running.pop(shot_id, None)
        shot = self.document.shot(shot_id)
        if project is not self.document.project or shot is None:
            return
        if _asked(shot) != asked:
            self.message.emit("The shot changed while it was planned: plan it again.")
            return
        self.document.push(
            PlanShot(self.document, shot_id, planned.plan, planned.strokes, planned.camera)
        )
        self.message.emit(planned.message)
        self.planned.emit(shot_id)
        if then is not None:
            then()

    def _on_failed(self, shot_id: str, error: BaseException) -> None:
        self._running.pop(shot_id, None)
        if not isinstance(error, KinemaError):
            log.exception("planning failed", exc_info=error)
        self.problem.emit(f"Could not plan the shot: {error}")
