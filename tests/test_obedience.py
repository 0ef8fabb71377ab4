"""Ask versus got on clips with known answers: a clip that does what it was asked reads near 0,
one that does the opposite reads far off, and a take asked for nothing says so.

The clips are the previs of small shots (a textured keyframe with a red disc): the previs moves
the disc exactly along its stroke and the picture by the camera, so it is what was asked.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.camera import preset
from engine.controls import compile_shot
from engine.errors import InvalidRequest
from engine.motion import MotionStroke, TrajectoryPoint
from engine.obedience import analyse_take
from engine.project import Shot

W, H, T = 160, 96, 16


def _keyframe() -> np.ndarray:
    rng = np.random.default_rng(3)
    noise = cv2.GaussianBlur(rng.normal(size=(H, W, 3)).astype(np.float32), (0, 0), 3.0)
    image = np.clip(128 + 35 * noise / noise.std(), 20, 235).astype(np.uint8)
    cv2.circle(image, (40, 48), 10, (220, 40, 40), -1)
    return image


def _disc_stroke(to_x: float) -> MotionStroke:
    mask = np.zeros((H, W), np.float32)
    cv2.circle(mask, (40, 48), 10, 1.0, -1)
    start = TrajectoryPoint(40.5 / W, 48.5 / H)
    return MotionStroke(
        mask, "move", [start, TrajectoryPoint(to_x, 48.5 / H)], name="disc", color="#ff0000"
    )


def _take(shot: Shot) -> tuple[np.ndarray, dict]:
    """The previs of `shot` and a request dict that records it, as a take does."""
    controls = compile_shot(
        shot.camera, shot.strokes, width=W, height=H, frames=T, fps=24, keyframe=_keyframe()
    )
    request = {"shot": {**shot.to_dict(), "takes": []}, "width": W, "height": H, "frames": T}
    return controls.guide, request


def test_a_take_that_follows_its_stroke_reads_near_zero_and_names_it():
    frames, request = _take(Shot(duration=T, strokes=[_disc_stroke(0.6)]))
    result = analyse_take(frames, request)
    (stroke,) = result.strokes
    assert stroke.name == "disc" and stroke.kind == "move" and stroke.color == "#ff0000"
    assert stroke.mean_error_pct < 1.5 and stroke.endpoint_error_pct < 2.0
    # the asked path runs from the anchor to the stroke's end; the got path is where it went
    np.testing.assert_allclose(stroke.asked[0], [40.5 / W, 48.5 / H], atol=1e-4)
    np.testing.assert_allclose(stroke.asked[-1], [0.6, 48.5 / H], atol=2e-3)
    assert abs(stroke.got[-1][0] - 0.6) < 0.02
    assert result.camera is None and result.message == ""


def test_a_take_that_ignored_its_stroke_reads_as_far_off_as_it_went_wrong():
    asked = Shot(duration=T, strokes=[_disc_stroke(0.6)])
    frames, request = _take(Shot(duration=T, strokes=[_disc_stroke(40.5 / W)]))  # never moved
    (stroke,) = analyse_take(frames, {**request, "shot": asked.to_dict()}).strokes
    # asked to go 0.6 - 0.25 = 35 % of the width; it stayed put
    assert stroke.endpoint_error_pct == pytest.approx(100 * (0.6 - 40.5 / W), abs=2.0)
    assert abs(stroke.got[-1][0] - 40.5 / W) < 0.01


def test_the_camera_asked_is_compared_with_the_camera_seen():
    shot = Shot(duration=T, camera=preset("pan-right", T, strength=0.5))
    frames, request = _take(shot)
    camera = analyse_take(frames, request).camera
    assert camera is not None and camera.direction_ok
    assert 0.6 < camera.magnitude_ratio < 1.4
    # a pan right carries frame 0's picture to the left, in the request and in the frames
    assert camera.asked_centre[-1][0] < 0.45 and camera.got_centre[-1][0] < 0.45
    assert camera.asked_quads.shape == (T, 4, 2) and camera.got_quads.shape == (T, 4, 2)
    backwards = analyse_take(frames[::-1].copy(), request).camera
    assert not backwards.direction_ok and "wrong way" in backwards.summary


def test_a_take_asked_for_nothing_says_there_is_nothing_to_compare():
    frames, request = _take(Shot(duration=T))
    result = analyse_take(frames, request)
    assert result.empty and "no strokes and no camera move" in result.message


def test_a_take_without_its_request_is_refused_with_a_sentence():
    frames, _ = _take(Shot(duration=T))
    with pytest.raises(InvalidRequest, match="does not record the shot"):
        analyse_take(frames, {})
