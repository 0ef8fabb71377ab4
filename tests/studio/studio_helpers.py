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
        self.export = None  # ExportOptions to return, or None (cancelled)
        self.paths: dict[str, Path | None] = {}

    def open_project_path(self, start):
        return self.paths.get("open")

    def new_project_path(self, start):
        return self.paths.get("new")

    def save_project_path(self, start):
        return self.paths.get("save")

    def import_media_path(self, start):
        return self.paths.get("import")

    def export_options(self, defaults, has_sequence):
        return self.export

    def unsaved_changes(self, project_name):
        self.unsaved_asked += 1
        return self.unsaved_answer

    def offer_recovery(self, project_name, saved_at):
        self.recovery_offered += 1
        return self.recover_answer

    def confirm_quit_while_busy(self, jobs):
        return self.quit_while_busy

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


def engine_with(backend_factory):
    return lambda callback: Engine(callback, device="cpu", backend_factory=backend_factory)
