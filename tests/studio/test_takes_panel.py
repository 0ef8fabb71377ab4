"""The takes panel tells takes apart: a picture of each, its seed and how it was made, and
what its request changed from the take before it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from studio_helpers import FINISH_TIMEOUT, finished_takes

from studio.take_cache import THUMB_SIZE, thumbnail_of


def icon_pixels(panel, take_id) -> np.ndarray:
    image = panel.item_for(take_id).icon().pixmap(*THUMB_SIZE).toImage()
    image = image.convertToFormat(image.Format.Format_RGB888)
    width, height = image.width(), image.height()
    row = image.bytesPerLine()
    data = np.frombuffer(image.constBits(), np.uint8, count=row * height).reshape(height, row)
    return data[:, : width * 3].reshape(height, width, 3).copy()


def row_text(panel, take_id) -> str:
    return panel.item_for(take_id).text()


def test_each_take_shows_a_picture_of_its_middle_frame_even_after_reopening(
    qtbot, window, make_window, sample
):
    qtbot.mouseClick(window.inspector.generate_button, Qt.MouseButton.LeftButton)
    (take,) = finished_takes(qtbot, window, 1)
    panel = window.takes_panel
    expected = thumbnail_of(window.take_cache.get(take.id)[take.frames // 2])
    qtbot.waitUntil(lambda: np.abs(icon_pixels(panel, take.id).astype(int) - expected).mean() < 3)
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    window.shutdown()
    # a fresh window knows nothing in memory: the picture is read from the take's own PNG
    again = make_window(project=sample)
    panel = again.takes_panel
    qtbot.waitUntil(
        lambda: np.abs(icon_pixels(panel, take.id).astype(int) - expected).mean() < 3,
        timeout=FINISH_TIMEOUT,
    )


def test_rows_say_the_seed_how_it_was_made_and_what_changed(qtbot, window):
    shot = window.document.current_shot
    generate = window.inspector.generate_button
    qtbot.mouseClick(generate, Qt.MouseButton.LeftButton)
    (one,) = finished_takes(qtbot, window, 1)
    # edit the prompt as a user does, then generate again
    window.inspector.prompt_edit.setFocus()
    qtbot.keyClick(
        window.inspector.prompt_edit, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier
    )
    qtbot.keyClicks(window.inspector.prompt_edit, ", at dusk")
    qtbot.mouseClick(generate, Qt.MouseButton.LeftButton)
    one, two = finished_takes(qtbot, window, 2)
    # locked, nothing changed: the same request made again
    qtbot.mouseClick(window.inspector.lock_box, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(generate, Qt.MouseButton.LeftButton)
    one, two, three = finished_takes(qtbot, window, 3)
    panel = window.takes_panel
    assert f"Take 1  ·  seed {one.seed}" in row_text(panel, one.id)
    assert "previs · 512×288 · 48 fr" in row_text(panel, one.id)
    assert "first take of this shot" in row_text(panel, one.id)
    assert "vs Take 1: prompt changed, new seed" in row_text(panel, two.id)
    assert "same request as Take 2: the same frames" in row_text(panel, three.id)
    # newest first, the active one marked
    assert [panel.list.item(r).data(Qt.ItemDataRole.UserRole) for r in range(3)] == [
        three.id,
        two.id,
        one.id,
    ]
    assert row_text(panel, three.id).startswith("●") and shot.active_take == three.id
