"""Previs: regions carried along their paths, holes filled, the camera applied; and its speed."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from engine.camera import CameraPath, preset
from engine.controls import compile_shot
from engine.errors import InvalidRequest
from engine.metrics import static_region_drift
from engine.motion import (
    MotionStroke,
    StrokeFields,
    TrajectoryPoint,
    compile_strokes,
    trajectory_offsets,
)
from engine.previs import previs_video, render_previs

SIZE = 96
BRIGHT = 240


def dark_texture(size: int = SIZE, seed: int = 0) -> np.ndarray:
    """A grey, blurred noise picture with values in 10..50: dark, but not flat."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.uniform(0, 1, (size, size)).astype(np.float32), (0, 0), 1.5)
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    grey = (10 + 40 * noise).round().astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


def identity(frames: int) -> np.ndarray:
    return np.repeat(np.eye(3, dtype=np.float32)[None], frames, axis=0)


def translation(frames: int, dx: float, dy: float) -> np.ndarray:
    homs = identity(frames)
    homs[:, 0, 2], homs[:, 1, 2] = dx, dy
    return homs


def box_mask(box: tuple[int, int, int, int], size: int = SIZE) -> np.ndarray:
    x0, y0, x1, y1 = box
    mask = np.zeros((size, size), np.float32)
    mask[y0:y1, x0:x1] = 1.0
    return mask


def bright_centroid(frame: np.ndarray) -> np.ndarray:
    """(x, y) of the bright square: pixels weighted by how far they rise above the dark texture."""
    weight = np.clip(frame.mean(-1) - 50.0, 0, None)
    ys, xs = np.indices(weight.shape)
    return np.array([(xs * weight).sum(), (ys * weight).sum()]) / weight.sum()


def test_bright_square_moves_along_its_path_and_leaves_a_dark_hole():
    box = (16, 24, 32, 40)  # x0, y0, x1, y1: a 16 px square centred at (23.5, 31.5)
    keyframe = dark_texture()
    keyframe[box[1] : box[3], box[0] : box[2]] = BRIGHT
    stroke = MotionStroke(
        mask=cv2.resize(
            box_mask(box), (192, 192), interpolation=cv2.INTER_NEAREST
        ),  # any resolution
        trajectory=[TrajectoryPoint(24 / SIZE, 32 / SIZE), TrajectoryPoint(0.8, 0.7)],
    )
    frames = 12
    fields = compile_strokes([stroke], SIZE, SIZE, frames)
    video = previs_video(keyframe, identity(frames), fields)
    assert video.shape == (frames, SIZE, SIZE, 3) and video.dtype == np.uint8

    start = np.array([23.5, 31.5])
    offsets = trajectory_offsets(stroke, frames) * SIZE
    for t in range(frames):
        np.testing.assert_allclose(bright_centroid(video[t]), start + offsets[t], atol=0.5)
    np.testing.assert_array_equal(video[0][box[1] : box[3], box[0] : box[2]], BRIGHT)
    hole = video[-1][box[1] - 3 : box[3] + 3, box[0] - 3 : box[2] + 3]
    assert hole.max() <= 60, "the region's old place must be filled from the dark background"


def test_frames_where_a_soft_region_is_at_home_are_the_keyframe():
    keyframe = dark_texture()
    cv2.circle(keyframe, (40, 40), 12, (230, 180, 40), -1, lineType=cv2.LINE_AA)
    mask = cv2.GaussianBlur(box_mask((26, 26, 54, 54)), (0, 0), 2.0)  # soft edges
    there_and_back = [
        TrajectoryPoint(40 / SIZE, 40 / SIZE),
        TrajectoryPoint(0.7, 0.4, frame=4),
        TrajectoryPoint(40 / SIZE, 40 / SIZE, frame=8),
    ]
    fields = compile_strokes([MotionStroke(mask=mask, trajectory=there_and_back)], SIZE, SIZE, 9)
    video = previs_video(keyframe, identity(9), fields)
    np.testing.assert_array_equal(video[0], keyframe)
    np.testing.assert_array_equal(video[8], keyframe)
    assert not np.array_equal(video[4], keyframe)


def test_identity_camera_without_strokes_gives_the_keyframe_back_exactly():
    keyframe = dark_texture()
    keyframe[10:20, 30:50] = (200, 30, 90)
    for fields in (None, compile_strokes([], SIZE, SIZE, 4)):
        video = previs_video(keyframe, identity(4), fields)
        for frame in video:
            np.testing.assert_array_equal(frame, keyframe)


def test_translation_homography_shifts_the_frame_without_black_edges():
    keyframe = dark_texture()
    frames = list(render_previs(keyframe, translation(3, 5.0, 3.0)))
    assert len(frames) == 3
    for frame in frames:
        np.testing.assert_array_equal(frame[3:, 5:], keyframe[:-3, :-5])
        assert frame.min() >= 10  # reflected borders, not black


def test_static_and_zero_strength_regions_do_not_move():
    keyframe = dark_texture()
    keyframe[60:80, 60:80] = (30, 200, 30)  # static
    keyframe[10:26, 10:26] = BRIGHT  # moving, away from the static region
    keyframe[60:76, 10:26] = (200, 40, 40)  # brushed at strength 0
    moving = MotionStroke(
        mask=box_mask((10, 10, 26, 26)),
        trajectory=[TrajectoryPoint(0.2, 0.2), TrajectoryPoint(0.5, 0.2)],
    )
    static = MotionStroke(mask=box_mask((60, 60, 80, 80)), kind="static")
    weak = MotionStroke(
        mask=box_mask((10, 60, 26, 76)),
        trajectory=[TrajectoryPoint(0.2, 0.7), TrajectoryPoint(0.2, 0.4)],
        strength=0.0,
    )
    frames = 8
    video = previs_video(
        keyframe, identity(frames), compile_strokes([static, moving, weak], SIZE, SIZE, frames)
    )
    for frame in video:
        np.testing.assert_array_equal(frame[60:80, 60:80], keyframe[60:80, 60:80])
        np.testing.assert_array_equal(frame[60:76, 10:26], keyframe[60:76, 10:26])
    assert not np.array_equal(video[-1][10:26, 10:26], keyframe[10:26, 10:26])

    still = previs_video(
        keyframe, identity(frames), compile_strokes([static, weak], SIZE, SIZE, frames)
    )
    for frame in still:
        np.testing.assert_array_equal(frame, keyframe)


def _tree_and_ball(camera: CameraPath, frames: int = 9):
    """A red square painted static (the tree) and a bright square brushed to move (the ball)."""
    keyframe = dark_texture()
    keyframe[30:50, 40:52] = (220, 40, 40)
    keyframe[70:86, 8:24] = BRIGHT
    tree = MotionStroke(mask=box_mask((38, 28, 54, 52)), kind="static")
    ball = MotionStroke(
        mask=box_mask((8, 70, 24, 86)),
        trajectory=[TrajectoryPoint(16 / SIZE, 78 / SIZE), TrajectoryPoint(0.45, 0.85)],
    )
    controls = compile_shot(
        camera, [ball, tree], width=SIZE, height=SIZE, frames=frames, fps=12.0, keyframe=keyframe
    )
    return keyframe, controls


def red(frame: np.ndarray) -> np.ndarray:
    return (frame[..., 0] > 150) & (frame[..., 1] < 100)


def test_a_static_region_under_a_pan_moves_with_the_scene_and_appears_once():
    """Static means still in the scene: the camera carries it like everything else."""
    keyframe, controls = _tree_and_ball(preset("pan-right", 9, strength=0.4))
    video = controls.guide
    for t in range(9):
        # the region's content is the keyframe as the camera sees it at frame t...
        seen_by_camera = cv2.warpPerspective(
            keyframe,
            controls.homographies[t].astype(np.float64),
            (SIZE, SIZE),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )
        region = controls.static_mask_at(t) > 0.99
        assert region.sum() > 300
        difference = np.abs(video[t].astype(int) - seen_by_camera)[region]
        assert difference.max() <= 1, f"frame {t}: the static region is not where the camera put it"
    # ...and it is shown once, where the camera took it: no copy stays pinned to the screen
    last = video[-1]
    assert (red(last) == red(seen_by_camera)).mean() > 0.999
    count, _ = cv2.connectedComponents(red(last).astype(np.uint8))
    assert count - 1 == 1, f"the red square shows {count - 1} times"
    assert not red(last)[30:50, 40:52].any(), "a copy stayed pinned to the screen"
    xs = np.nonzero(red(last))[1]
    assert 10 < 46 - xs.mean() < 25, "the pan carries the square left"
    # measured once the camera's motion is undone, it holds still; pinned, it would not
    drift = static_region_drift(video, controls.homographies, controls.static_mask).mean
    pinned = video.copy()
    pinned[:, 28:52, 38:54] = keyframe[28:52, 38:54]
    pinned_drift = static_region_drift(pinned, controls.homographies, controls.static_mask).mean
    assert drift < 0.5 and pinned_drift > 5.0, (drift, pinned_drift)


def test_a_static_region_without_a_camera_move_stays_put_on_screen():
    keyframe, controls = _tree_and_ball(CameraPath())
    video = controls.guide
    assert not np.array_equal(video[-1][70:86, 8:24], keyframe[70:86, 8:24])  # the ball went
    for t in range(9):
        np.testing.assert_array_equal(video[t][28:52, 38:54], keyframe[28:52, 38:54])
        np.testing.assert_array_equal(controls.static_mask_at(t), controls.static_mask)
    assert static_region_drift(video, controls.homographies, controls.static_mask).mean == 0.0


def test_overlap_travels_with_the_later_stroke():
    keyframe = dark_texture()
    keyframe[20:40, 20:40] = (200, 40, 40)
    keyframe[30:50, 30:50] = (40, 40, 200)
    keyframe[30:40, 30:40] = (40, 220, 40)  # the overlap, green
    down = MotionStroke(
        mask=box_mask((20, 20, 40, 40)),
        trajectory=[TrajectoryPoint(0.3, 0.3), TrajectoryPoint(0.3, 0.7)],
    )
    right = MotionStroke(
        mask=box_mask((30, 30, 50, 50)),
        trajectory=[TrajectoryPoint(0.4, 0.4), TrajectoryPoint(0.8, 0.4)],
    )

    def green_centre(strokes: list[MotionStroke]) -> np.ndarray:
        last = previs_video(keyframe, identity(5), compile_strokes(strokes, SIZE, SIZE, 5))[-1]
        ys, xs = np.nonzero(last[..., 1] > 150)
        return np.array([xs.mean(), ys.mean()])

    overlap_centre = np.array([34.5, 34.5])
    np.testing.assert_allclose(
        green_centre([down, right]), overlap_centre + [0.4 * SIZE, 0], atol=0.5
    )
    np.testing.assert_allclose(
        green_centre([right, down]), overlap_centre + [0, 0.4 * SIZE], atol=0.5
    )


def test_fields_without_owners_still_move_their_regions():
    """Fields resampled by another module may carry no region ids; the regions still move."""
    keyframe = dark_texture()
    keyframe[10:26, 10:26] = BRIGHT
    stroke = MotionStroke(
        mask=box_mask((10, 10, 26, 26)),
        trajectory=[TrajectoryPoint(18 / SIZE, 18 / SIZE), TrajectoryPoint(0.6, 0.5)],
    )
    fields = compile_strokes([stroke], SIZE, SIZE, 4)
    anonymous = StrokeFields(
        fields.flows, fields.move_masks, fields.static_mask, np.full((SIZE, SIZE), -1, np.int16)
    )
    np.testing.assert_array_equal(
        previs_video(keyframe, identity(4), anonymous), previs_video(keyframe, identity(4), fields)
    )


def test_mismatched_inputs_are_refused():
    keyframe = dark_texture()
    fields = compile_strokes([], SIZE, SIZE, 4)
    with pytest.raises(InvalidRequest):
        render_previs(keyframe, identity(5), fields)
    with pytest.raises(InvalidRequest):
        render_previs(keyframe[:50], identity(4), fields)
    with pytest.raises(InvalidRequest):
        render_previs(keyframe.astype(np.float32), identity(4))
    with pytest.raises(InvalidRequest):
        render_previs(keyframe, np.zeros((4, 2, 3)))


def test_previs_speed_48_frames_512(capsys):
    """Prints, never asserts: the machine running the tests may be busy."""
    size, frames = 512, 48
    rng = np.random.default_rng(1)
    keyframe = cv2.GaussianBlur(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), (0, 0), 2)
    mask = np.zeros((128, 128), np.float32)
    cv2.circle(mask, (40, 80), 18, 1.0, -1)
    stroke = MotionStroke(
        mask=mask, trajectory=[TrajectoryPoint(40 / 128, 80 / 128), TrajectoryPoint(0.8, 0.4)]
    )
    # a slow push-in towards the upper left, as a camera move
    homs = identity(frames).astype(np.float64)
    zoom = np.linspace(1.0, 1.3, frames)
    homs[:, 0, 0] = homs[:, 1, 1] = zoom
    homs[:, 0, 2] = homs[:, 1, 2] = (1.0 - zoom) * size * 0.4

    start = time.perf_counter()
    fields = compile_strokes([stroke], size, size, frames)
    compiled = time.perf_counter()
    video = previs_video(keyframe, homs, fields)
    done = time.perf_counter()
    assert video.shape == (frames, size, size, 3)
    with capsys.disabled():
        print(
            f"\nprevis {frames} frames at {size}x{size}, one stroke + camera move: "
            f"compile {1e3 * (compiled - start):.0f} ms, render {1e3 * (done - compiled):.0f} ms"
        )
