"""The ask-versus-got overlay's controller: measures the take on screen, off the GUI thread.

While the overlay is on and the viewer shows a take, the take's frames (from the take cache)
and its recorded request go to `engine.obedience.analyse_take` on the task pool; the result
is kept per take, so flipping back to a take, or turning the overlay off and on, costs
nothing. Anything else on screen (keyframe, previs, a preview) gets a sentence instead.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from engine.obedience import Obedience, analyse_take

from .document import Document
from .take_cache import TakeCache
from .tasks import TaskRunner
from .viewer import ViewerWidget

NOT_A_TAKE = (
    "Ask versus got compares a take with what it was asked: show a take (generate one, or "
    "pick it in Takes)."
)


class ObedienceController(QObject):
    enabled_changed = Signal(bool)
    analysed = Signal(str)  # take id whose analysis is ready

    def __init__(
        self,
        document: Document,
        viewer: ViewerWidget,
        take_cache: TakeCache,
        tasks: TaskRunner,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.viewer = viewer
        self.take_cache = take_cache
        self._tasks = tasks
        self.enabled = False
        self._results: dict[str, Obedience | str] = {}  # take id -> analysis, or why none
        self._running: set[str] = set()
        viewer.content_changed.connect(self.update)
        viewer.obedience_toggled.connect(self.set_enabled)
        take_cache.loaded.connect(lambda take_id, _frames: self.update())
        document.project_replaced.connect(self._results.clear)

    def set_enabled(self, on: bool) -> None:
        on = bool(on)
        self.viewer.set_obedience_checked(on)
        if on != self.enabled:
            self.enabled = on
            self.enabled_changed.emit(on)
        self.update()

    def result(self, take_id: str) -> Obedience | str | None:
        return self._results.get(take_id)

    def update(self) -> None:
        if not self.enabled:
            self.viewer.set_obedience(None, "")
            return
        shot = self.document.current_shot
        take = shot.take(self.viewer.source) if shot is not None and self.viewer.source else None
        if take is None or self.viewer.kind != "take":
            self.viewer.set_obedience(None, NOT_A_TAKE)
            return
        known = self._results.get(take.id)
        if isinstance(known, Obedience):
            self.viewer.set_obedience(known, known.message)
            return
        if isinstance(known, str):
            self.viewer.set_obedience(None, known)
            return
        name = take.label or "this take"
        if not take.request:
            self._results[take.id] = f"{name} does not record its request: nothing to compare."
            self.update()
            return
        self.viewer.set_obedience(None, f"Measuring what {name} did against what it was asked…")
        if take.id in self._running:
            return
        frames = self.take_cache.get(take.id)
        if frames is None:
            folder = self.document.project.folder
            if folder is not None:
                self.take_cache.request(folder, take)  # `loaded` brings us back
            return
        self._running.add(take.id)
        request = dict(take.request)
        self._tasks.submit(
            lambda ctx: analyse_take(frames, request),
            on_done=lambda result, take_id=take.id: self._on_done(take_id, result),
            on_error=lambda error, take_id=take.id: self._on_done(
                take_id, f"Could not measure {name}: {error}"
            ),
            name=f"ask versus got {take.id}",
        )

    def _on_done(self, take_id: str, result: Obedience | str) -> None:
        self._running.discard(take_id)
        self._results[take_id] = result
        self.analysed.emit(take_id)
        self.update()
