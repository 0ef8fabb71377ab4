"""The viewer on its own: zero-copy frames, the playback clock, transport, A/B."""

from __future__ import annotations

import numpy as np
import pytest

from studio.frame_view import frame_to_qimage
from studio.viewer import ViewerWidget


def clip(frames=12, height=36, width=64) -> np.ndarray:
    out = np.zeros((frames, height, width, 3), np.uint8)
    for t in range(frames):
        out[t, :, :, 0] = t * 20
    out.flags.writeable = False
    return out


@pytest.fixture
def viewer(qtbot):
    widget = ViewerWidget()
    qtbot.addWidget(widget)
    widget.resize(640, 400)
    widget.show()
    return widget


def test_a_frame_reaches_qt_without_a_copy():
    frames = clip()
    image, kept = frame_to_qimage(frames[3])
    assert kept is frames[3] or np.shares_memory(kept, frames)
    assert np.shares_memory(np.frombuffer(image.constBits(), np.uint8), frames)
    assert image.pixelColor(0, 0).red() == 60
    strided = np.ascontiguousarray(np.zeros((36, 128, 3), np.uint8))[:, ::2]  # not contiguous
    image, kept = frame_to_qimage(strided)
    assert kept.flags.c_contiguous and image.width() == 64  # one copy, and only then


def test_transport_steps_seeks_and_loops(viewer):
    frames = clip()
    viewer.show_clip(frames, 24.0, "Take 1", keep_position=False)
    assert viewer.length == 12 and viewer.current_frame == 0
    viewer.step(1)
    viewer.step(1)
    assert viewer.current_frame == 2
    np.testing.assert_array_equal(viewer.displayed_frame(), frames[2])
    viewer.go_to_end()
    assert viewer.current_frame == 11
    viewer.seek(99)
    assert viewer.current_frame == 11
    viewer.slider.setValue(5)
    assert viewer.current_frame == 5
    assert "6 / 12" in viewer.counter.text()


def test_playback_follows_the_clock_and_loops(qtbot, viewer):
    viewer.show_clip(clip(), 120.0, "fast", keep_position=False)
    seen = set()
    viewer.frame_changed.connect(seen.add)
    viewer.play()
    qtbot.waitUntil(lambda: 0 in seen and len(seen) == 12, timeout=3000)  # wrapped round
    viewer.pause()
    assert not viewer.is_playing


def test_without_loop_playback_stops_at_the_end(qtbot, viewer):
    viewer.show_clip(clip(), 240.0, "fast", keep_position=False)
    viewer.loop_button.setChecked(False)
    with qtbot.waitSignal(viewer.playing_changed, timeout=3000):
        viewer.play()
        qtbot.waitUntil(lambda: not viewer.is_playing, timeout=3000)
    assert viewer.current_frame == 11


def test_shuttle_speeds(viewer):
    viewer.show_clip(clip(), 24.0, "t")
    viewer.shuttle(1)
    assert viewer.rate == 1
    viewer.shuttle(1)
    viewer.shuttle(1)
    assert viewer.rate == 4
    viewer.shuttle(-1)
    assert viewer.rate == -1
    viewer.pause()
    assert viewer.rate == 0


def test_a_streaming_preview_grows_and_follows_its_newest_frame(viewer):
    frames = clip()
    viewer.show_preview(frames[:3], 3, 12, 12, 24.0)
    assert viewer.kind == "preview" and viewer.length == 12 and viewer.current_frame == 2
    viewer.show_preview(frames[:9], 9, 12, 12, 24.0)
    assert viewer.current_frame == 8
    np.testing.assert_array_equal(viewer.displayed_frame(), frames[8])
    assert viewer.view.badge == "Generating · 9/12"


def test_ab_toggle_shows_the_same_frame_of_the_other_take(viewer):
    a, b = clip(), clip()[::-1].copy()
    viewer.show_clip(a, 24.0, "Take 2")
    viewer.seek(4)
    assert not viewer.ab_button.isEnabled()
    viewer.set_compare(b, "Take 1")
    viewer.toggle_compare()
    assert viewer.showing_b and viewer.view.badge == "B · Take 1"
    np.testing.assert_array_equal(viewer.displayed_frame(), b[4])
    viewer.toggle_compare()
    np.testing.assert_array_equal(viewer.displayed_frame(), a[4])
    viewer.set_compare(None)
    assert not viewer.ab_button.isEnabled() and not viewer.showing_b


def test_a_keyframe_is_held_for_the_shot(viewer):
    still = clip(1)[0]
    viewer.show_keyframe(still, 48, 24.0)
    assert viewer.kind == "keyframe" and viewer.length == 48
    viewer.seek(30)
    np.testing.assert_array_equal(viewer.displayed_frame(), still)
    viewer.show_keyframe(None, 48, 24.0)
    assert "drop an image" in viewer.view.message
