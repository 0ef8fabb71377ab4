"""Project-wide settings, visible validation, takes that do not fit, and export around them.

Size and frame rate live in File > Project Settings (one undo step), not in the shot
inspector; typed input that is out of range or rounded says so beside its field; a take of
another size or length is marked in the Takes panel and the Export dialog, which lists the
shots without a take and can generate them before it exports.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

FINISH_TIMEOUT = 20_000


def type_into(qtbot, spin, text: str, key=Qt.Key.Key_Return) -> None:
    """Select the spin box's text and type `text`, then Enter (Tab in a dialog, where
    Enter presses OK): what a user does."""
    spin.setFocus()
    spin.selectAll()
    QTest.keyClicks(spin, text)
    qtbot.keyClick(spin, key)


def type_in_dialog(qtbot, spin, text: str) -> None:
    type_into(qtbot, spin, text, Qt.Key.Key_Tab)


def open_project_settings(qtbot, window):
    window.inspector_dock.raise_()
    qtbot.mouseClick(window.inspector.project_button, Qt.MouseButton.LeftButton)
    dialog = window.project_settings_dialog
    qtbot.waitUntil(dialog.isVisible)
    return dialog


def test_project_settings_change_size_and_rate_in_one_undo_step(qtbot, window):
    project, inspector = window.document.project, window.inspector
    assert not hasattr(inspector, "size_box") and not hasattr(inspector, "fps_box")
    assert inspector.project_label.text() == "512 × 288 · 24 fps, every shot"

    dialog = open_project_settings(qtbot, window)
    type_in_dialog(qtbot, dialog.width_spin, "99999")
    assert dialog.width_note.isVisible()
    assert dialog.width_note.text() == "Width must be between 16 and 4096 pixels."
    assert not dialog.ok_button.isEnabled()
    type_in_dialog(qtbot, dialog.width_spin, "1001")
    assert dialog.width_note.text() == "Width is rounded to a multiple of 8: 1000."
    assert dialog.ok_button.isEnabled()
    type_in_dialog(qtbot, dialog.width_spin, "768")
    assert not dialog.width_note.isVisible()
    type_in_dialog(qtbot, dialog.height_spin, "432")
    type_in_dialog(qtbot, dialog.fps_spin, "0")
    assert dialog.fps_note.text() == "Frame rate must be between 1 and 240 fps."
    assert not dialog.ok_button.isEnabled()
    type_in_dialog(qtbot, dialog.fps_spin, "30")
    assert (project.width, project.height, project.fps) == (512, 288, 24.0)  # not yet
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    assert (project.width, project.height, project.fps) == (768, 432, 30.0)
    assert inspector.project_label.text() == "768 × 432 · 30 fps, every shot"
    stack = window.document.undo_stack
    assert stack.count() == 1 and stack.text(0) == "Change project settings"
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (project.width, project.height, project.fps) == (512, 288, 24.0)


def test_the_duration_field_says_what_became_of_the_input(qtbot, window):
    shot, inspector = window.document.current_shot, window.inspector
    assert shot.duration == 48
    type_into(qtbot, inspector.duration_spin, "0")
    assert shot.duration == 48  # nothing invalid reaches the document
    assert inspector.duration_note.isVisible()
    assert (
        inspector.duration_note.text() == "Duration must be at least one frame (0.04 s at 24 fps)."
    )

    type_into(qtbot, inspector.duration_spin, "0.3")
    assert shot.duration == 7
    assert inspector.duration_note.text() == "Rounded to a whole frame: 7 frames (0.29 s)."
    assert inspector.duration_spin.value() == 0.29

    type_into(qtbot, inspector.duration_spin, "1.5")
    assert shot.duration == 36 and not inspector.duration_note.isVisible()


def test_a_take_of_another_size_or_length_is_marked(qtbot, window):
    shot = window.document.current_shot
    window.generate()
    qtbot.waitUntil(lambda: bool(shot.takes), timeout=FINISH_TIMEOUT)
    panel = window.takes_panel
    assert "⚠" not in panel.list.item(0).text()

    dialog = open_project_settings(qtbot, window)
    type_in_dialog(qtbot, dialog.height_spin, "512")
    assert "1 shot(s) have an active take made at another size" in dialog.takes_note.text()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert "⚠ 512x288 take in a 512x512 project" in panel.list.item(0).text()

    type_into(qtbot, window.inspector.duration_spin, "3")
    badge = panel.list.item(0).text()
    assert "take is 2.00 s, shot is 3.00 s" in badge
    assert "last frame held for 1.00 s" in panel.list.item(0).toolTip()


def test_export_lists_shots_without_a_take_and_generates_them_first(qtbot, window, dialogs):
    first, second = window.document.project.shots
    seen = {}

    def script(dialog):
        assert dialog.generate_missing_button.text() == "Generate missing (1)"  # this shot
        dialog.scope_box.setFocus()
        qtbot.keyClick(dialog.scope_box, Qt.Key.Key_Down)  # the whole sequence
        assert dialog.scope_box.currentData() == "sequence"
        seen["missing"] = dialog.missing_label.text()
        seen["export_enabled"] = dialog.export_button.isEnabled()
        assert dialog.generate_missing_button.text() == "Generate missing (2)"
        qtbot.mouseClick(dialog.generate_missing_button, Qt.MouseButton.LeftButton)

    dialogs.export_script = script
    with qtbot.waitSignal(window.exporter.finished, timeout=2 * FINISH_TIMEOUT) as finished:
        assert not window.export()  # the export waits for the takes
        assert window.generation.active_jobs == 2
    assert seen["missing"] == (
        f"2 shots without a take: Shot 1 '{first.name}', Shot 2 '{second.name}'."
    )
    assert not seen["export_enabled"]
    assert first.takes and second.takes
    assert dialogs.errors == []
    written = finished.args[0]
    assert written.endswith(".mp4")


def test_a_refused_export_keeps_the_dialog_and_its_settings(qtbot, window, dialogs, tmp_path):
    shot = window.document.current_shot
    window.generate()
    qtbot.waitUntil(lambda: bool(shot.takes), timeout=FINISH_TIMEOUT)
    state = {}

    def refused_then_fixed(dialog):
        dialog.codec_box.setCurrentIndex(dialog.codec_box.findData("prores-hq"))
        dialog.crf_spin.setFocus()
        dialog.path_edit.clear()
        QTest.keyClicks(dialog.path_edit, str(tmp_path / "nowhere" / "cut.mov"))
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
        state["open"] = dialog.isVisible()
        state["error"] = dialog.error_label.text()
        state["codec"] = dialog.codec_box.currentData()
        dialog.path_edit.clear()
        QTest.keyClicks(dialog.path_edit, str(tmp_path / "cut.mov"))
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)

    dialogs.export_script = refused_then_fixed
    with qtbot.waitSignal(window.exporter.finished, timeout=FINISH_TIMEOUT):
        assert window.export()
    assert state["open"] and state["codec"] == "prores-hq"
    assert "does not exist" in state["error"]
    assert (tmp_path / "cut.mov").is_file()

    dialogs.export_script = lambda dialog: None  # opened and cancelled: as it was left
    assert not window.export()
    remembered = dialogs.export_defaults[-1]
    assert (remembered.codec, remembered.path) == ("prores-hq", tmp_path / "cut.mov")


def test_export_says_what_it_does_with_a_mismatched_take(qtbot, window, dialogs):
    first, second = window.document.project.shots
    window.generate_all()
    qtbot.waitUntil(lambda: bool(first.takes and second.takes), timeout=2 * FINISH_TIMEOUT)
    dialog = open_project_settings(qtbot, window)
    type_in_dialog(qtbot, dialog.height_spin, "512")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    seen = {}

    def script(dialog):
        dialog.scope_box.setCurrentIndex(dialog.scope_box.findData("sequence"))
        seen["text"] = dialog.mismatch_label.text()
        seen["regenerate"] = dialog.regenerate_button.isVisible()

    dialogs.export_script = script
    window.export()
    assert seen["regenerate"]
    assert (
        f"Shot 1 '{first.name}': 512x288 take in a 512x512 project: scaled to fit, letterboxed."
        in seen["text"]
    )


def test_generate_all_shots_from_the_generate_menu(qtbot, window):
    first, second = window.document.project.shots
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Generate")
    action = next(a for a in menu.actions() if a.text() == "Generate &all shots")
    action.trigger()
    assert window.generation.active_jobs == 2
    qtbot.waitUntil(lambda: bool(first.takes and second.takes), timeout=2 * FINISH_TIMEOUT)


def test_generate_missing_that_cannot_start_drops_the_waiting_export(
    qtbot, make_window, sample, dialogs
):
    """A read-only window refuses to generate (its takes would land in another window's
    project): the export that waited for them says so, instead of waiting for good and
    starting on some later Generate."""
    first = make_window(project=sample)
    dialogs.lock_answer = "read-only"
    second = make_window(project=sample)
    assert second.files.read_only

    def script(dialog):
        qtbot.mouseClick(dialog.generate_missing_button, Qt.MouseButton.LeftButton)

    dialogs.export_script = script
    assert not second.export()
    assert second.generation.active_jobs == 0
    assert not second.export_waiting.pending
    line = second.statusBar().currentMessage()
    assert "read-only" in line or "another" in line
    assert line.endswith("the export waiting for it was not started.")
    first.close()
