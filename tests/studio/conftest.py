"""Fixtures for driving the real studio window offscreen.

Every test gets its own settings scope in a temporary folder (never the user's), its
own copy of the sample project, no real models but those it names (never the user's model
folders or hub cache), and scripted dialogs that answer instead of blocking.
The window fixture shuts the engine and the worker threads down in teardown.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from pathlib import Path

import pytest
from studio_helpers import SAMPLE, ScriptedDialogs, engine_with

from engine.backends import create_backend

os.environ.setdefault("KINEMA_NO_CRASH_DIALOG", "1")


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    from engine.model_library import set_model_folders
    from studio import settings

    folder = tmp_path / "settings"
    settings.configure("Kinema-tests", f"studio-{uuid.uuid4().hex[:8]}", folder)
    monkeypatch.setenv("KINEMA_PROJECTS_DIR", str(tmp_path / "projects"))
    # real models only from the folders a test names: never the user's own or hub cache
    monkeypatch.delenv("KINEMA_MODELS", raising=False)
    monkeypatch.setenv("KINEMA_NO_HF_CACHE", "1")
    monkeypatch.setenv("KINEMA_CACHE_DIR", str(tmp_path / "cache"))
    yield folder
    settings.configure(settings.ORGANIZATION, settings.APPLICATION, None)
    set_model_folders([])


@pytest.fixture(autouse=True)
def no_thread_left_running():
    """A test that leaves a thread of its own running fails (napari's rule)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert not extra, f"threads left running: {[t.name for t in extra]}"


@pytest.fixture
def sample(tmp_path) -> Path:
    target = tmp_path / "Meadow.kinema"
    shutil.copytree(SAMPLE, target)
    return target


@pytest.fixture
def dialogs() -> ScriptedDialogs:
    return ScriptedDialogs()


@pytest.fixture
def make_window(qtbot, dialogs):
    """Build a MainWindow (optionally with a custom engine); always shut down in teardown."""
    from studio.main_window import MainWindow

    windows = []

    def make(engine_factory=None, autosave_interval_ms: int = 60_000, project: Path | None = None):
        window = MainWindow(
            dialogs=dialogs,
            engine_factory=engine_factory or engine_with(create_backend),
            device="cpu",
            autosave_interval_ms=autosave_interval_ms,
            restore_layout=False,
        )
        windows.append(window)
        window.resize(1280, 800)
        window.show()
        if project is not None:
            assert window.files.open_path(project), dialogs.errors
            qtbot.waitUntil(
                lambda: window.viewer.kind != "empty" or bool(window.viewer.view.message)
            )
        return window

    yield make
    for window in windows:
        window.shutdown()
        # every worker pool has stopped: nothing of the window runs on after it
        assert window.tasks.active_threads == 0 and window.live_previs.active_threads == 0
        window.close()
        window.deleteLater()
    qtbot.wait(1)


@pytest.fixture
def window(make_window, sample):
    """The studio on a fresh copy of the sample project, its keyframe on screen."""
    win = make_window(project=sample)
    return win
