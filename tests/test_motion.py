"""Motion brush: trajectories, timing, paint order, serialisation and validation."""

from __future__ import annotations

import base64
import json

import cv2
import numpy as np
import pytest

from engine.errors import ProjectError
from engine.motion import (
    MotionStroke,
    StrokeFields,
    TrajectoryPoint,
    compile_strokes,
    trajectory_offsets,
)


def square_mask(x0: float, y0: float, x1: float, y1: float, size: int = 100) -> np.ndarray:
    """A hard square over the normalised box [x0, x1) x [y0, y1), drawn at `size` x `size`."""
    mask = np.zeros((size, size), np.float32)
    mask[round(y0 * size) : round(y1 * size), round(x0 * size) : round(x1 * size)] = 1.0
    return mask


def centroid(plane: np.ndarray) -> np.ndarray:
    """(x, y) of a mask's centre of mass, in pixels."""
    ys, xs = np.indices(plane.shape)
    total = plane.sum()
    return np.array([(xs * plane).sum() / total, (ys * plane).sum() / total])


def moving_square(**kwargs) -> MotionStroke:
    """A square centred at (0.3, 0.5) moving straight to (0.7, 0.6)."""
    trajectory = [TrajectoryPoint(0.3, 0.5), TrajectoryPoint(0.7, 0.6)]
    return MotionStroke(mask=square_mask(0.2, 0.4, 0.4, 0.6), trajectory=trajectory, **kwargs)


@pytest.mark.parametrize("width, height", [(64, 48), (160, 120)])
def test_region_follows_a_straight_path_at_any_resolution(width, height):
    frames = 9
    fields = compile_strokes([moving_square()], width, height, frames)
    assert fields.flows.shape == (frames, height, width, 2)
    assert fields.move_masks.shape == (frames, height, width)
    start = np.array([0.3 * width - 0.5, 0.5 * height - 0.5])  # pixel centres sit at i + 0.5
    for t in range(frames):
        offset = np.array([0.4 * width, 0.1 * height]) * t / (frames - 1)
        np.testing.assert_allclose(centroid(fields.move_masks[t]), start + offset, atol=0.5)
        inside = fields.region_ids == 0
        np.testing.assert_allclose(
            fields.flows[t][inside], np.broadcast_to(offset, (inside.sum(), 2)), atol=1e-3
        )
        assert not fields.flows[t][~inside].any()


def test_offsets_start_at_zero_and_spread_by_arc_length():
    stroke = MotionStroke(
        mask=square_mask(0, 0, 0.1, 0.1),
        trajectory=[
            TrajectoryPoint(0.1, 0.5),
            TrajectoryPoint(0.3, 0.5),
            TrajectoryPoint(0.9, 0.5),
        ],
    )
    offsets = trajectory_offsets(stroke, 9)
    assert offsets.shape == (9, 2) and offsets.dtype == np.float32
    np.testing.assert_allclose(offsets[:, 0], np.linspace(0.0, 0.8, 9), atol=1e-5)
    np.testing.assert_allclose(offsets[:, 1], 0.0, atol=1e-6)


def test_timed_point_is_reached_at_its_frame():
    anchor, timed, end = (0.1, 0.5), (0.5, 0.2), (0.9, 0.8)
    stroke = MotionStroke(
        mask=square_mask(0, 0, 0.1, 0.1),
        trajectory=[
            TrajectoryPoint(*anchor),
            TrajectoryPoint(*timed, frame=10),
            TrajectoryPoint(*end),
        ],
    )
    offsets = trajectory_offsets(stroke, 31)
    np.testing.assert_allclose(offsets[10], np.subtract(timed, anchor), atol=1e-4)
    np.testing.assert_allclose(offsets[30], np.subtract(end, anchor), atol=1e-4)


def test_untimed_points_between_timed_ones_share_the_span_by_arc_length():
    stroke = MotionStroke(
        mask=square_mask(0, 0, 0.1, 0.1),
        trajectory=[
            TrajectoryPoint(0.1, 0.5),
            TrajectoryPoint(0.3, 0.5),
            TrajectoryPoint(0.5, 0.5, frame=10),
            TrajectoryPoint(0.9, 0.5),
        ],
    )
    offsets = trajectory_offsets(stroke, 31)[:, 0]
    np.testing.assert_allclose(offsets[[0, 5, 10, 20, 30]], [0.0, 0.2, 0.4, 0.6, 0.8], atol=1e-4)


def test_timed_anchor_holds_and_times_past_the_end_are_clamped():
    stroke = MotionStroke(
        mask=square_mask(0, 0, 0.1, 0.1),
        trajectory=[TrajectoryPoint(0.1, 0.5, frame=4), TrajectoryPoint(0.9, 0.5, frame=100)],
    )
    offsets = trajectory_offsets(stroke, 13)[:, 0]
    np.testing.assert_allclose(offsets[:5], 0.0, atol=1e-6)
    np.testing.assert_allclose(offsets[12], 0.8, atol=1e-5)


def test_static_region_has_zero_displacement():
    static = MotionStroke(mask=square_mask(0.6, 0.1, 0.8, 0.3), kind="static")
    fields = compile_strokes([moving_square(), static], 50, 40, 6)
    inside = fields.region_ids == 1
    assert inside.any()
    assert not fields.flows[:, inside].any()
    np.testing.assert_array_equal(fields.static_mask[inside], 1.0)
    assert not fields.static_mask[~inside].any()
    assert not trajectory_offsets(
        MotionStroke(mask=static.mask, kind="static", trajectory=moving_square().trajectory), 6
    ).any()


def test_later_stroke_wins_where_strokes_overlap():
    first = MotionStroke(
        mask=square_mask(0.2, 0.2, 0.6, 0.6),
        trajectory=[TrajectoryPoint(0.4, 0.4), TrajectoryPoint(0.4, 0.9)],
    )
    second = MotionStroke(
        mask=square_mask(0.4, 0.4, 0.8, 0.8),
        trajectory=[TrajectoryPoint(0.6, 0.6), TrajectoryPoint(0.9, 0.6)],
    )
    overlap = (slice(25, 29), slice(25, 29))  # inside both at 50 x 50
    only_first = (slice(12, 18), slice(12, 18))
    fields = compile_strokes([first, second], 50, 50, 5)
    assert (fields.region_ids[overlap] == 1).all() and (fields.region_ids[only_first] == 0).all()
    np.testing.assert_allclose(
        fields.flows[-1][overlap], np.broadcast_to([15.0, 0.0], (4, 4, 2)), atol=1e-3
    )
    np.testing.assert_allclose(
        fields.flows[-1][only_first], np.broadcast_to([0.0, 25.0], (6, 6, 2)), atol=1e-3
    )
    # the other way round, the first stroke takes the overlap
    swapped = compile_strokes([second, first], 50, 50, 5)
    assert (swapped.region_ids[overlap] == 1).all()
    np.testing.assert_allclose(
        swapped.flows[-1][overlap], np.broadcast_to([0.0, 25.0], (4, 4, 2)), atol=1e-3
    )
    # a static stroke painted on top pins the overlap
    pinned = compile_strokes([first, MotionStroke(mask=second.mask, kind="static")], 50, 50, 5)
    assert not pinned.flows[:, overlap[0], overlap[1]].any()
    assert (pinned.static_mask[overlap] == 1).all()


def test_strength_scales_and_zero_strength_means_no_motion():
    half = trajectory_offsets(moving_square(strength=0.5), 5)
    full = trajectory_offsets(moving_square(), 5)
    np.testing.assert_allclose(half, full * 0.5, atol=1e-6)
    fields = compile_strokes([moving_square(strength=0.0)], 40, 40, 5)
    assert not fields.flows.any()
    np.testing.assert_array_equal(fields.move_masks[-1], fields.move_masks[0])


def test_invisible_strokes_still_count_and_no_strokes_give_empty_fields():
    fields = compile_strokes([moving_square(visible=False)], 40, 40, 5)
    assert fields.flows.any()
    empty = compile_strokes([], 40, 30, 3)
    assert isinstance(empty, StrokeFields) and (empty.frames, empty.height, empty.width) == (
        3,
        30,
        40,
    )
    assert not empty.flows.any() and not empty.move_masks.any() and (empty.region_ids == -1).all()


def test_round_trip_is_lossless():
    rng = np.random.default_rng(0)
    soft = cv2.GaussianBlur(square_mask(0.2, 0.3, 0.5, 0.7, size=64), (0, 0), 3) * rng.uniform(
        0.5, 1.0
    )
    stroke = MotionStroke(
        mask=soft,
        kind="move",
        trajectory=[
            TrajectoryPoint(0.3, 0.4),
            TrajectoryPoint(0.5, 0.5, frame=12.0),
            TrajectoryPoint(1.0, 0.0),
        ],
        strength=0.75,
        name="car",
        color="#00ff88",
        visible=False,
    )
    data = json.loads(json.dumps(stroke.to_dict()))
    back = MotionStroke.from_dict(data, field="shots[0].strokes[0]")
    assert np.abs(back.mask - stroke.mask).max() <= 1 / 255
    assert back.mask.shape == stroke.mask.shape and back.mask.dtype == np.float32
    assert back.trajectory == stroke.trajectory
    for key in ("kind", "strength", "name", "color", "visible", "id"):
        assert getattr(back, key) == getattr(stroke, key)
    assert back.to_dict() == data


def _valid_dict() -> dict:
    return MotionStroke(
        mask=square_mask(0.2, 0.2, 0.4, 0.4, size=16),
        trajectory=[
            TrajectoryPoint(0.3, 0.3),
            TrajectoryPoint(0.5, 0.5, frame=5),
            TrajectoryPoint(0.7, 0.5, frame=9),
        ],
    ).to_dict()


def _png(image: np.ndarray) -> str:
    return base64.b64encode(cv2.imencode(".png", image)[1].tobytes()).decode("ascii")


@pytest.mark.parametrize(
    "change, field, shown",
    [
        (lambda d: d.update(kind="spin"), "kind", "spin"),
        (lambda d: d.update(strength=1.5), "strength", "1.5"),
        (lambda d: d.update(strength=-0.1), "strength", "-0.1"),
        (lambda d: d.update(strength="lots"), "strength", "lots"),
        (lambda d: d["trajectory"][1].update(x=float("nan")), "trajectory[1].x", "nan"),
        (lambda d: d["trajectory"][2].update(y=float("inf")), "trajectory[2].y", "inf"),
        (lambda d: d["trajectory"][0].update(x=1.25), "trajectory[0].x", "1.25"),
        (lambda d: d["trajectory"][0].update(y=-0.5), "trajectory[0].y", "-0.5"),
        (lambda d: d["trajectory"][2].update(frame=5), "trajectory[2].frame", "5"),
        (lambda d: d["trajectory"][1].update(frame=-3), "trajectory[1].frame", "-3"),
        (lambda d: d["trajectory"][1].pop("x"), "trajectory[1].x", "missing"),
        (lambda d: d["trajectory"].__setitem__(0, "here"), "trajectory[0]", "str"),
        (lambda d: d.update(trajectory="left"), "trajectory", "list"),
        (lambda d: d.pop("mask_png"), "mask_png", "missing"),
        (lambda d: d.pop("kind"), "kind", "missing"),
        (lambda d: d.update(mask_png="not base64!"), "mask_png", "base64"),
        (lambda d: d.update(mask_png=base64.b64encode(b"GIF89a....").decode()), "mask_png", "PNG"),
        (lambda d: d.update(mask_png=d["mask_png"][:40]), "mask_png", "PNG"),
        (lambda d: d.update(mask_png=_png(np.zeros((4, 4, 3), np.uint8))), "mask_png", "grayscale"),
        (lambda d: d.update(color="red"), "color", "red"),
        (lambda d: d.update(visible="yes"), "visible", "yes"),
    ],
)
def test_every_validation_error_names_its_field(change, field, shown):
    data = _valid_dict()
    change(data)
    with pytest.raises(ProjectError) as caught:
        MotionStroke.from_dict(data, field="shots[0].strokes[1]")
    assert caught.value.field == f"shots[0].strokes[1].{field}"
    assert f"shots[0].strokes[1].{field}" in str(caught.value)
    assert shown in str(caught.value)


def test_stroke_that_is_not_an_object_is_named():
    with pytest.raises(ProjectError) as caught:
        MotionStroke.from_dict([1, 2], field="shots[2].strokes[0]")
    assert caught.value.field == "shots[2].strokes[0]"


def test_mask_must_be_2d_and_compile_names_the_stroke():
    stroke = MotionStroke(mask=np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ProjectError) as caught:
        stroke.validate("shots[0].strokes[3]")
    assert caught.value.field == "shots[0].strokes[3].mask"
    assert "(4, 4, 3)" in str(caught.value)
    bad = moving_square()
    bad.trajectory[1].x = 2.0
    with pytest.raises(ProjectError) as caught:
        compile_strokes([moving_square(), bad], 32, 32, 4)
    assert caught.value.field == "strokes[1].trajectory[1].x"


def test_uint8_and_bool_masks_are_read_as_coverage():
    assert MotionStroke(mask=np.full((2, 2), 255, np.uint8)).mask.max() == 1.0
    assert MotionStroke(mask=np.ones((2, 2), bool)).mask.dtype == np.float32
