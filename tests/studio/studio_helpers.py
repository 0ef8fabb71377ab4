"""Helpers for the studio tests: scripted dialogs and a slowed-down previs backend.

Plain classes, imported by name (`from studio_helpers import ...`): this folder is not a
package, so that its modules never shadow the real `studio` package.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from engine.backends import Capabilities, create_backend
from engine.errors import Cancelled
from engine.worker import Engine

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "assets" / "samples" / "Meadow.kinema"


class ScriptedDialogs:
    """Stands in for `studio.dialogs.Dialogs`: canned answers, and a record of what was said."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []
        self.abouts: list[str] = []
        self.unsaved_answer = "discard"
        self.unsaved_asked = 0
        self.recover_answer = True
        self.recovery_offered = 0
        self.quit_while_busy = True
        self.lock_answer = "read-only"  # "read-only", "take-over" or "cancel"
        self.locked_asked: list[str] = []  # who held each locked project
        self.switch_answer = "cancel"  # "cancel", "keep" or "stay"
        self.switch_asked = 0
        self.orphans_answer = "add"  # "add", "discard" or "later"
        self.orphans_offered: list[int] = []
        self.missing: list[list[str]] = []
        self.export = None  # ExportOptions to return, or None (cancelled)
        self.export_script = None  # drives the real Export dialog instead (clicks its buttons)
        self.export_defaults = []  # what each Export dialog opened with
        self.paths: dict[str, Path | None] = {}
        # drives the real Preferences dialog: gets it, returns True for OK, False for Cancel
        self.preferences_script = None

    def open_project_path(self, start):
        return self.paths.get("open")

    def new_project_path(self, start):
        return self.paths.get("new")

    def save_project_path(self, start):
        return self.paths.get("save")

    def import_media_path(self, start):
        return self.paths.get("import")

    def export_options(self, defaults, has_sequence, **kwargs):
        """`export`, or the real Export dialog driven by `export_script(dialog)` (which
        clicks its buttons); the dialog's own choice is returned."""
        from studio.export_dialog import ExportDialog

        self.export_defaults.append(defaults)
        if self.export_script is None:
            return self.export
        dialog = ExportDialog(defaults, has_sequence, **kwargs)
        dialog.show()
        try:
            self.export_script(dialog)
            return dialog.choice()
        finally:
            dialog.close()
            dialog.deleteLater()

    def model_folder_path(self, start):
        return self.paths.get("model_folder")

    def preferences(self, current):
        from studio.preferences_dialog import PreferencesDialog

        if self.preferences_script is None:
            return None
        dialog = PreferencesDialog(current, choose_folder=self.model_folder_path)
        try:
            return dialog.preferences() if self.preferences_script(dialog) else None
        finally:
            dialog.deleteLater()

    def unsaved_changes(self, project_name):
        self.unsaved_asked += 1
        return self.unsaved_answer

    def offer_recovery(self, project_name, saved_at):
        self.recovery_offered += 1
        return self.recover_answer

    def confirm_quit_while_busy(self, jobs):
        return self.quit_while_busy

    def project_locked(self, project_name, holder):
        self.locked_asked.append(holder)
        return self.lock_answer

    def switch_while_busy(self, jobs, project_name):
        self.switch_asked += 1
        return self.switch_answer

    def offer_orphans(self, project_name, count):
        self.orphans_offered.append(count)
        return self.orphans_answer

    def missing_media(self, project_name, missing):
        self.missing.append(list(missing))

    def error(self, title, message):
        self.errors.append((title, message))

    def about(self, title, text):
        self.abouts.append(text)


class SlowPrevis:
    """The real previs backend, slowed to `delay` seconds per frame so a test can cancel it."""

    name = "previs"

    def __init__(self, delay: float = 0.02, fail: str | None = None) -> None:
        self._inner = create_backend("previs")
        self.delay = delay
        self.fail = fail
        self.started = threading.Event()

    def capabilities(self) -> Capabilities:
        return self._inner.capabilities()

    def load(self, device: str) -> None:
        self._inner.load(device)

    def generate(self, request, controls, report, cancel):
        self.started.set()
        if self.fail and request.seed % 2 == 1:  # odd seeds fail: a failing job among good ones
            raise RuntimeError(self.fail)
        total = controls.frames
        frames = np.empty((total, controls.height, controls.width, 3), np.uint8)
        for index, frame in enumerate(controls.iter_guide()):
            if cancel.is_set():
                raise Cancelled()
            time.sleep(self.delay)
            frames[index] = frame
            report.progress(index + 1, total, "frames")
            report.preview(frames[: index + 1], index + 1, total, complete=index + 1 == total)
        return frames


class DecodeOutOfMemoryOnce:
    """Previs dressed as a real model whose final decode runs out of memory unless the
    request asks for a tiled decode (what "Decode again" sends); it records each request."""

    name = "previs"

    def __init__(self) -> None:
        self._inner = create_backend("previs")
        self.requests = []

    def capabilities(self) -> Capabilities:
        return self._inner.capabilities()

    def load(self, device: str) -> None:
        self._inner.load(device)

    def generate(self, request, controls, report, cancel):
        from engine.errors import DecodeOutOfMemory

        self.requests.append(request)
        if not request.tiled_decode:
            raise DecodeOutOfMemory(
                "Ran out of memory decoding the finished clip. Its latents are kept: choose "
                "Decode again in the queue to finish it with a tiled decode."
            )
        return self._inner.generate(request, controls, report, cancel)


def engine_with(backend_factory):
    return lambda callback: Engine(callback, device="cpu", backend_factory=backend_factory)


def drag(
    qtbot, widget, points, button=None, modifier=None, pause_ms: int = 12, before_release=None
):
    """Press at the first point, move through the others, release at the last: real events.

    `pause_ms` between moves lets pyqtgraph's mouse rate limit (100 moves a second) pass
    every move; `before_release` runs while the button is still held.
    """
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtTest import QTest

    button = button or Qt.MouseButton.LeftButton
    modifier = modifier or Qt.KeyboardModifier.NoModifier
    points = [p.toPoint() if isinstance(p, QPointF) else QPoint(p) for p in points]
    QTest.mousePress(widget, button, modifier, points[0])
    for point in points[1:]:
        qtbot.wait(pause_ms)
        QTest.mouseMove(widget, point)
    if before_release is not None:
        before_release()
    qtbot.wait(pause_ms)
    QTest.mouseRelease(widget, button, modifier, points[-1])


def path_between(start, end, steps: int = 8):
    """Points from `start` to `end` (QPointF or QPoint), inclusive, evenly spaced."""
    from PySide6.QtCore import QPointF

    a, b = QPointF(start), QPointF(end)
    return [a + (b - a) * (i / steps) for i in range(steps + 1)]


def shot_guide(project, shot):
    """The previs clip the engine makes for `shot` now: what the viewer must show."""
    from engine.controls import compile_shot
    from engine.media import read_image

    path = project.keyframe_path(shot)
    keyframe = read_image(path) if path is not None else None
    controls = compile_shot(
        shot.camera,
        shot.strokes,
        width=project.width,
        height=project.height,
        frames=shot.duration,
        fps=project.fps,
        keyframe=keyframe,
    )
    return controls.guide


#: how long a test waits for a previs generation to finish, ms
FINISH_TIMEOUT = 20_000


def finished_takes(qtbot, window, count, shot=None):
    """The shot's takes once it has `count` and no job is running."""
    shot = shot or window.document.current_shot
    qtbot.waitUntil(lambda: len(shot.takes) >= count, timeout=FINISH_TIMEOUT)
    qtbot.waitUntil(lambda: window.generation.active_jobs == 0, timeout=FINISH_TIMEOUT)
    return shot.takes


def click(qtbot, widget):
    from PySide6.QtCore import Qt

    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)
