"""The inspector's Last frame slot: choose an image, clear it, undo each, and the note that
says when the shot's backend ignores a last frame (driven by real clicks and keys)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest


def _picture(path, width=120, height=80):
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 2] = (30, 40, 220)
    image[:, width // 2 :] = (200, 160, 20)
    cv2.imwrite(str(path), image)
    return path


def _click(qtbot, button):
    assert button.isVisible() and button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _undo(window):
    window.activateWindow()
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)


def _redo(window):
    QTest.keyClick(
        window,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )


def test_choose_and_clear_the_last_frame_each_one_undo_step(window, dialogs, qtbot, tmp_path):
    window.inspector_dock.raise_()
    slot = window.inspector.last_frame
    shot = window.document.current_shot
    project = window.document.project
    assert shot.last_keyframe is None
    assert "None" in slot.name_label.text() and not slot.clear_button.isEnabled()
    dialogs.paths["import"] = _picture(tmp_path / "sunset.png")
    steps = window.document.undo_stack.count()

    _click(qtbot, slot.choose_button)
    qtbot.waitUntil(lambda: shot.last_keyframe is not None)
    assert shot.last_keyframe == "media/sunset.png" and shot.keyframe != shot.last_keyframe
    assert (project.folder / "media" / "sunset.png").is_file()
    assert slot.name_label.text() == "sunset.png"
    assert slot.picture.pixmap() is not None and not slot.picture.pixmap().isNull()
    assert slot.clear_button.isEnabled()
    assert window.document.undo_stack.count() == steps + 1
    assert window.document.undo_stack.undoText() == "Set last frame to sunset.png"
    assert window.statusBar().currentMessage() == "Last frame set to media/sunset.png"

    _undo(window)  # the import is undone: the shot has none, the copy leaves media/
    assert shot.last_keyframe is None
    assert not (project.folder / "media" / "sunset.png").exists()
    assert "None" in slot.name_label.text()
    _redo(window)
    assert shot.last_keyframe == "media/sunset.png"
    assert (project.folder / "media" / "sunset.png").is_file()

    _click(qtbot, slot.clear_button)
    assert shot.last_keyframe is None and not slot.clear_button.isEnabled()
    assert window.document.undo_stack.undoText() == "Clear last frame"
    _undo(window)
    assert shot.last_keyframe == "media/sunset.png" and slot.name_label.text() == "sunset.png"

    window.files.save()
    saved = (project.folder / "project.json").read_text()
    assert '"last_keyframe": "media/sunset.png"' in saved


def test_the_slot_says_when_the_backend_ignores_a_last_frame(window, qtbot):
    window.inspector_dock.raise_()
    slot = window.inspector.last_frame
    caps = window.inspector.capabilities[window.document.current_shot.settings.backend]
    assert not caps.last_frame
    assert slot.note.isVisible()
    assert slot.note.text().startswith(f"{caps.label} takes no last frame; it is ignored.")
    assert "No backend here takes one" in slot.note.text()


def test_a_model_that_takes_a_last_frame_has_no_note_and_others_name_it(
    make_window, sample, tiny_model_root, monkeypatch, qtbot
):
    pytest.importorskip("diffusers")
    from studio.commands import SetShotSetting

    monkeypatch.setenv("KINEMA_MODELS", str(tiny_model_root))
    window = make_window(project=sample)
    window.inspector_dock.raise_()
    slot = window.inspector.last_frame
    flf2v = window.inspector.capabilities["diffusers:wan-flf2v"]
    assert f"Taken by {flf2v.label}." in slot.note.text()
    shot = window.document.current_shot
    window.document.push(SetShotSetting(window.document, shot.id, "backend", flf2v.name))
    assert slot.note.isHidden() and slot.note.text() == ""
    assert "can end on a last frame" in window.inspector.backend_note.text()


def test_a_missing_last_frame_says_so_and_can_be_cleared(make_window, sample, qtbot):
    from engine.project import Project

    project = Project.load(sample)
    project.shots[0].last_keyframe = "media/gone.png"
    project.save()
    window = make_window(project=sample)
    window.inspector_dock.raise_()
    window.document.set_current_shot(project.shots[0].id)
    slot = window.inspector.last_frame
    assert "'media/gone.png' is missing" in slot.name_label.text()
    _click(qtbot, slot.clear_button)
    assert window.document.current_shot.last_keyframe is None
