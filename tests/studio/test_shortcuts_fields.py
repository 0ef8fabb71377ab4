"""App shortcuts with the focus in a field: real clicks into the inspector's fields, then
real key presses on the focused widget, as a user types them."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox

CTRL = Qt.KeyboardModifier.ControlModifier


def click_into(qtbot, window, field):
    """Click into a field of the window, as a user does; the window is the active one."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    window.inspector_dock.raise_()
    qtbot.waitUntil(field.isVisible)
    target = field.lineEdit() if hasattr(field, "lineEdit") and field.lineEdit() else field
    qtbot.mouseClick(target, Qt.MouseButton.LeftButton, pos=target.rect().center())
    if isinstance(field, QComboBox):
        field.hidePopup()  # the click opened its list; closed, the focus is the box's
    qtbot.waitUntil(field.hasFocus)
    return field


def focused():
    return QApplication.focusWidget()


def shot_duration(window) -> int:
    return window.document.current_shot.duration


def test_chords_in_a_spin_box_are_the_apps(qtbot, window, dialogs):
    """Ctrl+E exports and Ctrl+Z undoes from a spin box (under X11 a line edit claims
    Ctrl+E as "end of line", and on every platform Ctrl+Z as its own undo)."""
    asked = []
    dialogs.export_options = lambda defaults, *args, **kw: asked.append(defaults)  # cancelled
    window.shot_list.add_button.click()  # an edit to undo
    duration = click_into(qtbot, window, window.inspector.duration_spin)
    before, text = shot_duration(window), duration.text()
    QTest.keyClick(focused(), Qt.Key.Key_E, CTRL)
    assert len(asked) == 1  # the export dialog was asked for
    assert duration.text() == text and shot_duration(window) == before
    QTest.keyClick(focused(), Qt.Key.Key_Z, CTRL)
    assert len(window.document.project.shots) == 2  # the app's undo, not the field's


def test_escape_leaves_the_field_and_keeps_the_committed_value(qtbot, window):
    duration = click_into(qtbot, window, window.inspector.duration_spin)
    before, text = shot_duration(window), duration.text()
    duration.selectAll()
    QTest.keyClicks(focused(), "3")
    assert duration.cleanText() == "3"  # typed, not committed (a duration commits on Enter)
    QTest.keyClick(focused(), Qt.Key.Key_Escape)
    assert not duration.hasFocus()
    assert focused() is window.viewer.view  # back to the viewer
    assert duration.text() == text and shot_duration(window) == before
    assert window.document.undo_stack.count() == 0


def test_second_escape_cancels_the_running_job_not_the_first(qtbot, make_window, sample):
    from studio_helpers import SlowPrevis, engine_with

    backend = SlowPrevis(delay=0.05)
    window = make_window(engine_factory=engine_with(lambda name: backend), project=sample)
    field = click_into(qtbot, window, window.inspector.seed_spin)
    with qtbot.waitSignal(window.bridge.preview_ready, timeout=15_000):
        (job,) = window.generate()
    QTest.keyClick(focused(), Qt.Key.Key_Escape)  # leaves the field only
    assert not field.hasFocus()
    assert window.generation.model.record(job).status == "running"
    with qtbot.waitSignal(window.bridge.job_cancelled, timeout=15_000):
        QTest.keyClick(focused(), Qt.Key.Key_Escape)  # now on the viewer: cancels
    assert window.generation.model.record(job).status == "cancelled"


def test_enter_commits_the_field_and_gives_the_focus_back(qtbot, window):
    duration = click_into(qtbot, window, window.inspector.duration_spin)
    duration.selectAll()
    QTest.keyClicks(focused(), "3")
    QTest.keyClick(focused(), Qt.Key.Key_Return)
    assert shot_duration(window) == round(3 * window.document.project.fps)
    qtbot.waitUntil(lambda: focused() is window.viewer.view)


def test_space_plays_from_a_spin_box_and_is_a_letter_in_the_prompt(qtbot, window):
    seed = click_into(qtbot, window, window.inspector.seed_spin)
    text = seed.text()
    assert not window.viewer.is_playing
    QTest.keyClick(focused(), Qt.Key.Key_Space)
    assert window.viewer.is_playing
    assert seed.text() == text and seed.hasFocus()
    QTest.keyClick(focused(), Qt.Key.Key_K)  # K stops, still from the field
    assert not window.viewer.is_playing
    assert seed.text() == text
    # what a number needs still types: digits, and arrows move inside the field
    duration = click_into(qtbot, window, window.inspector.duration_spin)
    frame = window.viewer.current_frame
    zoom = window.viewer.zoom_box.currentIndex()
    duration.selectAll()
    QTest.keyClick(focused(), Qt.Key.Key_1)  # "1" is Zoom 100 % elsewhere
    QTest.keyClick(focused(), Qt.Key.Key_Left)  # Left is the previous frame elsewhere
    QTest.keyClick(focused(), Qt.Key.Key_2)
    assert duration.cleanText() == "21"
    assert window.viewer.zoom_box.currentIndex() == zoom
    assert window.viewer.current_frame == frame
    # the prompt is free text: Space and L are letters there, not play
    prompt = click_into(qtbot, window, window.inspector.prompt_edit)
    prompt.moveCursor(prompt.textCursor().MoveOperation.End)
    typed = prompt.toPlainText()
    QTest.keyClick(focused(), Qt.Key.Key_Space)
    QTest.keyClick(focused(), Qt.Key.Key_L)
    assert prompt.toPlainText() == typed + " l"
    assert not window.viewer.is_playing


@pytest.mark.parametrize("field", ["name_edit", "seed_spin"])
def test_undo_and_redo_work_from_any_field(qtbot, window, field):
    shot = window.document.current_shot
    window.shot_list.add_button.click()  # an edit to undo
    assert len(window.document.project.shots) == 3
    click_into(qtbot, window, getattr(window.inspector, field))
    QTest.keyClick(focused(), Qt.Key.Key_Z, CTRL)
    assert len(window.document.project.shots) == 2
    # the inspector rebuilt for the shot selected now; the keys reach wherever focus went
    QTest.keyClick(focused() or window, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert len(window.document.project.shots) == 3
    assert shot in window.document.project.shots


def test_ctrl_enter_in_a_field_generates_what_was_typed(qtbot, window):
    duration = click_into(qtbot, window, window.inspector.duration_spin)
    duration.selectAll()
    QTest.keyClicks(focused(), "1")  # typed, not yet committed
    QTest.keyClick(focused(), Qt.Key.Key_Return, CTRL)
    (record,) = window.generation.model.records()
    frames = round(1 * window.document.project.fps)
    assert record.size[2] == frames  # the job was made at the duration on screen
    assert shot_duration(window) == frames
    qtbot.waitUntil(lambda: not window.generation.active_jobs, timeout=15_000)
