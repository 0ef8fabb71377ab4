"""The camera-path editor, driven with real mouse and key events on the real window."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from studio_helpers import drag, path_between, shot_guide

from engine.camera import CameraPath, preset
from studio.camera_editor import channel_varies, sample_curve, with_easing
from studio.live_previs import previs_frame


@pytest.fixture
def editor(window):
    window.camera_dock.raise_()
    window.camera_dock.show()
    return window.camera_editor


def aim(editor, channel: str, frame: float, value: float):
    return editor.plots[channel].widget_pos(frame, value, editor.graph)


def wait_for_previs_clip(qtbot, window, shot):
    qtbot.waitUntil(
        lambda: window.viewer.kind == "previs" and window.viewer.available_frames == shot.duration,
        timeout=10_000,
    )


def test_the_editor_shows_the_shots_moving_channels(editor, window):
    shot = window.document.current_shot
    assert editor.shown_channels() == ("pan", "zoom")  # the sample pans and zooms
    xs, ys = editor.plots["pan"].curve.getData()
    expected_x, expected_y = sample_curve(shot.camera, shot.duration, "pan")
    np.testing.assert_allclose(xs, expected_x)
    np.testing.assert_allclose(ys, expected_y)
    assert ys[0] == 0.0 and ys[-1] == 8.0
    assert [p[2] for p in editor.plots["pan"].key_points] == [0, 47]


def test_dragging_a_key_changes_the_path_previews_live_and_undoes_exactly(qtbot, window, editor):
    shot = window.document.current_shot
    before = shot.camera.to_dict()
    pan_before = [p.pan for p in shot.camera.sample_frames(shot.duration)]
    window.viewer.seek(30)
    live_frames = []

    def while_held():
        # the viewer shows the edit's previs before the mouse is released
        qtbot.waitUntil(
            lambda: "live" in window.viewer.view.badge and window.live_previs.idle, timeout=5000
        )
        live_frames.append(window.viewer.displayed_frame().copy())
        inputs = window.live_previs.inputs(shot, camera=editor.path)
        np.testing.assert_array_equal(live_frames[-1], previs_frame(inputs, 30))
        assert shot.camera.to_dict() == before  # nothing is in the document yet

    start = aim(editor, "pan", 47, 8.0)
    end = aim(editor, "pan", 40, 14.0)
    drag(qtbot, editor.graph.viewport(), path_between(start, end), before_release=while_held)

    keys = shot.camera.sorted().keyframes
    assert [k.frame for k in keys] == [0, 40]
    assert keys[1].pose.pan == pytest.approx(14.0, abs=0.4)
    assert keys[1].pose.zoom == 1.15  # a drag on the pan curve leaves zoom alone
    pan_after = [p.pan for p in shot.camera.sample_frames(shot.duration)]
    assert pan_after != pan_before and pan_after[40] == keys[1].pose.pan
    assert window.document.undo_stack.count() == 1  # one gesture, one step
    assert window.undo_action.text() == "&Undo Move camera key to frame 41"
    after = shot.camera.to_dict()

    # the viewer plays the whole previs of the edited path, frame for frame
    wait_for_previs_clip(qtbot, window, shot)
    guide = shot_guide(window.document.project, shot)
    assert window.viewer.current_frame == 30
    np.testing.assert_array_equal(window.viewer.displayed_frame(), guide[30])
    window.viewer.seek(40)
    np.testing.assert_array_equal(window.viewer.displayed_frame(), guide[40])

    window.undo_action.trigger()
    assert shot.camera.to_dict() == before
    assert [p[2] for p in editor.plots["pan"].key_points] == [0, 47]
    window.redo_action.trigger()
    assert shot.camera.to_dict() == after


def test_applying_a_preset_replaces_the_path(qtbot, window, editor):
    shot = window.document.current_shot
    before = shot.camera.to_dict()
    editor.preset_box.setCurrentIndex(editor.preset_box.findData("orbit"))
    QTest.mouseClick(editor.preset_button, Qt.MouseButton.LeftButton)
    assert shot.camera.to_dict() == preset("orbit", shot.duration).to_dict()
    assert editor.shown_channels() == ("pan", "dolly", "truck")
    assert window.undo_action.text() == "&Undo Camera preset: Orbit"
    # the top view draws the camera circling the subject
    xs, zs = editor.top_view.path.getData()
    assert xs[-1] > 0.3 and zs[-1] > 0.05
    wait_for_previs_clip(qtbot, window, shot)
    np.testing.assert_array_equal(
        window.viewer.displayed_frame(),
        shot_guide(window.document.project, shot)[window.viewer.current_frame],
    )
    window.undo_action.trigger()
    assert shot.camera.to_dict() == before
    window.redo_action.trigger()
    assert shot.camera.to_dict() == preset("orbit", shot.duration).to_dict()


def test_keys_are_added_eased_and_deleted_with_keys_and_menus(qtbot, window, editor):
    shot = window.document.current_shot
    pose_at_20 = shot.camera.sample(20)
    window.viewer.seek(20)
    assert editor.playhead == 20
    editor.graph.setFocus()
    qtbot.keyClick(editor.graph, Qt.Key.Key_I)
    key = shot.camera.keyframe_at(20)
    assert key is not None and key.pose == pose_at_20  # adding a key keeps the move as it was
    assert editor.selected == 20

    # right-click the new key: its easing menu
    QTest.mouseClick(
        editor.graph.viewport(),
        Qt.MouseButton.RightButton,
        pos=aim(editor, "pan", 20, key.pose.pan),
    )
    menu = editor.context_menu
    assert menu is not None and menu.isVisible()
    linear = next(a for a in menu.actions() if a.data() == "linear")
    linear.trigger()
    menu.close()
    assert shot.camera.keyframe_at(20).easing == "linear"
    assert shot.camera.sample(30).pan != pose_at_20.pan  # the segment after it is now linear

    editor.graph.setFocus()
    qtbot.keyClick(editor.graph, Qt.Key.Key_Delete)
    assert shot.camera.keyframe_at(20) is None
    names = [window.document.undo_stack.text(i) for i in range(window.document.undo_stack.count())]
    assert names == [
        "Add camera key at frame 21",
        "Set easing to Linear",
        "Delete camera key at frame 21",
    ]
    window.document.undo_stack.undo()
    assert shot.camera.keyframe_at(20).easing == "linear"


def test_bezier_handles_reshape_the_timing(qtbot, window, editor):
    shot = window.document.current_shot
    path = with_easing(shot.camera, 0, "bezier")
    editor.set_easing(0, "bezier")
    assert shot.camera.to_dict() == path.to_dict()
    assert shot.camera.keyframe_at(0).handles == (0.42, 0.0, 0.58, 1.0)
    assert shot.camera.sample(12).pan == pytest.approx(path.sample(12).pan)  # same shape so far
    plot = editor.plots["pan"]
    (x1, y1, _), (x2, y2, _) = [p for p in plot.handle_points]
    start = plot.widget_pos(x1, y1, editor.graph)
    end = plot.widget_pos(x1, 6.0, editor.graph)  # pull the first handle up: a fast start
    drag(qtbot, editor.graph.viewport(), path_between(start, end, 5))
    handles = shot.camera.keyframe_at(0).handles
    assert handles[1] == pytest.approx(6.0 / 8.0, abs=0.05)
    assert shot.camera.sample(12).pan > path.sample(12).pan + 1.0
    assert window.undo_action.text() == "&Undo Shape easing"


def test_channels_show_and_hide(qtbot, editor, window):
    QTest.mouseClick(editor.channel_buttons["roll"], Qt.MouseButton.LeftButton)
    assert "roll" in editor.shown_channels()
    QTest.mouseClick(editor.channel_buttons["zoom"], Qt.MouseButton.LeftButton)
    assert editor.shown_channels() == ("pan", "roll")
    assert window.document.undo_stack.count() == 0  # a view choice, not an edit


def test_channel_varies_and_curves_follow_easing():
    path = preset("dolly-zoom", 25)
    assert channel_varies(path, "dolly") and channel_varies(path, "zoom")
    assert not channel_varies(path, "pan") and not channel_varies(CameraPath(), "zoom")
    xs, ys = sample_curve(path, 25, "dolly")
    assert len(xs) == 24 * 4 + 1 and ys[0] == 0.0 and ys[-1] == path.sample(24).dolly


def test_the_wheel_zooms_time_around_the_mouse_and_a_double_click_fits_the_shot(qtbot, editor):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QMouseEvent, QWheelEvent
    from PySide6.QtWidgets import QApplication

    plot = editor.plots["pan"].plot
    full = plot.viewRange()[0]
    aim_at = aim(editor, "pan", 12, 0.0)
    for _ in range(3):
        event = QWheelEvent(
            QPointF(aim_at), QPointF(editor.graph.viewport().mapToGlobal(aim_at)), QPoint(0, 0),
            QPoint(0, 120), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase, False,
        )  # fmt: skip
        QApplication.sendEvent(editor.graph.viewport(), event)
    zoomed = plot.viewRange()[0]
    assert zoomed[1] - zoomed[0] < 0.8 * (full[1] - full[0])  # closer in on time
    assert zoomed[0] <= 12 <= zoomed[1]  # around the frame under the mouse
    assert editor.plots["zoom"].plot.viewRange()[0] == pytest.approx(zoomed)  # channels in step
    assert plot.viewRange()[0][0] >= -0.5 - 1e-6  # never past the shot's ends

    # a double click as a mouse sends it: press, release, double-click, release
    viewport, at = editor.graph.viewport(), aim(editor, "pan", 30, 6)
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=at)
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    for kind in (QMouseEvent.Type.MouseButtonDblClick, QMouseEvent.Type.MouseButtonRelease):
        held = left if kind == QMouseEvent.Type.MouseButtonDblClick else none
        event = QMouseEvent(kind, QPointF(at), QPointF(viewport.mapToGlobal(at)), left, held,
                            Qt.KeyboardModifier.NoModifier)  # fmt: skip
        QApplication.sendEvent(viewport, event)
    qtbot.waitUntil(lambda: plot.viewRange()[0] == pytest.approx(full))


def double_click(viewport, at) -> None:
    """A double click as a mouse sends it: press, release, double-click, release."""
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=at)
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    for kind in (QMouseEvent.Type.MouseButtonDblClick, QMouseEvent.Type.MouseButtonRelease):
        held = left if kind == QMouseEvent.Type.MouseButtonDblClick else none
        event = QMouseEvent(kind, QPointF(at), QPointF(viewport.mapToGlobal(at)), left, held,
                            Qt.KeyboardModifier.NoModifier)  # fmt: skip
        QApplication.sendEvent(viewport, event)


def test_a_key_under_the_playhead_is_grabbed_before_the_playhead(qtbot, window, editor):
    shot = window.document.current_shot
    window.viewer.seek(47)  # the playhead stands on the last key
    assert editor.playhead == 47
    start = aim(editor, "pan", 47, 8.0)
    # a few pixels off the key's centre (outside its diamond), on the playhead line's grip
    start.setX(start.x() + 4)
    start.setY(start.y() + 4)
    end = aim(editor, "pan", 40, 4.0)
    # the mouse comes to rest there first, as a hand does (pyqtgraph hands a drag to the item
    # that claimed it while hovering)
    for point in path_between(aim(editor, "pan", 44, 2.0), start, 4):
        QTest.mouseMove(editor.graph.viewport(), point.toPoint())
        qtbot.wait(15)
    drag(qtbot, editor.graph.viewport(), path_between(start, end))
    keys = shot.camera.sorted().keyframes
    assert [k.frame for k in keys] == [0, 40]
    assert keys[1].pose.pan == pytest.approx(4.0, abs=0.4)
    assert editor.playhead == 47  # the playhead stayed where it was
    # away from any key, the playhead line still drags
    line = aim(editor, "pan", 47, 2.0)
    drag(qtbot, editor.graph.viewport(), path_between(line, aim(editor, "pan", 20, 2.0)))
    assert editor.playhead == pytest.approx(20, abs=1)


def test_the_value_axis_stays_put_after_a_drop(qtbot, window, editor):
    plot = editor.plots["pan"].plot
    before = plot.viewRange()[1]
    start = aim(editor, "pan", 47, 8.0)
    drag(qtbot, editor.graph.viewport(), path_between(start, aim(editor, "pan", 40, 6.0)))
    assert window.document.current_shot.camera.keyframe_at(40) is not None
    assert plot.viewRange()[1] == pytest.approx(before)  # no jump when the mouse lets go
    # a key dropped above the view: the view grows to show it, and only then
    double_click(editor.graph.viewport(), aim(editor, "pan", 40, 6.0))
    assert editor.selected == 40 and editor.key_frame_spin.hasFocus()
    qtbot.keyClick(editor.key_frame_spin, Qt.Key.Key_Tab)
    editor.key_value_spin.selectAll()
    QTest.keyClicks(editor.key_value_spin, "30")
    qtbot.keyClick(editor.key_value_spin, Qt.Key.Key_Return)
    low, high = plot.viewRange()[1]
    assert high >= 30.0 and low == pytest.approx(before[0], abs=1e-6)


def test_double_click_a_key_to_type_its_frame_and_value(qtbot, window, editor):
    shot = window.document.current_shot
    before = shot.camera.to_dict()
    double_click(editor.graph.viewport(), aim(editor, "pan", 47, 8.0))
    assert editor.selected == 47
    frame_spin, value_spin = editor.key_frame_spin, editor.key_value_spin
    assert frame_spin.hasFocus() and frame_spin.value() == 48  # frames count from 1, as undo
    assert value_spin.value() == pytest.approx(8.0)
    frame_spin.selectAll()
    QTest.keyClicks(frame_spin, "31")
    qtbot.keyClick(frame_spin, Qt.Key.Key_Tab)
    value_spin.selectAll()
    QTest.keyClicks(value_spin, "12.5")
    assert shot.camera.to_dict() == before  # nothing until Enter
    qtbot.keyClick(value_spin, Qt.Key.Key_Return)
    keys = shot.camera.sorted().keyframes
    assert [k.frame for k in keys] == [0, 30] and keys[1].pose.pan == 12.5
    assert keys[1].pose.zoom == 1.15  # the other channels keep their values
    assert window.document.undo_stack.count() == 1
    assert window.undo_action.text() == "&Undo Set camera key at frame 31"
    # Escape puts the fields back and changes nothing
    value_spin.setFocus()
    value_spin.selectAll()
    QTest.keyClicks(value_spin, "99")
    qtbot.keyClick(value_spin, Qt.Key.Key_Escape)
    assert value_spin.value() == 12.5 and shot.camera.keyframe_at(30).pose.pan == 12.5
    assert window.document.undo_stack.count() == 1
    # a frame already taken by another key is refused with a word, not merged
    frame_spin.setFocus()
    frame_spin.selectAll()
    QTest.keyClicks(frame_spin, "1")
    qtbot.keyClick(frame_spin, Qt.Key.Key_Return)
    assert [k.frame for k in shot.camera.sorted().keyframes] == [0, 30]
    assert "already has a key" in editor.hint.text()
    window.undo_action.trigger()
    assert shot.camera.to_dict() == before


def test_time_labels_do_not_overlap_on_a_long_shot(qtbot, window, editor):
    from studio.camera_editor import _TimeAxis
    from studio.commands import SetShotField

    shot = window.document.current_shot
    window.document.push(SetShotField(window.document, shot.id, "duration", 24 * 60 * 3))
    axis = editor.plots[editor.shown_channels()[-1]].plot.getAxis("bottom")
    assert isinstance(axis, _TimeAxis)
    qtbot.waitUntil(lambda: axis.width() > 100)
    low, high = axis.linkedView().viewRange()[0]
    width = axis.width()
    ticks = axis.tickValues(low, high, width)
    major = ticks[0][1]
    labels = axis.tickStrings(major, 1, ticks[0][0])
    from PySide6.QtGui import QFontMetricsF

    font = axis.style.get("tickFont") or axis.font()
    font_px = QFontMetricsF(font).horizontalAdvance(labels[0])
    spacing_px = ticks[0][0] * width / (high - low)
    assert spacing_px >= font_px + 8  # room between neighbouring labels
    assert labels[0].count(":") == 3  # timecode
    assert len(major) >= 2  # still labels to read the time by


def test_a_new_seed_leaves_the_curves_alone_and_a_camera_change_redraws_them(
    window, editor, monkeypatch
):
    """Every unlocked Generate writes a fresh seed into the shot; redrawing the curves for it
    cost the GUI 16 ms at the moment the job starts."""
    from studio.commands import SetCamera, SetShotField

    shot = window.document.current_shot
    redraws = []
    real = editor._redraw
    monkeypatch.setattr(editor, "_redraw", lambda **kw: redraws.append(kw) or real(**kw))
    window.document.push(
        SetShotField(window.document, shot.id, "seed", shot.seed + 7, "Seed", False)
    )
    assert redraws == []
    window.document.push(SetCamera(window.document, shot.id, preset("pan-left", shot.duration)))
    assert len(redraws) == 1
    window.document.undo_stack.undo()  # back to the first path: drawn again
    assert len(redraws) == 2
