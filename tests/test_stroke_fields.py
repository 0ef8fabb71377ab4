"""Strokes kept as regions and offsets give, frame by frame, exactly the dense fields of old.

`ShotControls` no longer holds whole-clip flows and move masks: each stroke's region is kept
once and a frame is made when it is read. Here a straightforward dense implementation (what
the engine did before: every frame of every array built at compile time, and `resample`
resizing every frame) is the reference, and the frames the controls make on demand must
equal it bit for bit: at the compile size, resampled to native and latent sizes, retimed,
through previs, and as the built-in model's control channels.
"""

from __future__ import annotations

import tracemalloc

import cv2
import numpy as np
import pytest

from engine.camera import CameraPath, preset
from engine.controls import compile_shot
from engine.models.conditioning import (
    camera_displacement,
    control_channels,
    controls_from_shot,
    latent_frame_sources,
)
from engine.motion import (
    MotionStroke,
    StrokeFields,
    TrajectoryPoint,
    _offsets,
    _paint_order,
    _resize_mask,
    compile_regions,
    compile_strokes,
    composite_over,
    translate_patch,
)
from engine.previs import previs_video

P = TrajectoryPoint


# ----------------------------------------------------------------------------- the reference


def dense_fields(strokes, width: int, height: int, frames: int) -> StrokeFields:
    """Every frame of every array at once, the way `compile_strokes` built them before."""
    masks = [_resize_mask(stroke.mask, width, height) for stroke in strokes]
    owner, coverage = _paint_order(masks, width, height)
    flows = np.zeros((frames, height, width, 2), np.float32)
    move_masks = np.zeros((frames, height, width), np.float32)
    static_mask = np.zeros((height, width), np.float32)
    to_pixels = np.array([width, height], np.float32)
    for i, stroke in enumerate(strokes):
        owned = owner == i
        if not owned.any():
            continue
        alpha = np.where(owned, coverage, 0.0).astype(np.float32)
        if stroke.kind == "static":
            static_mask += alpha
            continue
        offsets = _offsets(stroke, frames) * to_pixels
        if offsets.any():
            x, y, w, h = cv2.boundingRect(owned.astype(np.uint8))
            region = owned[None, y : y + h, x : x + w, None]
            np.copyto(flows[:, y : y + h, x : x + w], offsets[:, None, None, :], where=region)
        x, y, w, h = cv2.boundingRect((alpha > 0).astype(np.uint8))
        if w == 0 or h == 0:
            continue
        patch = alpha[y : y + h, x : x + w]
        for t, (dx, dy) in enumerate(offsets):
            moved, px, py = translate_patch(patch, x + float(dx), y + float(dy))
            composite_over(move_masks[t], moved, moved, px, py)
    return StrokeFields(flows, move_masks, static_mask, owner)


def dense_resample(fields: StrokeFields, width: int, height: int, frames: int) -> StrokeFields:
    """Every frame resized, the way `ShotControls.resample` did it before."""
    sx, sy = width / fields.width, height / fields.height
    if frames == fields.frames:
        t_index = np.arange(frames)
    else:
        t_index = np.round(np.linspace(0, fields.frames - 1, frames)).astype(int)
    area = cv2.INTER_AREA if sx < 1 and sy < 1 else cv2.INTER_LINEAR

    def resize(plane, interp=area):
        return cv2.resize(plane, (width, height), interpolation=interp)

    flows = np.stack([resize(fields.flows[t]) for t in t_index]) * np.float32([sx, sy])
    move = np.stack([resize(fields.move_masks[t]) for t in t_index])
    return StrokeFields(
        flows.astype(np.float32),
        move.astype(np.float32),
        resize(fields.static_mask).astype(np.float32),
        resize(fields.region_ids, cv2.INTER_NEAREST),
    )


# ----------------------------------------------------------------------------- shots


def disc(cx, cy, r, size=(128, 128), soft=True):
    w, h = size
    mask = np.zeros((h, w), np.float32)
    cv2.circle(mask, (round(cx * w), round(cy * h)), round(r * min(w, h)), 1.0, -1, cv2.LINE_AA)
    return cv2.GaussianBlur(mask, (0, 0), 1.5) if soft else mask


def textured(width, height, seed=0):
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.uniform(0, 255, (height, width, 3)).astype(np.float32), (0, 0), 2)
    return np.clip(image, 0, 255).astype(np.uint8)


MOVE = MotionStroke(disc(0.3, 0.5, 0.15), trajectory=[P(0.3, 0.5), P(0.6, 0.4), P(0.8, 0.7)])
TIMED = MotionStroke(
    disc(0.45, 0.5, 0.2, (64, 48)), trajectory=[P(0.45, 0.5), P(0.2, 0.3, 5)], strength=0.7
)
STATIC = MotionStroke(disc(0.7, 0.4, 0.2, (80, 48)), kind="static")
STATIC_HARD = MotionStroke(disc(0.4, 0.5, 0.12, (160, 96), soft=False), kind="static")
WEAK = MotionStroke(disc(0.5, 0.5, 0.3, (32, 32)) * 0.4, trajectory=[P(0.5, 0.5), P(0.5, 0.9)])
ONE_POINT = MotionStroke(disc(0.2, 0.2, 0.1), trajectory=[P(0.2, 0.2)])
ZERO = MotionStroke(disc(0.8, 0.8, 0.1), trajectory=[P(0.8, 0.8), P(0.1, 0.1)], strength=0.0)
OFF_FRAME = MotionStroke(disc(0.9, 0.2, 0.12), trajectory=[P(0.9, 0.2), P(1.0, 0.0)])

SHOTS = {
    "a move": [MOVE],
    "a static": [STATIC],
    "a static over two moves": [MOVE, TIMED, STATIC_HARD],
    "overlapping moves, soft edges": [MOVE, TIMED, WEAK],
    "everything": [STATIC, MOVE, TIMED, WEAK, ONE_POINT, ZERO, OFF_FRAME],
    "nothing": [],
}


def assert_same(lazy: np.ndarray, dense: np.ndarray, what: str) -> None:
    assert lazy.dtype == dense.dtype and lazy.shape == dense.shape, what
    assert lazy.tobytes() == dense.tobytes(), f"{what} differs from the dense reference"


def assert_fields_equal(lazy, dense: StrokeFields, what: str) -> None:
    assert (lazy.frames, lazy.height, lazy.width) == (dense.frames, dense.height, dense.width)
    assert_same(lazy.region_ids, dense.region_ids, f"{what}: region ids")
    assert_same(lazy.static_mask, dense.static_mask, f"{what}: static mask")
    for t in range(dense.frames):
        assert_same(lazy.flow(t), dense.flows[t], f"{what}: flow at frame {t}")
        assert_same(lazy.move_mask(t), dense.move_masks[t], f"{what}: move mask at frame {t}")
    ys, xs = np.nonzero(dense.region_ids >= 0)
    if len(ys):
        pick = np.linspace(0, len(ys) - 1, 7).astype(int)
        assert_same(lazy.flow_at(ys[pick], xs[pick]), dense.flows[:, ys[pick], xs[pick]], what)


# ----------------------------------------------------------------------------- equality


@pytest.mark.parametrize("name", SHOTS)
def test_frames_made_on_demand_equal_the_dense_fields(name):
    strokes = SHOTS[name]
    for width, height, frames in ((160, 96, 13), (37, 23, 1)):
        reference = dense_fields(strokes, width, height, frames)
        regions = compile_regions(strokes, width, height, frames)
        assert_fields_equal(regions, reference, f"{name} at {width}x{height}x{frames}")
        dense = compile_strokes(strokes, width, height, frames)
        assert_fields_equal(dense, reference, f"{name}, compile_strokes")


@pytest.mark.parametrize("name", SHOTS)
def test_resampled_controls_equal_dense_resampling(name):
    """Native scale, then latent size (the built-in model's chain), down, up, and retimed."""
    strokes = SHOTS[name]
    controls = compile_shot(CameraPath(), strokes, width=160, height=96, frames=17, fps=24.0)
    reference = dense_fields(strokes, 160, 96, 17)
    for size in ((128, 80, 9), (16, 10, 17), (200, 120, 5), (160, 96, 1), (40, 96, 33)):
        resampled = controls.resample(*size)
        expected = dense_resample(reference, *size)
        assert_fields_equal(resampled.motion, expected, f"{name} resampled to {size}")
        latent = resampled.resample(size[0] // 8 or 1, size[1] // 8 or 1)
        expected = dense_resample(expected, size[0] // 8 or 1, size[1] // 8 or 1, size[2])
        assert_fields_equal(latent.motion, expected, f"{name} resampled to {size}, then latent")


@pytest.mark.parametrize("name", SHOTS)
def test_previs_and_model_controls_equal_what_dense_fields_give(name):
    strokes = SHOTS[name]
    keyframe = textured(160, 96)
    for camera in (CameraPath(), preset("dolly-in", 17)):
        controls = compile_shot(
            camera, strokes, width=160, height=96, frames=17, fps=24.0, keyframe=keyframe
        )
        reference = dense_fields(strokes, 160, 96, 17)
        homs = controls.homographies
        assert_same(controls.guide, previs_video(keyframe, homs, reference), f"{name}: previs")

        native = controls.resample(128, 80, 9)  # what the built-in backend generates at
        native_dense = dense_resample(reference, 128, 80, 9)
        assert_same(
            native.guide,
            previs_video(native.keyframe, native.homographies, native_dense),
            f"{name}: previs at native scale",
        )

        small = dense_resample(native_dense, 16, 10, 9)
        sources = latent_frame_sources(9)
        camera_channels = camera_displacement(native.homographies[sources], 16, 10, 128, 80)
        if any(s.kind == "move" for s in strokes):
            flows = small.flows[sources] / np.array([16, 10], np.float32)
            moved = small.move_masks[sources]
            expected = control_channels(camera_channels, flows, moved[0], moved)
        else:
            expected = control_channels(camera_channels)
        assert_same(controls_from_shot(native, 16, 10), expected, f"{name}: control channels")


def test_whole_clip_arrays_are_still_there_for_code_that_wants_them():
    controls = compile_shot(CameraPath(), [MOVE, STATIC], width=48, height=32, frames=5, fps=24.0)
    reference = dense_fields([MOVE, STATIC], 48, 32, 5)
    assert_same(controls.flows, reference.flows, "flows")
    assert_same(controls.move_masks, reference.move_masks, "move masks")
    assert_same(controls.fields().dense().flows, reference.flows, "dense fields")


# ----------------------------------------------------------------------------- memory


def test_a_long_720p_shot_compiles_small_and_resamples_for_nothing():
    """1280x720 x 121 frames, 3 strokes and a pan: whole-clip fields would be 1.2 GB."""
    strokes = [
        MotionStroke(disc(0.25, 0.6, 0.1, (256, 256)), trajectory=[P(0.25, 0.6), P(0.75, 0.65)]),
        MotionStroke(disc(0.6, 0.3, 0.08, (256, 256)), trajectory=[P(0.6, 0.3), P(0.4, 0.2)]),
        MotionStroke(disc(0.8, 0.6, 0.12, (256, 256)), kind="static"),
    ]
    camera = preset("pan-right", 121)
    tracemalloc.start()
    try:
        controls = compile_shot(camera, strokes, width=1280, height=720, frames=121, fps=24.0)
        held, peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        native = controls.resample(128, 80, 61)
        _, resample_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100 * 2**20, f"compiling peaked at {peak / 2**20:.0f} MiB"
    assert held < 10 * 2**20, f"the controls hold {held / 2**20:.0f} MiB"
    assert resample_peak - held < 2**20, "resampling must not build frames"
    assert native.flow(60).shape == (80, 128, 2) and native.move_mask(60).shape == (80, 128)
