"""Camera paths: easing, sampling, presets and homographies against known transforms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.camera import (
    EASINGS,
    PRESETS,
    CameraKeyframe,
    CameraPath,
    Pose,
    ease,
    homographies,
    intrinsics,
    pose_to_homography,
    preset,
)
from engine.errors import InvalidRequest, ProjectError

W, H = 640, 360
CENTRE = np.array([(W - 1) / 2, (H - 1) / 2])
FOCAL = intrinsics(W, H)[0, 0]
HANDLES = (0.2, 0.9, 0.3, 1.0)


def apply(h: np.ndarray, point) -> np.ndarray:
    p = h @ np.array([point[0], point[1], 1.0])
    return p[:2] / p[2]


@pytest.mark.parametrize("easing", EASINGS)
def test_easing_endpoints_exact_and_monotonic(easing):
    assert ease(easing, 0.0, HANDLES) == 0.0
    assert ease(easing, 1.0, HANDLES) == 1.0
    values = [ease(easing, t, HANDLES) for t in np.linspace(0, 1, 101)]
    assert all(b >= a - 1e-9 for a, b in zip(values, values[1:]))


def test_ease_in_starts_slow_and_ease_out_starts_fast():
    assert ease("ease-in", 0.25) < 0.25 < ease("ease-out", 0.25)
    assert ease("ease-in-out", 0.5) == pytest.approx(0.5, abs=1e-6)
    # a bezier with a steep start reaches most of the way early
    assert ease("bezier", 0.3, HANDLES) > 0.6


def test_hold_keeps_the_first_pose_until_the_next_keyframe():
    path = CameraPath([CameraKeyframe(0, Pose(pan=0), "hold"), CameraKeyframe(10, Pose(pan=30))])
    assert [path.sample(f).pan for f in (0, 5, 9)] == [0, 0, 0]
    assert path.sample(10).pan == 30


def test_sampling_before_between_and_after_keyframes():
    path = CameraPath(
        [CameraKeyframe(5, Pose(tilt=10), "linear"), CameraKeyframe(15, Pose(tilt=20), "linear")]
    )
    assert path.sample(0).tilt == 10
    assert path.sample(10).tilt == pytest.approx(15)
    assert path.sample(99).tilt == 20
    assert CameraPath().sample(3) == Pose()
    assert len(path.sample_frames(20)) == 20


def test_zoom_interpolates_geometrically():
    path = CameraPath(
        [CameraKeyframe(0, Pose(zoom=1.0), "linear"), CameraKeyframe(10, Pose(zoom=4.0), "linear")]
    )
    assert path.sample(5).zoom == pytest.approx(2.0)


def test_identity_pose_is_identity_homography():
    np.testing.assert_allclose(pose_to_homography(Pose(), W, H), np.eye(3), atol=1e-12)


def test_zoom_scales_about_the_centre():
    h = pose_to_homography(Pose(zoom=2.0), W, H)
    np.testing.assert_allclose(apply(h, CENTRE), CENTRE, atol=1e-9)
    np.testing.assert_allclose(apply(h, CENTRE + [10, -5]), CENTRE + [20, -10], atol=1e-9)


def test_pan_right_moves_the_scene_left_by_f_tan():
    h = pose_to_homography(Pose(pan=10), W, H)
    expected = CENTRE[0] - FOCAL * math.tan(math.radians(10))
    np.testing.assert_allclose(apply(h, CENTRE), [expected, CENTRE[1]], atol=1e-9)


def test_tilt_up_moves_the_scene_down():
    h = pose_to_homography(Pose(tilt=5), W, H)
    expected = CENTRE[1] + FOCAL * math.tan(math.radians(5))
    np.testing.assert_allclose(apply(h, CENTRE), [CENTRE[0], expected], atol=1e-9)


def test_clockwise_roll_turns_the_picture_counter_clockwise():
    h = pose_to_homography(Pose(roll=90), W, H)
    # a point right of centre goes to above the centre (y is down on screen)
    np.testing.assert_allclose(apply(h, CENTRE + [50, 0]), CENTRE + [0, -50], atol=1e-9)


def test_truck_moves_a_plane_point_by_f_over_depth():
    h = pose_to_homography(Pose(truck=0.1), W, H, depth=2.0)
    np.testing.assert_allclose(apply(h, CENTRE), CENTRE - [FOCAL * 0.1 / 2.0, 0], atol=1e-9)
    up = pose_to_homography(Pose(pedestal=0.1), W, H)
    assert apply(up, CENTRE)[1] > CENTRE[1]  # camera rises, the plane slides down


def test_dolly_halfway_doubles_the_plane():
    h = pose_to_homography(Pose(dolly=0.5), W, H, depth=1.0)
    np.testing.assert_allclose(apply(h, CENTRE + [10, 10]), CENTRE + [20, 20], atol=1e-9)


def test_dolly_zoom_keeps_the_subject_plane_size():
    path = preset("dolly-zoom", 25)
    for pose in path.sample_frames(25):
        h = pose_to_homography(pose, W, H)
        scale = (apply(h, CENTRE + [40, 0]) - apply(h, CENTRE))[0] / 40
        assert scale == pytest.approx(1.0, abs=0.005)  # under half a percent: invisible
    assert path.sample(24).dolly > 0 and path.sample(24).zoom < 1


def test_orbit_keeps_the_subject_centred():
    path = preset("orbit", 25)
    for pose in path.sample_frames(25):
        np.testing.assert_allclose(apply(pose_to_homography(pose, W, H), CENTRE), CENTRE, atol=0.5)
    assert path.sample(24).truck > 0 and path.sample(24).pan < 0


@pytest.mark.parametrize(
    ("name", "field", "sign"),
    [
        ("pan-left", "pan", -1),
        ("pan-right", "pan", 1),
        ("tilt-up", "tilt", 1),
        ("tilt-down", "tilt", -1),
        ("roll", "roll", 1),
        ("dolly-in", "dolly", 1),
        ("dolly-out", "dolly", -1),
        ("truck-left", "truck", -1),
        ("truck-right", "truck", 1),
        ("crane-up", "pedestal", 1),
    ],
)
def test_preset_shapes_are_monotonic_in_the_named_direction(name, field, sign):
    values = [getattr(p, field) * sign for p in preset(name, 30).sample_frames(30)]
    assert values[0] == 0 and values[-1] > 0
    assert all(b >= a - 1e-12 for a, b in zip(values, values[1:]))


def test_zoom_presets_and_every_preset_is_valid():
    assert preset("zoom-in", 20).sample(19).zoom > 1 > preset("zoom-out", 20).sample(19).zoom
    assert preset("zoom-out", 20).sample(0).zoom == 1
    for name in PRESETS:
        preset(name, 12).validate()
        preset(name, 1).validate()
    with pytest.raises(InvalidRequest, match="pan-left"):
        preset("barrel-roll", 10)


def test_homographies_stack_per_frame():
    homs = homographies(preset("pan-right", 8), 8, W, H)
    assert homs.shape == (8, 3, 3) and homs.dtype == np.float32
    np.testing.assert_allclose(homs[0], np.eye(3), atol=1e-6)


def test_round_trip_is_lossless():
    path = CameraPath(
        [
            CameraKeyframe(0, Pose(pan=1.5, zoom=1.2), "bezier", HANDLES),
            CameraKeyframe(12, Pose(truck=-0.25, roll=3), "hold"),
            CameraKeyframe(30, Pose(dolly=0.1)),
        ]
    )
    again = CameraPath.from_dict(path.to_dict())
    assert again == path
    assert again.to_dict() == path.to_dict()


def _bad(mutate):
    data = CameraPath(
        [CameraKeyframe(0, Pose()), CameraKeyframe(10, Pose(pan=5), "bezier", HANDLES)]
    ).to_dict()
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["keyframes"][1].update(easing="bouncy"), "camera.keyframes[1].easing"),
        (lambda d: d["keyframes"][1]["pose"].update(pan=float("nan")), "keyframes[1].pose.pan"),
        (lambda d: d["keyframes"][0]["pose"].update(zoom=0), "keyframes[0].pose.zoom"),
        (lambda d: d["keyframes"][0].update(frame=-2), "keyframes[0].frame"),
        (lambda d: d["keyframes"][0].update(frame=2.5), "keyframes[0].frame"),
        (lambda d: d["keyframes"][1].update(frame=0), "keyframes[1].frame"),
        (lambda d: d["keyframes"][1].update(handles=[1.5, 0, 0.5, 1]), "keyframes[1].handles"),
        (lambda d: d["keyframes"][1].pop("handles"), "keyframes[1].handles"),
        (lambda d: d["keyframes"][1]["pose"].update(tilt="up"), "keyframes[1].pose.tilt"),
        (lambda d: d.update(keyframes={}), "camera.keyframes"),
        (lambda d: d["keyframes"][0].pop("frame"), "keyframes[0].frame"),
    ],
)
def test_validation_names_the_field(mutate, field):
    with pytest.raises(ProjectError) as info:
        CameraPath.from_dict(_bad(mutate), "camera")
    assert field in str(info.value)
