"""Takes in the viewer: A/B as a split wipe, overlays of what the take was made with, and the
ask-versus-got overlay measured off the GUI thread."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QPoint, Qt
from studio_helpers import FINISH_TIMEOUT, click, drag, finished_takes

from studio.take_obedience import NOT_A_TAKE


def click_item(qtbot, list_widget, item):
    rect = list_widget.visualItemRect(item)
    qtbot.mouseClick(list_widget.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def on_screen(view, size) -> np.ndarray:
    """The picture as painted, cut from a grab of the view and brought to the frame's size."""
    image = view.grab().toImage().convertToFormat(view.grab().toImage().Format.Format_RGB888)
    row = image.bytesPerLine()
    data = np.frombuffer(image.constBits(), np.uint8, count=row * image.height())
    data = data.reshape(image.height(), row)[:, : image.width() * 3]
    pixels = data.reshape(image.height(), image.width(), 3)
    ratio = view.devicePixelRatioF()
    target = view.image_rect()
    x0, y0 = round(target.left() * ratio), round(target.top() * ratio)
    x1, y1 = round(target.right() * ratio), round(target.bottom() * ratio)
    return cv2.resize(np.ascontiguousarray(pixels[y0:y1, x0:x1]), size, cv2.INTER_AREA)


def closer_to(shown, a, b, columns) -> str:
    part = (slice(None), slice(*columns))
    da = np.abs(shown[part].astype(int) - a[part]).mean()
    db = np.abs(shown[part].astype(int) - b[part]).mean()
    return "A" if da < db else "B"


def test_comparing_takes_splits_the_picture_with_a_divider_to_drag(qtbot, window):
    viewer = window.viewer
    click(qtbot, window.inspector.generate_button)
    finished_takes(qtbot, window, 1)
    window.camera_dock.raise_()
    click(qtbot, window.camera_editor.preset_button)  # another camera move: another picture
    click(qtbot, window.inspector.generate_button)
    one, two = finished_takes(qtbot, window, 2)
    panel = window.takes_panel
    click_item(qtbot, panel.list, panel.item_for(one.id))
    click(qtbot, panel.compare_button)
    qtbot.waitUntil(lambda: viewer.wiping and viewer.compared_frame() is not None)
    for button in (viewer.camera_button, viewer.strokes_button):
        click(qtbot, button)  # the bare pictures
    viewer.pause()
    viewer.seek(30)
    a, b = window.take_cache.get(two.id)[30], window.take_cache.get(one.id)[30]
    size = (a.shape[1], a.shape[0])
    width = size[0]
    shown = on_screen(viewer.view, size)
    assert closer_to(shown, a, b, (0, width * 2 // 5)) == "A"  # active take left
    assert closer_to(shown, a, b, (width * 3 // 5, width)) == "B"  # compared take right
    assert viewer.view.badge == "A · Take 2" and viewer.view.badge_b == "B · Take 1"
    # drag the divider to a quarter of the way across: B shows from there on
    target = viewer.view.image_rect()
    start = QPoint(round(viewer.view.divider_x()), round(target.center().y()))
    end = QPoint(round(target.left() + target.width() * 0.25), start.y())
    drag(qtbot, viewer.view, [start, (start + end) / 2, end])
    assert abs(viewer.view.wipe - 0.25) < 0.02
    shown = on_screen(viewer.view, size)
    assert closer_to(shown, a, b, (width * 3 // 10, width * 2 // 5)) == "B"
    # \ still flips to B whole; Wipe off compares by flipping only
    qtbot.keyClick(window, Qt.Key.Key_Backslash)
    assert viewer.showing_b and not viewer.view.splitting
    np.testing.assert_array_equal(viewer.displayed_frame(), b)
    qtbot.keyClick(window, Qt.Key.Key_Backslash)
    click(qtbot, viewer.wipe_button)
    assert not viewer.view.splitting
    np.testing.assert_array_equal(viewer.displayed_frame(), a)


def test_overlays_show_what_the_take_was_made_with_and_say_what_changed(qtbot, window):
    viewer = window.viewer
    click(qtbot, window.inspector.generate_button)
    (take,) = finished_takes(qtbot, window, 1)
    qtbot.waitUntil(lambda: viewer.kind == "take")
    assert [s.name for s in viewer.view.strokes] == ["Ball rolls right", "Tree stays"]
    assert viewer.view.note == ""
    # delete a stroke in the brush panel: the previs shows the edit
    window.brush_dock.raise_()
    brush = window.brush_panel
    tree = next(
        brush.list.item(r) for r in range(brush.list.count()) if "Tree" in brush.list.item(r).text()
    )
    click_item(qtbot, brush.list, tree)
    click(qtbot, brush.delete_button)
    assert viewer.kind == "previs" or window.presenter.previs_mode
    assert [s.name for s in viewer.view.strokes] == ["Ball rolls right"]
    # back to the take: its own strokes, and a quiet word that the shot moved on
    click(qtbot, viewer.previs_button)
    qtbot.waitUntil(lambda: viewer.kind == "take")
    assert [s.name for s in viewer.view.strokes] == ["Ball rolls right", "Tree stays"]
    assert viewer.view.note == "Strokes changed since this take"
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: viewer.view.note == "")


def test_ask_versus_got_measures_the_take_and_says_when_there_is_nothing(qtbot, window):
    viewer, view = window.viewer, window.viewer.view
    window.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_O)  # the keyframe is on screen: no take to measure
    assert window.obedience_action.isChecked() and viewer.obedience_button.isChecked()
    assert view.obedience is None and view.obedience_message == NOT_A_TAKE
    click(qtbot, window.inspector.generate_button)
    (take,) = finished_takes(qtbot, window, 1)
    qtbot.waitUntil(lambda: view.obedience is not None, timeout=FINISH_TIMEOUT)
    result = view.obedience
    assert [s.name for s in result.strokes] == ["Ball rolls right", "Tree stays"]
    assert all(s.mean_error_pct < 2.0 for s in result.strokes)  # the previs does as asked
    assert result.camera is not None and result.camera.direction_ok
    assert window.obedience.result(take.id) is result  # kept per take
    view.grab()  # it paints
    click(qtbot, viewer.obedience_button)
    assert view.obedience is None and view.obedience_message == ""
    assert not window.obedience_action.isChecked()
    # a shot asked for nothing: its take says so
    window.actions_by_name["add_shot"].trigger()
    bare = window.document.current_shot
    assert not bare.strokes and not bare.camera.keyframes
    click(qtbot, window.inspector.generate_button)
    finished_takes(qtbot, window, 1, bare)
    qtbot.waitUntil(lambda: viewer.kind == "take")
    window.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_O)
    qtbot.waitUntil(lambda: "no strokes and no camera move" in view.obedience_message)


def test_typing_over_a_take_does_not_encode_the_stroke_masks_each_key(qtbot, window, monkeypatch):
    """The 'changed since this take' note is worked out on the GUI thread at every edit: it
    compares the shot with the take's record without PNG-encoding every mask per key (a
    full-HD mask takes tens of milliseconds)."""
    import engine.motion

    viewer = window.viewer
    click(qtbot, window.inspector.generate_button)
    finished_takes(qtbot, window, 1)
    qtbot.waitUntil(lambda: viewer.kind == "take")
    real, encoded = engine.motion._encode_mask, []
    monkeypatch.setattr(engine.motion, "_encode_mask", lambda mask: encoded.append(1) or real(mask))
    qtbot.keyClicks(window.inspector.prompt_edit, " at dusk")
    assert viewer.kind == "take"
    assert viewer.view.note == "Prompt changed since this take"
    assert len(encoded) <= 2  # each of the shot's two masks at most once, not per key
