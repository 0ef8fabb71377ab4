"""Sequence playback: the takes in timeline order across the cuts, driven with real keys."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from engine.takes import load_take_frames
from studio.timeline import RULER_H

FINISH_TIMEOUT = 15_000


def click_ruler(canvas, frame: int) -> None:
    x = canvas.x_of(frame) + canvas.px_per_frame / 2
    QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPointF(x, RULER_H / 2).toPoint())


def test_shift_space_plays_the_takes_across_the_cut(qtbot, window):
    first, second = window.document.project.shots
    window.generation.generate(1, first.id)
    window.generation.generate(1, second.id)
    qtbot.waitUntil(lambda: bool(first.takes and second.takes), timeout=FINISH_TIMEOUT)
    folder = window.document.project.folder
    second_frames = load_take_frames(folder, second.active())
    window.take_cache.clear()  # nothing of the second take in memory: playback must fetch it
    window.take_cache.put(first.active_take, load_take_frames(folder, first.active()))
    canvas, viewer, player = window.timeline.canvas, window.viewer, window.sequence_player
    click_ruler(canvas, 12)
    qtbot.waitUntil(lambda: viewer.kind == "take" and viewer.current_frame == 12)
    window.activateWindow()
    with qtbot.waitSignal(
        window.take_cache.loaded,
        check_params_cb=lambda take_id, _frames: take_id == second.active_take,
        timeout=FINISH_TIMEOUT,
    ):
        qtbot.keyClick(viewer, Qt.Key.Key_Space, Qt.KeyboardModifier.ShiftModifier)
        assert player.is_playing
    assert player.cuts_crossed == 0  # fetched while the first shot was still playing
    qtbot.waitUntil(lambda: player.frame >= 49, timeout=FINISH_TIMEOUT)
    # just past the cut: the playhead on the second shot, the viewer showing its take
    local = player.frame - 48
    assert canvas.playhead == player.frame
    assert viewer.kind == "take" and second.name in viewer.view.badge
    np.testing.assert_array_equal(viewer.displayed_frame(), second_frames[local])
    assert viewer.counter.text().startswith("00:00:02:")  # the sequence's time
    assert player.stalls == 0 and player.cuts_crossed == 1
    qtbot.keyClick(viewer, Qt.Key.Key_K)
    assert not player.is_playing
    # stopped: the shot under the playhead is selected and shown at that frame
    stopped = canvas.playhead
    assert window.document.current_shot is second
    assert viewer.current_frame == stopped - 48
    np.testing.assert_array_equal(viewer.displayed_frame(), second_frames[stopped - 48])


def test_shots_without_a_take_show_a_slate_and_jkl_shuttle_the_sequence(qtbot, window):
    canvas, viewer, player = window.timeline.canvas, window.viewer, window.sequence_player
    first, second = window.document.project.shots
    click_ruler(canvas, 40)
    QTest.mouseClick(window.timeline.sequence_button, Qt.MouseButton.LeftButton)
    assert window.timeline.sequence_button.isChecked()
    window.activateWindow()
    qtbot.keyClick(viewer, Qt.Key.Key_L)  # L plays the sequence in sequence mode
    assert player.is_playing and player.frame == 40
    assert viewer.kind == "slate" and first.name in viewer.view.badge
    qtbot.keyClick(viewer, Qt.Key.Key_L)  # again: twice as fast
    qtbot.waitUntil(lambda: player.frame >= 50, timeout=FINISH_TIMEOUT)
    assert viewer.kind == "slate" and second.name in viewer.view.badge
    assert viewer.length == second.duration and canvas.playhead == player.frame
    assert "No take" not in viewer.view.badge  # the slate says it, in the picture
    picture = viewer.displayed_frame()
    assert picture.shape == (window.document.project.height, window.document.project.width, 3)
    qtbot.keyClick(viewer, Qt.Key.Key_K)
    assert not player.is_playing
    assert window.document.current_shot is second
    # J plays backwards across the cut, into the first shot
    qtbot.keyClick(viewer, Qt.Key.Key_J)
    qtbot.keyClick(viewer, Qt.Key.Key_J)
    qtbot.waitUntil(lambda: player.frame < 46, timeout=FINISH_TIMEOUT)
    assert first.name in viewer.view.badge
    qtbot.keyClick(viewer, Qt.Key.Key_K)
    assert window.document.current_shot is first
    # out of sequence mode, Space plays the selected shot alone again
    QTest.mouseClick(window.timeline.sequence_button, Qt.MouseButton.LeftButton)
    qtbot.keyClick(viewer, Qt.Key.Key_Space)
    assert viewer.is_playing and not player.is_playing
    qtbot.keyClick(viewer, Qt.Key.Key_K)


def test_help_lists_sequence_playback(window):
    page = window.show_shortcuts()
    assert "Play / pause the whole sequence across cuts" in page.text()
    assert "Shift+Space" in page.text()
