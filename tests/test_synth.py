"""The procedural world: determinism, every kind renders, and the labels match the pixels."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from engine.synth import (
    CAMERA_MOVES,
    CAMERA_WORDS,
    COLOUR_NAMES,
    COLOUR_WORDS,
    FAR_LAYERS,
    GROUND_WORDS,
    GROUNDS,
    KIND_WORDS,
    KINDS,
    SKIES,
    TIME_NOUNS,
    TIME_WORDS,
    ObjectSpec,
    SceneSpec,
    batches,
    nearest_colour,
    render_clip,
    sample_scene,
    simulate,
)


def _centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


def _whole(mask: np.ndarray, min_pixels: int = 12) -> bool:
    """A mask big enough to measure that does not touch the frame's edge (so is not cut off)."""
    return mask.sum() >= min_pixels and not (
        mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any()
    )


def _check_labels(clip, min_frames: int = 3) -> None:
    """Each fully visible object's mask sits on its trajectory and has its named colour."""
    for obj in clip.objects:
        checked = 0
        for t in range(len(clip.frames)):
            mask = obj.masks[t]
            if not _whole(mask):
                continue
            others = [o.masks[t] for o in clip.objects if o is not obj]
            near_others = any(
                cv2.dilate(m.astype(np.uint8), np.ones((5, 5))).astype(bool)[mask].any()
                for m in others
            )
            if near_others:  # partly hidden objects are the occlusion test's business
                continue
            assert np.abs(_centroid(mask) - obj.trajectory[t]).max() < 1.5, (obj.name, t)
            median = np.median(clip.frames[t][mask], axis=0)
            assert nearest_colour(median) == obj.colour, (obj.name, t, median)
            checked += 1
        assert checked >= min_frames, f"{obj.name} was measurable in only {checked} frames"


def test_same_seed_same_clip_and_different_seeds_differ():
    a, b, c = render_clip(11), render_clip(11), render_clip(12)
    assert a.frames.shape == (17, 128, 128, 3) and a.frames.dtype == np.uint8
    assert np.array_equal(a.frames, b.frames) and a.caption == b.caption
    assert a.poses == b.poses and np.array_equal(a.depth_order, b.depth_order)
    for oa, ob in zip(a.objects, b.objects, strict=True):
        assert np.array_equal(oa.trajectory, ob.trajectory) and np.array_equal(oa.masks, ob.masks)
    assert not np.array_equal(a.frames, c.frames)
    # a spec sampled from a seed and passed back renders the same clip
    spec = sample_scene(np.random.default_rng(11), 17, 12.0)
    assert np.array_equal(render_clip(11, spec=spec).frames, a.frames)


@pytest.mark.parametrize("index", range(6))
def test_every_sky_ground_and_far_layer_renders(index):
    sky, ground, far = SKIES[index % 3], GROUNDS[index % 4], FAR_LAYERS[(index // 2) % 3]
    spec = sample_scene(np.random.default_rng(index), 9, sky=sky, ground=ground, far=far)
    clip = render_clip(index, frames=9, size=(96, 64), spec=spec)
    assert clip.frames.shape == (9, 64, 96, 3)
    assert clip.meta["sky"] == sky and clip.meta["ground"] == ground and clip.meta["far"] == far
    top, bottom = clip.frames[0, :8].mean(), clip.frames[0, -8:].mean()
    assert clip.frames[0].std() > 5.0 and abs(top - bottom) > 3.0  # sky and ground differ
    if sky == "night":
        assert top < 60.0


def test_time_of_day_sets_the_sky():
    skies = {
        sky: render_clip(0, frames=1, spec=SceneSpec(sky=sky, far="hills")).frames[0, :10]
        for sky in SKIES
    }
    assert skies["day"].mean() > skies["dusk"].mean() > skies["night"].mean()
    assert skies["day"][..., 2].mean() > skies["day"][..., 0].mean()  # a blue day sky
    assert skies["dusk"][:, :, 0].mean() > skies["night"][:, :, 0].mean() + 40  # a warm dusk


@pytest.mark.parametrize("move", sorted(CAMERA_MOVES))
def test_every_move_and_object_kind_renders_with_matching_labels(move):
    index = sorted(CAMERA_MOVES).index(move)
    kind = KINDS[index % len(KINDS)]
    spec = sample_scene(
        np.random.default_rng(100 + index), 17, camera_move=move, objects=[(kind, None, None)]
    )
    spec.objects[0].position = (0.0, spec.objects[0].position[1], 1.6)  # in the middle, in view
    spec.objects[0].velocity = (0.0, spec.objects[0].velocity[1], 0.0)
    clip = render_clip(index, spec=spec)
    assert clip.meta["camera_move"] == move and len(clip.poses) == 17
    assert clip.objects[0].kind == kind
    _check_labels(clip)


@pytest.mark.parametrize("sky", SKIES)
def test_named_colours_survive_the_light(sky):
    for i, colour in enumerate(COLOUR_NAMES):
        kind = KINDS[i % len(KINDS)]
        spec = SceneSpec(
            sky=sky,
            ground=GROUNDS[i % 4],
            objects=[ObjectSpec(kind, colour, "rest", (0.0, 0.0, 1.2), radius=0.12)],
        )
        clip = render_clip(i, frames=1, size=96, spec=spec)
        mask = clip.objects[0].masks[0]
        assert mask.sum() > 100
        median = np.median(clip.frames[0][mask], axis=0)
        assert nearest_colour(median) == colour, (sky, kind, colour, median)


def test_seeded_clips_have_labels_that_match_their_pixels():
    for seed in range(4):
        clip = render_clip(seed)
        _check_labels(clip, min_frames=0)
        depths = np.stack([o.depth for o in clip.objects], axis=1)  # (T, n)
        ordered = np.take_along_axis(depths, clip.depth_order, axis=1)
        assert (np.diff(ordered, axis=1) <= 0).all()  # far to near


def test_a_near_object_hides_a_far_one_which_comes_out_again():
    duration = 16 / 12.0
    far = ObjectSpec("cube", "blue", "rest", (0.0, 0.0, 2.6), radius=0.12)
    near = ObjectSpec(
        "ball",
        "red",
        "roll",
        (-0.5, 0.0, 1.3),
        velocity=(1.0 / duration, 0.0, 0.0),
        radius=0.12,
        friction=0.0,
    )
    scene = SceneSpec(
        ground="grass", sky="day", camera_height=0.2, camera_pitch=-3.0, objects=[far, near]
    )
    clip = render_clip(3, spec=scene)
    far_area = clip.objects[0].masks.sum(axis=(1, 2))
    near_area = clip.objects[1].masks.sum(axis=(1, 2))
    hidden = int(np.argmin(far_area))
    assert (
        far_area[0] > 100
        and far_area[hidden] < 0.4 * far_area[0]
        and far_area[-1] > 0.9 * far_area[0]
    )
    assert 0 < hidden < 16 and near_area.min() > 0.8 * near_area.max()  # the near one is never cut
    assert list(clip.depth_order[hidden]) == [0, 1]  # far first, near last
    assert not (clip.objects[0].masks & clip.objects[1].masks).any()
    # where the near ball covers the cube's place, the pixels are the ball's
    ball_px = clip.frames[hidden][clip.objects[1].masks[hidden]]
    assert nearest_colour(np.median(ball_px, axis=0)) == "red"


def _phase_shift(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ga = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float64)
    gb = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY).astype(np.float64)
    window = cv2.createHanningWindow(ga.shape[::-1], cv2.CV_64F)
    (dx, dy), _ = cv2.phaseCorrelate(ga, gb, window)
    return np.array([dx, dy])


@pytest.mark.parametrize("far", ["skyline", "mountains"])
def test_a_labelled_pan_shifts_the_background_by_f_tan_angle(far):
    spec = SceneSpec(
        sky="day",
        ground="sand",
        far=far,
        camera_move="pan-left",
        camera_easing="linear",
        camera_pitch=-6.0,
        camera_height=0.5,
    )
    clip = render_clip(5, frames=9, spec=spec)
    f = float(clip.focal[0])
    horizon = int(63.5 - f * math.tan(math.radians(6.0)))
    region = slice(max(horizon - 40, 0), horizon - 1)  # sky and far layer only
    for t in range(0, 7, 2):
        measured = _phase_shift(clip.frames[t][region], clip.frames[t + 2][region])
        d_pan = math.radians(clip.poses[t + 2].pan - clip.poses[t].pan)
        expected = -f * math.tan(d_pan)  # pan left (d_pan < 0): the world slides right
        assert expected > 4.0
        assert abs(measured[0] - expected) < 0.15 * abs(expected), (t, measured, expected)
        assert abs(measured[1]) < 1.0
    pans = np.radians([p.pan for p in clip.poses])
    assert np.allclose(clip.background_shift[:, 0], -f * np.tan(pans), atol=1e-3)


@pytest.mark.parametrize("move", ["pan-right", "tilt-up", "roll-clockwise", "zoom-in"])
def test_poses_mean_what_the_camera_module_says(move):
    """A turn or zoom moves every pixel by engine.camera's homography of the labelled pose."""
    from engine.camera import pose_to_homography

    spec = SceneSpec(sky="day", ground="sand", far="mountains", camera_move=move)
    clip = render_clip(9, frames=5, spec=spec)
    size = (128, 128)
    ones = np.full(size, 255, np.uint8)
    for t in (2, 4):
        homography = pose_to_homography(clip.poses[t], *size)
        predicted = cv2.warpPerspective(clip.frames[0], homography, size).astype(np.float64)
        valid = cv2.erode(cv2.warpPerspective(ones, homography, size), np.ones((5, 5))) > 0
        actual = clip.frames[t].astype(np.float64)
        error = np.abs(predicted - actual)[valid].mean()
        unmoved = np.abs(clip.frames[0].astype(np.float64) - actual)[valid].mean()
        assert error < 4.0 and error < 0.3 * unmoved, (t, error, unmoved)


def test_a_truck_moves_near_things_but_not_the_far_layer():
    ball = ObjectSpec("ball", "yellow", "rest", (0.0, 0.0, 1.5), radius=0.12)
    spec = SceneSpec(
        sky="day",
        ground="grass",
        far="mountains",
        camera_move="truck-right",
        camera_easing="linear",
        camera_pitch=-6.0,
        objects=[ball],
    )
    clip = render_clip(2, frames=9, spec=spec)
    f, truck = float(clip.focal[0]), clip.poses[-1].truck
    horizon = int(63.5 - f * math.tan(math.radians(6.0)))
    sky_shift = _phase_shift(clip.frames[0][: horizon - 1], clip.frames[-1][: horizon - 1])
    assert np.abs(sky_shift).max() < 0.5  # infinitely far: no parallax
    moved = clip.objects[0].trajectory[-1, 0] - clip.objects[0].trajectory[0, 0]
    assert moved == pytest.approx(-f * truck / clip.objects[0].depth[0], rel=0.03)
    _check_labels(clip)


def test_a_dropped_ball_falls_then_bounces():
    ball = ObjectSpec("ball", "red", "bounce", (0.0, 0.5, 1.6), radius=0.1, restitution=0.7)
    clip = render_clip(4, frames=17, spec=SceneSpec(ground="snow", sky="dusk", objects=[ball]))
    y = clip.objects[0].trajectory[:, 1]
    step = np.diff(y)
    impact = int(np.argmax(step < 0))  # the first frame after which it rises
    assert 2 <= impact <= 10 and (step[:impact] > 0).all()  # falling: down the screen
    assert y[impact + 2] < y[impact] - 5.0  # bounced back up
    bottoms = clip.objects[0].positions[:, 1] - 0.1
    assert bottoms.min() > -1e-6
    _check_labels(clip)


def test_friction_stops_a_slide_and_balls_collide():
    cube = ObjectSpec(
        "cube",
        "green",
        "slide",
        (0.0, 0.0, 2.0),
        velocity=(0.6, 0.0, 0.0),
        radius=0.1,
        friction=0.3,
    )
    x = simulate([cube], 30, 12.0).positions[:, 0, 0]
    speed = np.diff(x)
    assert (np.diff(speed) <= 1e-9).all() and speed[0] > 0.0 and speed[-1] == 0.0
    a = ObjectSpec(
        "ball",
        "red",
        "roll",
        (-0.4, 0.0, 2.0),
        velocity=(0.8, 0.0, 0.0),
        radius=0.1,
        restitution=0.9,
        friction=0.0,
    )
    b = ObjectSpec(
        "ball",
        "blue",
        "roll",
        (0.4, 0.0, 2.0),
        velocity=(-0.8, 0.0, 0.0),
        radius=0.1,
        restitution=0.9,
        friction=0.0,
    )
    pos = simulate([a, b], 24, 12.0).positions
    gap = pos[:, 1, 0] - pos[:, 0, 0]
    assert gap.min() >= 0.2 - 1e-6 and gap[-1] > 0.5  # they met and bounced apart
    assert pos[-1, 0, 0] < pos[12, 0, 0]  # the red ball came back


def test_captions_name_colour_kind_ground_time_and_camera():
    captions = set()
    for seed in range(24):
        clip = render_clip(seed, frames=2, size=32)
        text = clip.caption.lower()
        captions.add(text)
        for obj in clip.objects:
            assert any(w in text for w in COLOUR_WORDS[obj.colour]), (text, obj.colour)
            assert any(w in text for w in KIND_WORDS[obj.kind]), (text, obj.kind)
        assert any(w in text for w in GROUND_WORDS[clip.meta["ground"]]), text
        sky = clip.meta["sky"]
        assert any(w in text for w in TIME_WORDS[sky] + TIME_NOUNS[sky]), text
        move = clip.meta["camera_move"]
        assert any(
            clause.removeprefix("the ") in text or gerund.removeprefix("the ") in text
            for clause, gerund in CAMERA_WORDS[move]
        ), text
    assert len(captions) == 24


def test_batches_are_deterministic_and_padded():
    (first,) = list(batches(3, frames=4, size=32, seed=7, limit=1))
    assert first.frames.shape == (3, 4, 32, 32, 3) and first.poses.shape == (3, 4, 7)
    assert first.trajectories.shape == (3, 3, 4, 2) and first.masks.shape == (3, 3, 4, 32, 32)
    assert list(first.seeds) == [7, 8, 9] and len(first.captions) == 3
    n_objects = first.present.sum(axis=1)
    assert np.isnan(first.trajectories[~first.present]).all() and (n_objects >= 1).all()
    again = render_clip(8, frames=4, size=32)
    assert np.array_equal(first.frames[1], again.frames)


def test_worker_processes_give_the_same_stream():
    local = list(batches(2, frames=3, size=24, seed=50, limit=2, masks=False))
    pooled = list(batches(2, frames=3, size=24, seed=50, limit=2, masks=False, workers=2))
    for a, b in zip(local, pooled, strict=True):
        assert np.array_equal(a.frames, b.frames) and a.captions == b.captions and b.masks is None


def test_a_bad_scene_is_refused_with_the_field_named():
    with pytest.raises(ValueError, match="ground"):
        render_clip(0, spec=SceneSpec(ground="lava"))
    with pytest.raises(ValueError, match=r"objects\[0\]\.motion"):
        render_clip(0, spec=SceneSpec(objects=[ObjectSpec("cube", "red", "bounce", (0, 0, 2))]))
