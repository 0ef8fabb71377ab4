"""The timeline, driven with real mouse and key events on the real window."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from studio_helpers import drag, path_between

from engine.media import read_image
from engine.takes import load_take_frames
from studio.timeline import KEYS_H, KEYS_TOP, LEFT, RULER_H, SHOT_H, SHOT_TOP

FINISH_TIMEOUT = 15_000


def block_point(canvas, index: int, fraction: float = 0.5) -> QPointF:
    _shot, rect = canvas.shot_rects()[index]
    return QPointF(rect.left() + rect.width() * fraction, SHOT_TOP + SHOT_H / 2)


def names(window) -> list[str]:
    return [s.name for s in window.document.project.shots]


def test_shots_sit_in_order_with_their_length_and_thumbnail(qtbot, window):
    canvas = window.timeline.canvas
    first, second = window.document.project.shots
    rects = canvas.shot_rects()
    assert [s.id for s, _ in rects] == [first.id, second.id]
    ppf = canvas.px_per_frame
    assert rects[0][1].width() == 48 * ppf and rects[1][1].width() == 36 * ppf
    assert rects[1][1].left() == rects[0][1].right()
    assert "2 shots · 3.50 s · 84 frames" == window.timeline.info.text()
    qtbot.waitUntil(lambda: canvas.thumbnails(first) is not None)
    assert canvas.thumbnails(first).height() == SHOT_H - 8
    # the whole sequence fits the view when it opens
    assert canvas.x_of(84) <= window.timeline.scroll.viewport().width()


def test_reorder_by_dragging_a_block_undo_and_redo(qtbot, window):
    canvas = window.timeline.canvas
    before = names(window)
    start = block_point(canvas, 1)
    end = QPointF(block_point(canvas, 0, 0.2))
    drag(qtbot, canvas, path_between(start, end, 6))
    assert names(window) == before[::-1]
    assert window.undo_action.text() == "&Undo Move shot Push in on the tree"
    assert window.document.current_shot.name == "Push in on the tree"
    window.undo_action.trigger()
    assert names(window) == before
    window.redo_action.trigger()
    assert names(window) == before[::-1]
    # a click without a drag only selects
    QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=block_point(canvas, 1).toPoint())
    assert names(window) == before[::-1]
    assert window.document.current_shot.name == before[0]


def edge_point(canvas, frame: int, side: str) -> QPointF:
    """A point just inside the edge at sequence frame `frame`: "tail" left of it, "head" right."""
    x = canvas.x_of(frame) + (-2 if side == "tail" else 2)
    return QPointF(x, SHOT_TOP + SHOT_H / 2)


def frame_point(canvas, frame: int) -> QPointF:
    return QPointF(canvas.x_of(frame), SHOT_TOP + SHOT_H / 2)


def lengths(window) -> list[tuple[int, int]]:
    return [(s.head, s.duration) for s in window.document.project.shots]


def test_a_plain_edge_drag_rolls_the_cut(qtbot, window):
    """Between two shots the cut moves: one shot gains what the other loses, one undo step."""
    canvas = window.timeline.canvas
    assert lengths(window) == [(0, 48), (0, 36)]
    drag(qtbot, canvas, path_between(edge_point(canvas, 48, "tail"), frame_point(canvas, 40), 5))
    assert lengths(window) == [(0, 40), (0, 44)]
    assert window.document.project.total_frames() == 84  # the sequence keeps its length
    assert window.undo_action.text() == "&Undo Roll cut"
    assert canvas.shot_rects()[1][1].left() == canvas.x_of(40)
    qtbot.waitUntil(lambda: window.viewer.length == 40)
    # rolling the cut later: the second shot starts later in its take (its in-point moves)
    x = canvas.x_of(50) + canvas.px_per_frame / 2  # the playhead on its take's frame 10
    QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPointF(x, RULER_H / 2).toPoint())
    assert window.viewer.current_frame == 10
    drag(qtbot, canvas, path_between(edge_point(canvas, 40, "head"), frame_point(canvas, 46), 5))
    assert lengths(window) == [(0, 46), (6, 38)]
    # the playhead stays on that frame of the take, now 4 frames into the shot
    assert canvas.playhead == 50 and window.viewer.current_frame == 4
    window.undo_action.trigger()
    assert lengths(window) == [(0, 40), (0, 44)]
    window.undo_action.trigger()
    assert lengths(window) == [(0, 48), (0, 36)]
    window.redo_action.trigger()
    assert lengths(window) == [(0, 40), (0, 44)]


def test_shift_drag_ripples_tail_and_head(qtbot, window):
    canvas = window.timeline.canvas
    shift = Qt.KeyboardModifier.ShiftModifier
    points = path_between(edge_point(canvas, 48, "tail"), frame_point(canvas, 36), 5)
    drag(qtbot, canvas, points, modifier=shift)
    assert lengths(window) == [(0, 36), (0, 36)]  # only the first shot; the second moved up
    assert window.undo_action.text() == "&Undo Trim shot"
    assert canvas.shot_rects()[1][1].left() == canvas.x_of(36)
    # the left edge of the second shot: a head trim, the shot starts 10 frames into its take
    points = path_between(edge_point(canvas, 36, "head"), frame_point(canvas, 46), 5)
    drag(qtbot, canvas, points, modifier=shift)
    assert lengths(window) == [(0, 36), (10, 26)]
    assert window.undo_action.text() == "&Undo Trim shot head"
    assert canvas.shot_rects()[1][1].left() == canvas.x_of(36)  # a ripple keeps its start
    assert window.document.project.total_frames() == 62
    # the Ripple button makes a plain drag ripple (and Shift then rolls)
    QTest.mouseClick(window.timeline.ripple_button, Qt.MouseButton.LeftButton)
    drag(qtbot, canvas, path_between(edge_point(canvas, 62, "tail"), frame_point(canvas, 58), 4))
    assert lengths(window) == [(0, 36), (10, 22)]
    window.document.undo_stack.undo()
    window.document.undo_stack.undo()
    window.document.undo_stack.undo()
    assert lengths(window) == [(0, 48), (0, 36)]


def test_the_in_point_survives_saving_and_old_files_open(qtbot, window, tmp_path):
    import json

    from engine.project import Project

    canvas = window.timeline.canvas
    shift = Qt.KeyboardModifier.ShiftModifier
    points = path_between(edge_point(canvas, 48, "head"), frame_point(canvas, 52), 4)
    drag(qtbot, canvas, points, modifier=shift)
    assert lengths(window) == [(0, 48), (4, 32)]
    window.files.save()
    folder = window.document.project.folder
    assert [s.head for s in Project.load(folder).shots] == [0, 4]
    # a file written before head trims existed has no "head": its takes start at frame 0
    data = json.loads((folder / "project.json").read_text())
    for shot in data["shots"]:
        del shot["head"]
    (folder / "project.json").write_text(json.dumps(data))
    assert [(s.head, s.duration) for s in Project.load(folder).shots] == [(0, 48), (0, 32)]


def test_edges_snap_to_the_playhead_and_keys_s_toggles(qtbot, window):
    canvas = window.timeline.canvas
    timeline = window.timeline
    ppf = canvas.px_per_frame
    # put the playhead on frame 30 by clicking the ruler
    x = canvas.x_of(30) + ppf / 2
    QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPointF(x, RULER_H / 2).toPoint())
    assert canvas.playhead == 30
    near = QPointF(canvas.x_of(30) + 7, SHOT_TOP + SHOT_H / 2)  # 7 px past the playhead
    drag(qtbot, canvas, path_between(edge_point(canvas, 48, "tail"), near, 6))
    assert lengths(window)[0] == (0, 30)  # snapped onto the playhead
    window.document.undo_stack.undo()
    # S turns snapping off: the same drag lands where the mouse is
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_S)
    assert not timeline.snap_button.isChecked()
    drag(qtbot, canvas, path_between(edge_point(canvas, 48, "tail"), near, 6))
    assert lengths(window)[0] == (0, round((near.toPoint().x() - LEFT) / ppf))
    assert lengths(window)[0] != (0, 30)
    window.document.undo_stack.undo()
    # with snapping on again, a key dragged near the playhead lands on it
    qtbot.keyClick(canvas, Qt.Key.Key_S)
    assert timeline.snap_button.isChecked()
    shot = window.document.current_shot
    _frame, centre = canvas.key_points()[1]
    target = QPointF(canvas.x_of(30) + ppf / 2 + 6, centre.y())
    QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPointF(x, RULER_H / 2).toPoint())
    assert canvas.playhead == 30  # (the trims had pulled it back into the shorter shot)
    drag(qtbot, canvas, path_between(centre, target, 6))
    assert [k.frame for k in shot.camera.sorted().keyframes] == [0, 30]


def test_a_reorder_shows_where_the_shot_lands_and_the_playhead_follows_it(qtbot, window):
    from PySide6.QtGui import QColor

    from studio import theme

    canvas = window.timeline.canvas
    first, second = window.document.project.shots
    # playhead on frame 10 of the second shot (sequence frame 58)
    x = canvas.x_of(58) + canvas.px_per_frame / 2
    QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPointF(x, RULER_H / 2).toPoint())
    assert window.document.current_shot is second and window.viewer.current_frame == 10
    seen = []

    def while_held():
        marker = canvas.drop_marker_x()
        seen.append(marker)
        image = canvas.grab().toImage()
        # the insertion line crosses the key lane too, where no block edge is drawn
        y = int(KEYS_TOP + KEYS_H / 2)
        colour = image.pixelColor(int(round(marker)), y)
        seen.append(colour.name())
        assert colour.name() == QColor(theme.TEXT).name()

    start = block_point(canvas, 1)
    end = block_point(canvas, 0, 0.2)
    drag(qtbot, canvas, path_between(start, end, 6), before_release=while_held)
    assert seen and seen[0] == canvas.x_of(0)
    assert names(window) == [second.name, first.name]
    # the playhead stayed on the same frame of the same shot, and the viewer agrees
    assert canvas.playhead == 10
    assert window.document.current_shot is second and window.viewer.current_frame == 10
    window.undo_action.trigger()
    assert canvas.playhead == 58


def test_camera_keys_drag_in_time_and_take_an_easing(qtbot, window):
    canvas = window.timeline.canvas
    shot = window.document.current_shot
    before = shot.camera.to_dict()
    (f0, p0), (f1, p1) = canvas.key_points()
    assert (f0, f1) == (0, 47) and KEYS_TOP <= p1.y() <= KEYS_TOP + KEYS_H
    target = QPointF(canvas.x_of(30) + canvas.px_per_frame / 2, p1.y())
    drag(qtbot, canvas, path_between(p1, target, 6))
    assert [k.frame for k in shot.camera.sorted().keyframes] == [0, 30]
    assert shot.camera.keyframe_at(30).pose.pan == 8.0
    assert window.undo_action.text() == "&Undo Move camera key to frame 31"
    QTest.mouseClick(canvas, Qt.MouseButton.RightButton, pos=p0.toPoint())
    menu = canvas.context_menu
    assert menu is not None and menu.isVisible()
    next(a for a in menu.actions() if a.data() == "hold").trigger()
    menu.close()
    assert shot.camera.keyframe_at(0).easing == "hold"
    assert shot.camera.sample(29).pan == 0.0  # a hold keeps the first pose until the next key
    window.document.undo_stack.undo()
    window.document.undo_stack.undo()
    assert shot.camera.to_dict() == before


def test_add_duplicate_and_delete_shots(qtbot, window):
    timeline = window.timeline
    QTest.mouseClick(timeline.add_button, Qt.MouseButton.LeftButton)
    assert names(window) == ["Ball on the meadow", "Shot 2", "Push in on the tree"]  # its place
    window.document.set_current_shot(window.document.project.shots[0].id)
    timeline.canvas.setFocus()
    qtbot.keyClick(timeline.canvas, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    twin = window.document.project.shots[1]
    original = window.document.project.shots[0]
    assert twin.name == "Ball on the meadow copy" and twin.id != original.id
    assert twin.camera.to_dict() == original.camera.to_dict() and twin.takes == []
    assert [s.to_dict() for s in twin.strokes] == [s.to_dict() for s in original.strokes]
    assert window.document.current_shot is twin
    qtbot.keyClick(timeline.canvas, Qt.Key.Key_Delete)
    assert twin not in window.document.project.shots
    for _ in range(3):
        window.document.undo_stack.undo()
    assert names(window) == ["Ball on the meadow", "Push in on the tree"]


def test_zoom_keeps_the_playhead_frame(qtbot, window):
    timeline = window.timeline
    before = timeline.canvas.px_per_frame
    QTest.mouseClick(timeline.zoom_in_button, Qt.MouseButton.LeftButton)
    assert timeline.canvas.px_per_frame == before * 1.25
    assert timeline.canvas.width() > timeline.canvas.x_of(84)
    timeline.fit()
    assert timeline.canvas.px_per_frame == before


def test_the_playhead_is_frame_accurate_against_the_export(qtbot, window, tmp_path):
    """Scrubbing shows, at every sequence frame, the frame export writes there."""
    from studio.export import ExportOptions

    first, second = window.document.project.shots
    window.generation.generate(1, first.id)
    window.generation.generate(1, second.id)
    qtbot.waitUntil(lambda: bool(first.takes and second.takes), timeout=FINISH_TIMEOUT)
    window.document.set_current_shot(first.id)
    # trim the first shot after generating: the sequence plays and exports its first 40 frames
    canvas = window.timeline.canvas
    shift = Qt.KeyboardModifier.ShiftModifier
    drag(
        qtbot,
        canvas,
        path_between(edge_point(canvas, 48, "tail"), frame_point(canvas, 40), 4),
        modifier=shift,
    )
    assert first.duration == 40
    # and the second shot's head: it plays and exports from its take's frame 6
    drag(
        qtbot,
        canvas,
        path_between(edge_point(canvas, 40, "head"), frame_point(canvas, 46), 4),
        modifier=shift,
    )
    assert (second.head, second.duration) == (6, 30)
    second_take = load_take_frames(window.document.project.folder, second.active())
    target = tmp_path / "frames"
    with qtbot.waitSignal(window.exporter.finished, timeout=FINISH_TIMEOUT):
        assert window.export(ExportOptions(path=target, scope="sequence", codec="png"))
    exported = sorted(target.glob("frame_*.png"))
    assert len(exported) == 40 + 30
    np.testing.assert_array_equal(read_image(exported[40]), second_take[6])
    for sequence_frame, shot, local in (
        (3, first, 3),
        (39, first, 39),
        (40, second, 0),
        (61, second, 21),
        (69, second, 29),
    ):
        x = canvas.x_of(sequence_frame) + canvas.px_per_frame / 2
        QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPointF(x, RULER_H / 2).toPoint())
        assert canvas.playhead == sequence_frame
        assert window.document.current_shot is shot
        qtbot.waitUntil(
            lambda s=shot: window.viewer.kind == "take" and window.viewer.length == s.duration
        )
        assert window.viewer.current_frame == local
        np.testing.assert_array_equal(
            window.viewer.displayed_frame(), read_image(exported[sequence_frame])
        )
    # takes are chips under their shot: click one to use it
    window.generation.generate(1, second.id)
    qtbot.waitUntil(lambda: len(second.takes) == 2, timeout=FINISH_TIMEOUT)
    chips = [(take, r) for shot, take, r in canvas.take_chips() if shot is second]
    assert [t.id for t, _ in chips] == [t.id for t in second.takes]
    QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=chips[0][1].center().toPoint())
    assert second.active_take == second.takes[0].id


def test_a_kinema_file_dropped_on_the_timeline_becomes_its_shots(qtbot, window, tmp_path):
    """The shots a delivered file carries come back, keyframe included, in one undo step."""
    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtGui import QDropEvent

    from engine.cli import main

    project = window.document.project
    delivered = tmp_path / "delivered.mov"
    args = ["render", str(project.folder), "-o", str(delivered), "--quiet", "--shot", "2"]
    assert main(args) == 0
    first, second = project.shots
    canvas = window.timeline.canvas
    window.document.set_current_shot(first.id)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(delivered))])
    event = QDropEvent(
        QPointF(20, SHOT_TOP + 10), Qt.DropAction.CopyAction, mime,
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    canvas.dropEvent(event)
    qtbot.waitUntil(lambda: len(project.shots) == 3, timeout=FINISH_TIMEOUT)
    added = project.shots[1]  # after the selected shot
    assert names(window) == [first.name, second.name, second.name]
    assert added.id != second.id and added.keyframe == second.keyframe
    assert added.camera.to_dict() == second.camera.to_dict()
    assert (added.seed, added.duration) == (second.seed, second.duration)
    assert "Added 'Push in on the tree'" in window.statusBar().currentMessage()
    window.document.undo_stack.undo()
    assert names(window) == [first.name, second.name]

    # a file Kinema did not make is refused with a sentence, nothing is added
    from engine.media import write_mp4

    plain = tmp_path / "plain.mp4"
    write_mp4(plain, np.zeros((2, 16, 16, 3), np.uint8), 24.0, preset="ultrafast")
    window.shot_importer.import_file(plain)
    qtbot.waitUntil(lambda: "carries no Kinema request" in window.statusBar().currentMessage())
    assert len(project.shots) == 2


def test_the_sequence_exports_as_a_timeline_from_the_window(qtbot, window, tmp_path):
    import opentimelineio as otio

    from studio.export import ExportOptions

    first, second = window.document.project.shots
    window.generation.generate(1, first.id)
    window.generation.generate(1, second.id)
    qtbot.waitUntil(lambda: bool(first.takes and second.takes), timeout=FINISH_TIMEOUT)
    target = tmp_path / "Cut.otio"
    options = ExportOptions(path=target, scope="sequence", codec="dnxhr-hq")
    with qtbot.waitSignal(window.exporter.finished, timeout=FINISH_TIMEOUT):
        assert window.export(options)
    timeline = otio.adapters.read_from_file(str(target))
    clips = list(timeline.find_clips())
    assert [(c.name, c.duration().value) for c in clips] == [(first.name, 48), (second.name, 36)]
    assert [c.metadata["kinema"]["take"]["id"] for c in clips] == [
        first.active_take,
        second.active_take,
    ]
    assert len(list((tmp_path / "Cut_media").iterdir())) == 2


def test_times_read_as_timecode_or_frames_as_preferred(qtbot, window, dialogs):
    canvas, viewer = window.timeline.canvas, window.viewer
    assert canvas.time_label(24) == "00:00:01:00"  # one second at 24 fps
    x = canvas.x_of(30) + canvas.px_per_frame / 2
    QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPointF(x, RULER_H / 2).toPoint())
    assert viewer.counter.text().startswith("00:00:01:06")
    axis = window.camera_editor.plots["pan"].plot.getAxis("bottom")
    assert axis.tickStrings([48], 1, 1) == ["00:00:02:00"]

    def choose_frames(dialog):
        dialog.time_box.setCurrentIndex(dialog.time_box.findData("frames"))
        return True

    dialogs.preferences_script = choose_frames
    window.actions_by_name["preferences"].trigger()
    assert canvas.time_label(24) == "24"
    assert viewer.counter.text().startswith("30 ")
    assert axis.tickStrings([48], 1, 1) == ["48"]
    from studio import preferences

    assert preferences.load().time_display == "frames"  # kept for the next start
