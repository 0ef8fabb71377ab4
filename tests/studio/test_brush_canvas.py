"""The motion-brush canvas, driven with real mouse and key events on the real window."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from studio_helpers import drag, path_between, shot_guide

from engine.motion import MotionStroke, compile_strokes
from engine.project import Project
from studio.brush_canvas import brush_stamp, mask_shape, paint_line, simplify_path


@pytest.fixture
def panel(window):
    window.brush_dock.show()
    window.brush_dock.raise_()
    return window.brush_panel


def at(panel, u, v) -> QPointF:
    return panel.canvas.widget_pos(u, v)


def mask_at(stroke: MotionStroke, u: float, v: float) -> float:
    h, w = stroke.mask.shape
    return float(stroke.mask[min(int(v * h), h - 1), min(int(u * w), w - 1)])


def test_paint_a_region_then_drag_its_path(qtbot, window, panel):
    shot = window.document.current_shot
    stack = window.document.undo_stack
    before = [s.to_dict() for s in shot.strokes]
    canvas = panel.canvas
    qtbot.waitUntil(lambda: canvas._base is not None)
    panel.size_slider.setValue(48)
    panel.hardness_slider.setValue(80)
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_B)
    assert canvas.tool == "brush"
    canvas.select("")  # a new stroke, not the sample's ball

    drag(qtbot, canvas, path_between(at(panel, 0.70, 0.30), at(panel, 0.80, 0.30), 6))
    assert len(shot.strokes) == 3
    stroke = shot.strokes[-1]
    assert stroke.kind == "move" and stroke.name == "Stroke 3" and not stroke.trajectory
    project = window.document.project
    assert stroke.mask.shape == mask_shape(project.width, project.height) == (288, 512)
    # painted along the drag with a 48 px brush; untouched far away
    assert mask_at(stroke, 0.70, 0.30) == 1.0 and mask_at(stroke, 0.75, 0.30) == 1.0
    assert mask_at(stroke, 0.80, 0.30 + 20 / 288) > 0.5  # inside the radius, below the line
    assert mask_at(stroke, 0.75, 0.30 + 30 / 288) == 0.0  # past the 24 px radius
    assert mask_at(stroke, 0.2, 0.8) == 0.0
    assert canvas.selected_id == stroke.id
    assert stack.text(stack.count() - 1) == "Paint Stroke 3"

    qtbot.keyClick(canvas, Qt.Key.Key_P)
    assert canvas.tool == "path"
    waypoints = [
        at(panel, 0.75, 0.30),
        at(panel, 0.6, 0.4),
        at(panel, 0.4, 0.5),
        at(panel, 0.3, 0.7),
    ]
    points = []
    for a, b in zip(waypoints, waypoints[1:]):
        points += path_between(a, b, 6)[:-1]
    drag(qtbot, canvas, [*points, waypoints[-1]])
    stroke = shot.strokes[-1]
    path = [(p.x, p.y) for p in stroke.trajectory]
    assert 3 <= len(path) <= 8  # simplified, ends kept
    assert path[0] == pytest.approx((0.75, 0.30), abs=0.004)
    assert path[-1] == pytest.approx((0.3, 0.7), abs=0.004)
    assert all(p.frame is None for p in stroke.trajectory)
    assert stack.text(stack.count() - 1) == "Draw path of Stroke 3"
    painted, drawn = [s.to_dict() for s in shot.strokes], stroke

    # the viewer plays the previs with the region carried along its path
    qtbot.waitUntil(
        lambda: window.viewer.kind == "previs" and window.viewer.available_frames == shot.duration,
        timeout=10_000,
    )
    guide = shot_guide(project, shot)
    window.viewer.seek(shot.duration - 1)
    np.testing.assert_array_equal(window.viewer.displayed_frame(), guide[-1])
    fields = compile_strokes(shot.strokes, project.width, project.height, shot.duration)
    end = fields.move_masks[-1]
    assert end[int(0.7 * 288), int(0.3 * 512)] > 0.9  # the region arrived where the path ends

    # undo and redo, exactly
    stack.undo()
    assert shot.strokes[-1].trajectory == [] and shot.strokes[-1].mask is stroke.mask
    stack.undo()
    assert [s.to_dict() for s in shot.strokes] == before
    stack.redo()
    stack.redo()
    assert [s.to_dict() for s in shot.strokes] == painted
    assert shot.strokes[-1] is drawn


def test_erase_static_strength_visibility_and_delete(qtbot, window, panel):
    shot = window.document.current_shot
    canvas = panel.canvas
    ball = shot.strokes[0]
    canvas.select(ball.id)
    qtbot.waitUntil(lambda: canvas._base is not None)
    centre = (ball.trajectory[0].x, ball.trajectory[0].y)
    assert mask_at(ball, *centre) == 1.0
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_E)
    panel.hardness_slider.setValue(100)
    drag(qtbot, canvas, path_between(at(panel, *centre), at(panel, centre[0] + 0.01, centre[1]), 2))
    erased = shot.strokes[0]
    assert erased.id == ball.id and mask_at(erased, *centre) == 0.0
    assert mask_at(ball, *centre) == 1.0  # the old stroke object is untouched (undo keeps it)

    qtbot.keyClick(canvas, Qt.Key.Key_S)
    canvas.select("")
    drag(qtbot, canvas, path_between(at(panel, 0.1, 0.1), at(panel, 0.2, 0.1), 3))
    static = shot.strokes[-1]
    assert static.kind == "static" and mask_at(static, 0.15, 0.1) == 1.0

    canvas.select(ball.id)
    panel.strength_slider.setValue(50)
    panel.strength_slider.setValue(40)
    assert shot.strokes[0].strength == 0.4
    stack = window.document.undo_stack
    assert stack.text(stack.count() - 1) == "Change strength of Ball rolls right"
    count = stack.count()
    item = panel.list.item(0)
    item.setCheckState(Qt.CheckState.Unchecked)
    assert not shot.strokes[0].visible and stack.count() == count + 1
    QTest.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    assert ball.id not in [s.id for s in shot.strokes]
    for _ in range(stack.count()):
        stack.undo()
    assert [s.to_dict() for s in shot.strokes] == [
        s.to_dict() for s in Project.load(window.document.project.folder).shots[0].strokes
    ]


def test_path_points_move_and_take_timing(qtbot, window, panel):
    shot = window.document.current_shot
    canvas = panel.canvas
    ball = shot.strokes[0]
    canvas.select(ball.id)
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_P)
    middle = ball.trajectory[1]
    start = at(panel, middle.x, middle.y)
    drag(qtbot, canvas, path_between(start, at(panel, middle.x, middle.y - 0.2), 4))
    moved = shot.strokes[0].trajectory[1]
    assert moved.x == pytest.approx(middle.x, abs=0.004)
    assert moved.y == pytest.approx(middle.y - 0.2, abs=0.004)
    assert len(shot.strokes[0].trajectory) == 3

    window.viewer.seek(12)
    QTest.mouseClick(canvas, Qt.MouseButton.RightButton, pos=at(panel, moved.x, moved.y).toPoint())
    menu = canvas.context_menu
    assert menu is not None and menu.isVisible()
    menu.actions()[0].trigger()
    menu.close()
    assert shot.strokes[0].trajectory[1].frame == 12.0
    canvas.set_point_frame(ball.id, 2, 5)  # before the earlier timed point: refused, explained
    assert shot.strokes[0].trajectory[2].frame is None
    assert "in order" in panel.hint_label.text()


def test_new_strokes_get_their_own_colour_and_the_list_shows_them(qtbot, window, panel):
    shot = window.document.current_shot
    canvas = panel.canvas
    canvas.select("")
    drag(qtbot, canvas, path_between(at(panel, 0.5, 0.2), at(panel, 0.55, 0.2), 2))
    colours = [s.color for s in shot.strokes]
    assert len(set(colours)) == len(colours) == 3
    assert panel.list.count() == 3 and panel.list.currentRow() == 2


def test_brush_maths():
    stamp = brush_stamp(10, 0.5)
    assert stamp.shape == (21, 21) and stamp[10, 10] == 1.0 and stamp[10, 0] < 0.01
    assert stamp[10, 5] == 1.0  # inside the hard core
    soft = brush_stamp(10, 0.0)
    assert 0.2 < soft[10, 5] < 0.8
    mask = np.zeros((40, 40), np.float32)
    paint_line(mask, (5, 20), (35, 20), 3, 1.0)
    assert mask[20, 5:36].min() == 1.0 and mask[10, 20] == 0.0
    paint_line(mask, (20, 20), (20, 20), 4, 1.0, erase=True)
    assert mask[20, 20] == 0.0 and mask[20, 30] == 1.0
    line = [(i / 10, 0.5) for i in range(11)]
    assert simplify_path(line) == [(0.0, 0.5), (1.0, 0.5)]


class RecordingPrevis:
    """The real previs backend, keeping every request and the controls the engine compiled."""

    name = "previs"

    def __init__(self) -> None:
        from engine.backends import create_backend

        self._inner = create_backend("previs")
        self.seen = []

    def capabilities(self):
        return self._inner.capabilities()

    def load(self, device):
        self._inner.load(device)

    def generate(self, request, controls, report, cancel):
        self.seen.append((request, controls))
        return self._inner.generate(request, controls, report, cancel)


def test_generate_hands_the_backend_what_the_tools_show(qtbot, make_window, sample):
    """Camera path and stroke made with the tools reach the backend exactly as shown."""
    from studio_helpers import engine_with

    from engine.camera import homographies
    from engine.project import Shot
    from studio.camera_editor import sample_curve

    backend = RecordingPrevis()
    window = make_window(engine_factory=engine_with(lambda name: backend), project=sample)
    shot = window.document.current_shot
    project = window.document.project
    editor, panel = window.camera_editor, window.brush_panel
    window.camera_dock.raise_()
    editor.preset_box.setCurrentIndex(editor.preset_box.findData("crane-up"))
    QTest.mouseClick(editor.preset_button, Qt.MouseButton.LeftButton)
    window.brush_dock.show()
    window.brush_dock.raise_()
    canvas = panel.canvas
    qtbot.waitUntil(lambda: canvas._base is not None)
    canvas.select("")
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_B)
    drag(qtbot, canvas, path_between(at(panel, 0.45, 0.25), at(panel, 0.5, 0.25), 3))
    qtbot.keyClick(canvas, Qt.Key.Key_P)
    drag(qtbot, canvas, path_between(at(panel, 0.47, 0.25), at(panel, 0.2, 0.3), 8))
    painted = shot.strokes[-1]
    assert len(painted.trajectory) >= 2

    # what the viewer plays before any model runs
    qtbot.waitUntil(
        lambda: window.viewer.kind == "previs" and window.viewer.available_frames == shot.duration,
        timeout=10_000,
    )
    shown_previs = np.array(window.viewer._frames)

    qtbot.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: bool(shot.takes), timeout=15_000)
    ((request, controls),) = backend.seen

    # the request carries the document's camera path and strokes...
    sent = Shot.from_dict(request.shot)
    assert sent.camera.to_dict() == editor.path.to_dict() == shot.camera.to_dict()
    assert [(p.x, p.y) for p in sent.strokes[-1].trajectory] == [
        (p.x, p.y) for p in painted.trajectory
    ]
    np.testing.assert_array_equal(sent.strokes[-1].mask, painted.mask)  # stored in 8-bit steps
    # ...compiled to the curves the editor draws...
    for channel in editor.shown_channels():
        _xs, ys = sample_curve(editor.path, shot.duration, channel)
        np.testing.assert_allclose(
            [getattr(pose, channel) for pose in controls.poses], ys[::4], atol=1e-12
        )
    np.testing.assert_array_equal(
        controls.homographies,
        homographies(editor.path, shot.duration, project.width, project.height),
    )
    # ...and the stroke's region travelling the path the canvas drew
    first, last = painted.trajectory[0], painted.trajectory[-1]
    x, y = int(first.x * project.width), int(first.y * project.height)
    np.testing.assert_allclose(
        controls.flow(controls.frames - 1)[y, x],
        [(last.x - first.x) * project.width, (last.y - first.y) * project.height],
        atol=1e-3,
    )
    assert controls.move_mask(0)[y, x] > 0.99
    # the backend's guide is the previs the viewer played, frame for frame
    np.testing.assert_array_equal(controls.guide, shown_previs)


def test_strokes_survive_a_change_of_output_size(qtbot, window, panel):
    from studio.commands import SetResolution

    shot = window.document.current_shot
    canvas = panel.canvas
    qtbot.waitUntil(lambda: canvas._base is not None)
    canvas.select("")
    drag(qtbot, canvas, path_between(at(panel, 0.6, 0.5), at(panel, 0.62, 0.5), 2))
    stroke = shot.strokes[-1]
    window.document.push(SetResolution(window.document, 1024, 576))
    assert shot.strokes[-1] is stroke  # stored normalised: nothing to convert
    fields = compile_strokes(shot.strokes, 1024, 576, shot.duration)
    assert fields.region_ids[int(0.5 * 576), int(0.61 * 1024)] == len(shot.strokes) - 1
    qtbot.waitUntil(lambda: canvas._base is not None and canvas._base.width() == 1024)
    assert window.viewer.previs_button.isChecked()  # painting turned the previs on
    qtbot.waitUntil(
        lambda: window.viewer.kind == "previs" and window.viewer.available_frames == shot.duration,
        timeout=10_000,
    )
    assert window.viewer.displayed_frame().shape == (576, 1024, 3)
    qtbot.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ShiftModifier)  # back to the keyframe
    qtbot.waitUntil(lambda: window.viewer.kind == "keyframe")
    assert not window.viewer.previs_button.isChecked()
    qtbot.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: window.viewer.kind == "previs")
