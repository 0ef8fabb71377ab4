"""Camera paths: easing, sampling, homographies against known transforms, presets, validation."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from engine.camera import (
    EASINGS,
    POSE_FIELDS,
    PRESETS,
    CameraKeyframe,
    CameraPath,
    Pose,
    ease,
    homographies,
    intrinsics,
    pose_to_homography,
    preset,
    rotation,
)
from engine.errors import InvalidRequest, ProjectError

W, H = 640, 360
CENTRE = np.array([(W - 1) / 2, (H - 1) / 2])
FOCAL = (W / 2) / math.tan(math.radians(50) / 2)  # 50 degrees horizontal at zoom 1
HANDLES = (0.2, 0.9, 0.3, 1.0)  # a steep start that settles


def apply(h: np.ndarray, point) -> np.ndarray:
    p = h @ np.array([point[0], point[1], 1.0])
    return p[:2] / p[2]


def linear_path(*keys: tuple[int, Pose]) -> CameraPath:
    return CameraPath([CameraKeyframe(f, pose, "linear") for f, pose in keys])


# ----------------------------------------------------------------------------- easing


@pytest.mark.parametrize("easing", EASINGS)
def test_easing_endpoints_are_exact_and_the_curve_monotone(easing):
    assert ease(easing, 0.0, HANDLES) == 0.0
    assert ease(easing, 1.0, HANDLES) == 1.0
    assert ease(easing, -0.5, HANDLES) == 0.0 and ease(easing, 1.5, HANDLES) == 1.0
    values = [ease(easing, t, HANDLES) for t in np.linspace(0, 1, 201)]
    assert all(0 <= v <= 1 for v in values)
    assert all(b >= a for a, b in zip(values, values[1:]))


def test_ease_in_starts_slower_than_linear_and_ease_out_faster():
    for t in (0.1, 0.25, 0.4):
        assert ease("ease-in", t) < t < ease("ease-out", t)
        assert ease("ease-in-out", t) < t
    assert ease("ease-in-out", 0.5) == pytest.approx(0.5, abs=1e-9)
    assert ease("ease-in-out", 0.3) == pytest.approx(1 - ease("ease-in-out", 0.7), abs=1e-9)
    assert ease("hold", 0.99) == 0.0


@pytest.mark.parametrize("handles", [(0.25, 0.1, 0.25, 1.0), HANDLES, (0.9, 0.0, 0.1, 1.0)])
def test_bezier_solves_x_for_time_like_css(handles):
    """Against a dense sampling of the curve: y where x(s) = t, not y(t)."""
    x1, y1, x2, y2 = handles
    s = np.linspace(0, 1, 200_001)
    xs = 3 * x1 * s * (1 - s) ** 2 + 3 * x2 * s**2 * (1 - s) + s**3
    ys = 3 * y1 * s * (1 - s) ** 2 + 3 * y2 * s**2 * (1 - s) + s**3
    for t in (0.05, 0.3, 0.5, 0.77, 0.95):
        assert ease("bezier", t, handles) == pytest.approx(np.interp(t, xs, ys), abs=1e-6)
    # the diagonal handles are the identity; CSS "ease" is known to reach ~0.8024 halfway
    assert ease("bezier", 0.37, (1 / 3, 1 / 3, 2 / 3, 2 / 3)) == pytest.approx(0.37, abs=1e-9)
    assert ease("bezier", 0.5, (0.25, 0.1, 0.25, 1.0)) == pytest.approx(0.8024, abs=1e-4)


def test_bezier_handles_beyond_the_unit_range_overshoot_as_in_css():
    back = (0.6, -0.3, 0.7, 1.4)
    assert min(ease("bezier", t, back) for t in np.linspace(0, 1, 51)) < 0
    assert max(ease("bezier", t, back) for t in np.linspace(0, 1, 51)) > 1


@pytest.mark.parametrize(
    ("easing", "handles"),
    [("bouncy", None), ("bezier", None), ("bezier", (1.2, 0, 0.5, 1)), ("bezier", (0, 0, 1))],
)
def test_ease_rejects_unknown_easings_and_bad_handles(easing, handles):
    with pytest.raises(ValueError):
        ease(easing, 0.5, handles)


# ----------------------------------------------------------------------------- sampling


def test_hold_keeps_the_first_pose_until_the_next_keyframe():
    path = CameraPath([CameraKeyframe(0, Pose(pan=2), "hold"), CameraKeyframe(10, Pose(pan=30))])
    assert [path.sample(f).pan for f in (0, 1, 5, 9, 9.99)] == [2, 2, 2, 2, 2]
    assert path.sample(10).pan == 30


def test_sampling_before_between_and_after_keyframes():
    path = linear_path((5, Pose(tilt=10)), (15, Pose(tilt=20, truck=1)), (25, Pose(tilt=0)))
    assert path.sample(0) == path.sample(5) == Pose(tilt=10)
    assert path.sample(10).tilt == pytest.approx(15) and path.sample(10).truck == 0.5
    assert path.sample(15) == Pose(tilt=20, truck=1)  # lands exactly on a middle keyframe
    assert path.sample(20).tilt == pytest.approx(10)
    assert path.sample(99) == Pose(tilt=0)
    poses = path.sample_frames(30)
    assert len(poses) == 30 and poses[12] == path.sample(12)
    shuffled = CameraPath([path.keyframes[2], path.keyframes[0], path.keyframes[1]])
    assert shuffled.sample_frames(30) == poses


def test_an_empty_path_is_the_reference_view():
    assert CameraPath().sample(3) == Pose()
    assert CameraPath().sample_frames(2) == [Pose(), Pose()]
    np.testing.assert_array_equal(
        homographies(CameraPath(), 4, W, H), np.tile(np.eye(3), (4, 1, 1))
    )


def test_zoom_interpolates_geometrically():
    path = linear_path((0, Pose(zoom=1.0)), (10, Pose(zoom=4.0)))
    assert path.sample(5).zoom == pytest.approx(2.0)
    zooms = [p.zoom for p in path.sample_frames(11)]
    ratios = [b / a for a, b in zip(zooms, zooms[1:])]
    np.testing.assert_allclose(ratios, 4.0 ** (1 / 10))
    assert zooms[-1] == 4.0


def test_editing_keyframes_keeps_one_per_frame_and_sorted():
    path = linear_path((10, Pose(pan=1)), (0, Pose()))
    path = path.with_keyframe(CameraKeyframe(10, Pose(pan=5))).with_keyframe(CameraKeyframe(4))
    assert [k.frame for k in path.keyframes] == [0, 4, 10]
    assert path.keyframe_at(10).pose.pan == 5 and path.keyframe_at(3) is None
    assert [k.frame for k in path.without_keyframe(4).keyframes] == [0, 10]


# ----------------------------------------------------------------------------- homographies


def test_identity_pose_is_the_identity_homography():
    np.testing.assert_allclose(pose_to_homography(Pose(), W, H), np.eye(3), atol=1e-12)
    np.testing.assert_allclose(intrinsics(W, H)[0, 0], FOCAL)


def test_zoom_two_scales_about_the_centre_by_two():
    h = pose_to_homography(Pose(zoom=2.0), W, H)
    np.testing.assert_allclose(apply(h, CENTRE), CENTRE, atol=1e-9)
    np.testing.assert_allclose(apply(h, CENTRE + [10, -5]), CENTRE + [20, -10], atol=1e-9)


def test_pan_right_moves_the_centre_left_by_f_tan_pan():
    pan = math.degrees(math.atan(100 / FOCAL))  # the angle that moves the centre 100 px
    h = pose_to_homography(Pose(pan=pan), W, H)
    np.testing.assert_allclose(apply(h, CENTRE), CENTRE - [100, 0], atol=1e-9)
    zoomed = pose_to_homography(Pose(pan=pan, zoom=1.5), W, H)  # zoom multiplies the focal
    np.testing.assert_allclose(apply(zoomed, CENTRE), CENTRE - [150, 0], atol=1e-9)


def test_tilt_up_moves_the_scene_down():
    h = pose_to_homography(Pose(tilt=5), W, H)
    expected = CENTRE[1] + FOCAL * math.tan(math.radians(5))
    np.testing.assert_allclose(apply(h, CENTRE), [CENTRE[0], expected], atol=1e-9)


def test_clockwise_roll_turns_the_picture_counter_clockwise():
    h = pose_to_homography(Pose(roll=90), W, H)
    # image y points down: a point right of centre ends up above it
    np.testing.assert_allclose(apply(h, CENTRE + [50, 0]), CENTRE + [0, -50], atol=1e-9)
    np.testing.assert_allclose(apply(h, CENTRE + [0, 50]), CENTRE + [50, 0], atol=1e-9)
    # OpenCV's positive angle is counter-clockwise on screen
    expected = np.vstack([cv2.getRotationMatrix2D(tuple(CENTRE), 30, 1.0), [0, 0, 1]])
    np.testing.assert_allclose(pose_to_homography(Pose(roll=30), W, H), expected, atol=1e-9)


def test_truck_right_moves_the_plane_left_by_f_truck_over_depth():
    h = pose_to_homography(Pose(truck=0.1), W, H, depth=2.0)
    for offset in ([0, 0], [40, -30]):  # every point of the plane, not only the centre
        shifted = CENTRE + offset - [FOCAL * 0.1 / 2.0, 0]
        np.testing.assert_allclose(apply(h, CENTRE + offset), shifted, atol=1e-9)
    zoomed = pose_to_homography(Pose(truck=0.1, zoom=2.0), W, H, depth=2.0)
    np.testing.assert_allclose(apply(zoomed, CENTRE), CENTRE - [2 * FOCAL * 0.05, 0], atol=1e-9)
    up = pose_to_homography(Pose(pedestal=0.1), W, H)
    np.testing.assert_allclose(apply(up, CENTRE), CENTRE + [0, FOCAL * 0.1], atol=1e-9)


def test_dolly_in_by_half_the_depth_magnifies_the_plane_by_two():
    h = pose_to_homography(Pose(dolly=1.0), W, H, depth=2.0)
    np.testing.assert_allclose(apply(h, CENTRE + [10, 10]), CENTRE + [20, 20], atol=1e-9)
    with pytest.raises(InvalidRequest, match="dolly"):
        pose_to_homography(Pose(dolly=2.0), W, H, depth=2.0)


def test_homography_matches_projecting_the_plane_in_3d():
    """Any pose: a plane point seen in the reference view lands where the moved camera sees it."""
    pose = Pose(pan=7, tilt=-4, roll=11, zoom=1.3, dolly=0.4, truck=-0.2, pedestal=0.15)
    depth = 1.7
    h = pose_to_homography(pose, W, H, depth=depth)
    k0, k = intrinsics(W, H), intrinsics(W, H, zoom=pose.zoom)
    centre = np.array([pose.truck, -pose.pedestal, pose.dolly])  # camera centre, y down
    for x, y in [(0.0, 0.0), (0.3, -0.2), (-0.5, 0.4)]:
        point = np.array([x, y, depth])
        seen = k0 @ point
        moved = k @ rotation(pose).T @ (point - centre)
        np.testing.assert_allclose(apply(h, seen[:2] / seen[2]), moved[:2] / moved[2], atol=1e-8)


def test_warp_perspective_carries_the_keyframe_the_documented_way():
    w, h = 96, 64
    keyframe = np.zeros((h, w, 3), np.uint8)
    keyframe[30:34, 46:50] = 255  # a dot at the centre
    hom = pose_to_homography(Pose(pan=10), w, h)
    frame = cv2.warpPerspective(keyframe, hom, (w, h))
    ys, xs = np.nonzero(frame[..., 0] > 127)
    expected = apply(hom, [47.5, 31.5])
    assert abs(xs.mean() - expected[0]) < 0.6 and abs(ys.mean() - expected[1]) < 0.6
    assert expected[0] < 40  # the camera turned right: the dot went left


def test_homographies_stack_one_float32_matrix_per_frame():
    homs = homographies(preset("pan-right", 8), 8, W, H)
    assert homs.shape == (8, 3, 3) and homs.dtype == np.float32
    np.testing.assert_allclose(homs[0], np.eye(3), atol=1e-6)
    np.testing.assert_allclose(
        homs[5], pose_to_homography(preset("pan-right", 8).sample(5), W, H), rtol=1e-5
    )


# ----------------------------------------------------------------------------- presets


@pytest.mark.parametrize(
    ("name", "field", "sign"),
    [
        ("pan-left", "pan", -1),
        ("pan-right", "pan", 1),
        ("tilt-up", "tilt", 1),
        ("tilt-down", "tilt", -1),
        ("roll", "roll", 1),
        ("zoom-in", "zoom", 1),
        ("zoom-out", "zoom", -1),
        ("dolly-in", "dolly", 1),
        ("dolly-out", "dolly", -1),
        ("truck-left", "truck", -1),
        ("truck-right", "truck", 1),
        ("crane-up", "pedestal", 1),
        ("orbit", "truck", 1),
        ("dolly-zoom", "dolly", 1),
    ],
)
def test_presets_move_monotonically_in_the_named_direction(name, field, sign):
    values = [getattr(p, field) for p in preset(name, 30).sample_frames(30)]
    start = 1.0 if field == "zoom" else 0.0
    moved = [(v - start) * sign for v in values]
    assert moved[0] == 0 and moved[-1] > 0
    assert all(b >= a - 1e-12 for a, b in zip(moved, moved[1:]))


def test_presets_start_at_the_keyframe_and_have_filmmaker_sizes():
    for name in PRESETS:
        assert preset(name, 48).sample(0) == Pose(), name  # frame 0 shows the keyframe itself
    assert preset("pan-left", 48).sample(47).pan == pytest.approx(-20)
    assert preset("zoom-in", 48).sample(47).zoom == pytest.approx(1.5)
    assert preset("zoom-out", 48).sample(47).zoom == pytest.approx(1 / 1.5)
    assert preset("dolly-in", 48).sample(47).dolly == pytest.approx(1 / 3)
    assert preset("pan-left", 48, strength=0.5).sample(47).pan == pytest.approx(-10)
    assert preset("crane-up", 48).sample(47).tilt < 0  # rises and looks down at the subject
    assert preset("dolly-in", 48, strength=20).sample(47).dolly < 1  # never through the subject


def test_dolly_zoom_keeps_the_subject_plane_size_at_every_frame():
    path = preset("dolly-zoom", 25)
    for pose in path.sample_frames(25):
        h = pose_to_homography(pose, W, H)
        scale = (apply(h, CENTRE + [40, 0]) - apply(h, CENTRE))[0] / 40
        assert scale == pytest.approx(1.0, abs=2e-3)
    end = path.sample(24)
    assert end.dolly > 0.3 and end.zoom < 0.7


def test_orbit_keeps_the_subject_centred():
    path = preset("orbit", 25)
    for pose in path.sample_frames(25):
        np.testing.assert_allclose(apply(pose_to_homography(pose, W, H), CENTRE), CENTRE, atol=0.05)
    end = path.sample(24)
    assert end.truck > 0 and end.pan == pytest.approx(-25)


@pytest.mark.parametrize("frames", [1, 2, 12])
def test_every_preset_is_a_valid_path(frames):
    for name, description in PRESETS.items():
        assert description and "\n" not in description
        path = preset(name, frames)
        path.validate()
        assert all(k.frame < frames for k in path.keyframes)
    assert preset("pan-right", 12, strength=0).sample(11) == Pose()


def test_an_unknown_preset_lists_the_names():
    with pytest.raises(InvalidRequest, match="dolly-zoom") as info:
        preset("barrel-roll", 10)
    assert "barrel-roll" in str(info.value)
    with pytest.raises(InvalidRequest):
        preset("pan-left", 0)


# ----------------------------------------------------------------------------- the document


def test_round_trip_through_json_is_lossless():
    path = CameraPath(
        [
            CameraKeyframe(0, Pose(pan=1.5, zoom=1.2, pedestal=-0.1), "bezier", HANDLES),
            CameraKeyframe(12, Pose(truck=-0.25, roll=3.000000000000001), "hold"),
            CameraKeyframe(30, Pose(dolly=0.1, tilt=-7), "ease-out", (0.1, 0.2, 0.3, 0.4)),
            CameraKeyframe(31, Pose(zoom=0.5)),
        ]
    )
    again = CameraPath.from_dict(json.loads(json.dumps(path.to_dict())))
    assert again == path
    assert again.to_dict() == path.to_dict()
    assert again.sample_frames(32) == path.sample_frames(32)
    assert CameraPath.from_dict({}) == CameraPath()


def _data() -> dict:
    return CameraPath(
        [
            CameraKeyframe(0, Pose()),
            CameraKeyframe(10, Pose(pan=5), "bezier", HANDLES),
            CameraKeyframe(20, Pose(zoom=2)),
        ]
    ).to_dict()


@pytest.mark.parametrize(
    ("mutate", "field", "value"),
    [
        (
            lambda d: d["keyframes"][2].update(easing="bouncy"),
            "camera.keyframes[2].easing",
            "'bouncy'",
        ),
        (lambda d: d["keyframes"][1].update(easing=3), "camera.keyframes[1].easing", "3"),
        (
            lambda d: d["keyframes"][1]["pose"].update(pan=float("nan")),
            "camera.keyframes[1].pose.pan",
            "nan",
        ),
        (
            lambda d: d["keyframes"][2]["pose"].update(dolly=float("inf")),
            "camera.keyframes[2].pose.dolly",
            "inf",
        ),
        (lambda d: d["keyframes"][0]["pose"].update(zoom=0), "camera.keyframes[0].pose.zoom", "0"),
        (
            lambda d: d["keyframes"][0]["pose"].update(zoom=-1.5),
            "camera.keyframes[0].pose.zoom",
            "-1.5",
        ),
        (
            lambda d: d["keyframes"][1]["pose"].update(tilt="up"),
            "camera.keyframes[1].pose.tilt",
            "'up'",
        ),
        (
            lambda d: d["keyframes"][1]["pose"].update(roll=True),
            "camera.keyframes[1].pose.roll",
            "True",
        ),
        (
            lambda d: d["keyframes"][1]["pose"].pop("truck"),
            "camera.keyframes[1].pose.truck",
            "missing",
        ),
        (lambda d: d["keyframes"][1].update(pose=[0] * 7), "camera.keyframes[1].pose", "[0, 0"),
        (lambda d: d["keyframes"][0].update(frame=-2), "camera.keyframes[0].frame", "-2"),
        (lambda d: d["keyframes"][0].update(frame=2.5), "camera.keyframes[0].frame", "2.5"),
        (lambda d: d["keyframes"][0].update(frame="3"), "camera.keyframes[0].frame", "'3'"),
        (lambda d: d["keyframes"][0].pop("frame"), "camera.keyframes[0].frame", "missing"),
        (lambda d: d["keyframes"][0].pop("pose"), "camera.keyframes[0].pose", "missing"),
        (lambda d: d["keyframes"][0].pop("easing"), "camera.keyframes[0].easing", "missing"),
        (lambda d: d["keyframes"][2].update(frame=10), "camera.keyframes[2].frame", "10"),
        (
            lambda d: d["keyframes"][1].update(handles=[1.5, 0, 0.5, 1]),
            "camera.keyframes[1].handles",
            "1.5",
        ),
        (
            lambda d: d["keyframes"][1].update(handles=[0.5, 0, 1]),
            "camera.keyframes[1].handles",
            "[0.5, 0, 1]",
        ),
        (
            lambda d: d["keyframes"][1].update(handles=[0, "a", 1, 1]),
            "camera.keyframes[1].handles",
            "'a'",
        ),
        (
            lambda d: d["keyframes"][1].update(handles=[0, float("nan"), 1, 1]),
            "camera.keyframes[1].handles",
            "nan",
        ),
        (lambda d: d["keyframes"][1].pop("handles"), "camera.keyframes[1].handles", "bezier"),
        (lambda d: d["keyframes"].append("key"), "camera.keyframes[3]", "'key'"),
        (lambda d: d.update(keyframes={}), "camera.keyframes", "dict"),
    ],
)
def test_validation_names_the_field_and_the_bad_value(mutate, field, value):
    data = _data()
    mutate(data)
    with pytest.raises(ProjectError) as info:
        CameraPath.from_dict(data, "camera")
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ") and value in str(info.value)


def test_the_unknown_easing_message_lists_the_choices():
    data = _data()
    data["keyframes"][2]["easing"] = "bouncy"
    with pytest.raises(ProjectError) as info:
        CameraPath.from_dict(data, "shots[1].camera")
    assert str(info.value) == (
        "shots[1].camera.keyframes[2].easing: unknown easing 'bouncy' "
        f"(expected one of {', '.join(EASINGS)})"
    )


def test_validate_checks_paths_built_in_code():
    with pytest.raises(ProjectError, match=r"camera\.keyframes\[1\]\.pose\.pan"):
        CameraPath([CameraKeyframe(0), CameraKeyframe(5, Pose(pan=math.inf))]).validate()
    with pytest.raises(ProjectError, match=r"camera\.keyframes\[0\]\.frame"):
        CameraPath([CameraKeyframe(True)]).validate()
    with pytest.raises(ProjectError, match=r"camera\.keyframes\[0\]: must be a camera keyframe"):
        CameraPath([Pose()]).validate()
    with pytest.raises(ProjectError, match=r"pose\.zoom"):
        Pose.from_dict(dict.fromkeys(POSE_FIELDS, 0.0))
    CameraPath([CameraKeyframe(np.int64(3), Pose(pan=np.float32(2.5)))]).validate()
