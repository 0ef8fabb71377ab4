"""Importing a huge keyframe, the backend new shots start on, and what `make run` and
`kinema` do on a machine without Qt's X11 libraries.

A 12000x8000 photo shows a progress dialog at once (with Cancel), is scaled down to cover
the project's frame (unless originals are kept), and an undone import takes its copy out
of media/. New projects start on the built-in model. Without libxcb-cursor0 Kinema says
in one sentence what to install, before Qt prints its own plugin error.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QPushButton

from engine.media import read_image

ROOT = Path(__file__).resolve().parents[2]
CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def huge_photo(tmp_path) -> Path:
    """A 12000x8000 JPEG: a blue sky over a green field, with detail to decode."""
    rng = np.random.default_rng(3)
    small = rng.integers(0, 60, (80, 120, 3), np.uint8)
    small[:40] += np.array([40, 90, 170], np.uint8)
    small[40:] += np.array([50, 140, 40], np.uint8)
    big = cv2.resize(small, (12000, 8000), interpolation=cv2.INTER_LINEAR)
    path = tmp_path / "huge.jpg"
    assert cv2.imwrite(str(path), big[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path


def media_files(window) -> list[str]:
    return sorted(p.name for p in (window.document.project.folder / "media").iterdir())


def test_a_huge_image_shows_progress_is_scaled_down_and_undo_removes_the_copy(
    qtbot, window, dialogs, huge_photo
):
    shot = window.document.current_shot
    dialogs.paths["import"] = huge_photo
    with qtbot.waitSignal(window.importer.imported, timeout=30_000):
        qtbot.keyClick(window, Qt.Key.Key_I, CTRL)
        assert window.importer.progress_dialog.isVisible()  # feedback at once
    folder = window.document.project.folder
    assert shot.keyframe == "media/huge.png"
    copy = folder / "media" / "huge.png"
    assert read_image(copy).shape == (341, 512, 3)  # covers the project's 512x288 frame
    assert copy.stat().st_size < huge_photo.stat().st_size / 4
    assert "scaled down to 512x341" in window.statusBar().currentMessage()
    assert window.importer.progress_dialog is None

    window.activateWindow()  # the progress dialog had the keyboard
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL)  # undo: the copy leaves media/
    assert shot.keyframe == "media/meadow.png"
    assert media_files(window) == ["meadow.png"]
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)  # redo
    assert shot.keyframe == "media/huge.png" and copy.is_file()
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL)
    qtbot.waitUntil(lambda: not window.tasks.busy)  # the viewer has shown the keyframe
    window.close()  # nothing can redo it now: the trash is emptied
    window.tasks.wait()
    assert not (folder / ".trash").exists() and media_files(window) == ["meadow.png"]


def test_an_import_can_be_cancelled_and_leaves_nothing(qtbot, window, huge_photo):
    shot = window.document.current_shot
    with qtbot.waitSignal(window.importer.cancelled, timeout=30_000):
        window.import_keyframe(huge_photo)
        dialog = window.importer.progress_dialog
        cancel = dialog.findChild(QPushButton)
        assert cancel.text() == "Cancel"
        qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    assert shot.keyframe == "media/meadow.png"
    assert media_files(window) == ["meadow.png"]
    assert window.statusBar().currentMessage() == "Import cancelled."


def test_originals_are_kept_when_the_preference_says_so(qtbot, window, huge_photo):
    window.preferences = dataclasses.replace(window.preferences, keep_originals=True)
    with qtbot.waitSignal(window.importer.imported, timeout=30_000):
        window.import_keyframe(huge_photo)
    copy = window.document.project.folder / "media" / "huge.jpg"
    assert copy.read_bytes() == huge_photo.read_bytes()


def test_the_preferences_dialog_keeps_originals_when_ticked(qtbot, window, dialogs):
    def tick(dialog):
        qtbot.mouseClick(dialog.keep_originals_box, Qt.MouseButton.LeftButton)
        return True

    dialogs.preferences_script = tick
    assert window.show_preferences()
    assert window.preferences.keep_originals


def test_a_new_project_starts_on_the_built_in_model(qtbot, window, dialogs, tmp_path):
    dialogs.paths["new"] = tmp_path / "Fresh"
    qtbot.keyClick(window, Qt.Key.Key_N, CTRL)
    shot = window.document.current_shot
    assert window.document.project.name == "Fresh"
    assert (shot.settings.backend, shot.settings.steps) == ("builtin", 8)
    assert window.inspector.backend_box.currentData() == "builtin"
    window.timeline.add_shot()
    assert window.document.project.shots[-1].settings.backend == "builtin"


def test_kinema_says_what_to_install_when_xcb_cursor_is_missing(monkeypatch, capsys):
    import ctypes.util

    from studio import app

    # every other library Qt's xcb plugin loads is there, whatever this machine has
    monkeypatch.setattr(
        ctypes.util,
        "find_library",
        lambda name: None if name == "xcb-cursor" else f"lib{name}.so.0",
    )
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert app.main(["--quit-after", "1"]) == 1
    assert capsys.readouterr().err.strip() == (
        "Kinema needs the X11 library libxcb-cursor0 to open its window: install it with "
        "`sudo apt install libxcb-cursor0`."
    )


def fake_tools(folder: Path, installed: bool) -> Path:
    """`id` says root, `dpkg -s` says whether the libraries are there, `apt-get` records."""
    folder.mkdir()
    log = folder / "apt.log"
    scripts = {
        "id": "#!/bin/sh\necho 0\n",
        "dpkg": f"#!/bin/sh\nexit {0 if installed else 1}\n",
        "apt-get": f'#!/bin/sh\necho "$@" >> {log}\n',
    }
    for name, text in scripts.items():
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    return log


@pytest.mark.parametrize(
    ("display", "installed", "installs"),
    [(":0", False, True), ("", False, False), (":0", True, False)],
)
def test_make_run_installs_the_xcb_libraries_only_where_a_window_opens(
    tmp_path, display, installed, installs
):
    log = fake_tools(tmp_path / "bin", installed)
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "DISPLAY": display}
    env.pop("WAYLAND_DISPLAY", None)
    subprocess.run(
        ["make", "-s", "-C", str(ROOT), "display-libs"], env=env, check=True, capture_output=True
    )
    lines = log.read_text().splitlines() if log.exists() else []
    assert any("install" in line and "libxcb-cursor0" in line for line in lines) == installs
    dry = subprocess.run(
        ["make", "-n", "-C", str(ROOT), "run"], env=env, capture_output=True, text=True
    ).stdout
    assert "libxcb-cursor0" in dry  # `make run` goes through the same check


def test_an_import_that_ends_while_its_progress_is_shown_leaves_no_error(qtbot, window):
    """A window-modal progress dialog runs the event loop inside `setValue`; an import that
    finished there used to be read afterwards through the dialog it had let go of."""
    importer = window.importer
    importer._make_progress("meadow.png", at_once=True)
    dialog = importer.progress_dialog
    real_set_value = dialog.setValue

    def finishing(value):  # the import's end arrives inside the dialog's own event loop
        importer._end()
        real_set_value(value)

    dialog.setValue = finishing
    importer._on_progress(1, 3)  # raised AttributeError on None before
    assert importer.progress_dialog is None
    assert "Scaling down" in dialog.labelText()
