"""An undone import's copy waits in the project's trash for a redo, and only what nothing
uses goes there: an import dropped half-way (its shot gone, or cancelled) must not empty
the trash under another import's redo, and a take made from the imported keyframe keeps
its file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def small_picture(tmp_path) -> Path:
    path = tmp_path / "dusk.png"
    picture = np.zeros((288, 512, 3), np.uint8)
    picture[:144] = (200, 120, 60)
    picture[144:] = (40, 90, 30)
    assert cv2.imwrite(str(path), picture)
    return path


def import_and_wait(qtbot, window, path: Path) -> str:
    with qtbot.waitSignal(window.importer.imported, timeout=30_000) as signal:
        window.import_keyframe(path)
    return signal.args[1]


def focus_window(qtbot, window) -> None:
    window.activateWindow()  # a progress dialog may have had the keyboard
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def test_an_import_whose_shot_went_leaves_an_undone_import_redoable(
    qtbot, window, small_picture, tmp_path
):
    document = window.document
    folder = document.project.folder
    first = document.current_shot
    qtbot.mouseClick(window.timeline.add_button, Qt.MouseButton.LeftButton)
    added = document.current_shot
    assert added is not first
    document.set_current_shot(first.id)
    relative = import_and_wait(qtbot, window, small_picture)
    focus_window(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL)  # undo the import: its copy waits in the trash
    assert first.keyframe == "media/meadow.png" and not (folder / relative).exists()

    # a second import into the added shot, and Ctrl+Z before it is done: the shot goes
    other = tmp_path / "other.png"
    other.write_bytes(small_picture.read_bytes())
    document.set_current_shot(added.id)
    window.import_keyframe(other)
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL)  # undo Add shot
    assert document.shot(added.id) is None
    qtbot.waitUntil(lambda: not window.importer.busy, timeout=30_000)
    assert not (folder / "media" / "other.png").exists()  # the orphan copy is gone

    focus_window(qtbot, window)  # the dropped import's progress dialog may have had the keys
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL | SHIFT)  # redo Add shot
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL | SHIFT)  # redo the first import
    assert first.keyframe == relative
    assert (folder / relative).is_file()


def test_undoing_an_import_keeps_the_file_a_take_was_made_from(qtbot, window, small_picture):
    shot = window.document.current_shot
    folder = window.document.project.folder
    relative = import_and_wait(qtbot, window, small_picture)
    focus_window(qtbot, window)
    qtbot.mouseClick(window.inspector.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: len(shot.takes) == 1 and not window.generation.active_jobs, timeout=20_000
    )
    take = shot.takes[0]
    assert take.request["shot"]["keyframe"] == relative

    while shot.keyframe == relative:  # back past the generation to before the import
        qtbot.keyClick(window, Qt.Key.Key_Z, CTRL)
    assert shot.take(take.id) is not None  # undo after a generation keeps the take
    assert (folder / relative).is_file()  # and the keyframe it was made from
    window.takes_panel.select_take(take.id)
    qtbot.mouseClick(window.takes_panel.rerun_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: len(shot.takes) == 2 and not window.generation.active_jobs, timeout=20_000
    )
    assert not shot.takes[1].missing  # the re-run read the keyframe
