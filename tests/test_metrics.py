"""Quality metrics on clips with known answers: a perfect clip scores perfectly, a flawed one worse.

Clips are built here: a smooth random texture panned by whole pixels, a flat disc moving
along a known path, brightness pumped by a known number of levels.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np
import pytest

from engine import metrics
from engine.camera import Pose, pose_to_homography
from engine.errors import InvalidRequest

T, SIZE = 17, 128


# ----------------------------------------------------------------------------- clips


@lru_cache
def _texture(size: int = 2 * SIZE, seed: int = 0) -> np.ndarray:
    """Smoothed colour noise with a gentle gradient, kept clear of 0 and 255."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(size=(size, size, 3)).astype(np.float32), (0, 0), 2.0)
    noise = (noise - noise.mean()) / noise.std()
    x = np.arange(size, dtype=np.float32)
    image = 128 + 40 * noise + 20 * np.sin(x / 9.0)[None, :, None]
    return np.clip(image, 20, 235).astype(np.uint8)


def _pan(dx: int, dy: int) -> np.ndarray:
    """The view slides (dx, dy) px per frame over the texture: content moves (-dx, -dy)."""
    big, o = _texture(), SIZE // 2
    return np.stack(
        [big[o + dy * t : o + dy * t + SIZE, o + dx * t : o + dx * t + SIZE] for t in range(T)]
    )


def _static() -> np.ndarray:
    return _pan(0, 0)


def _pump(frames: np.ndarray, levels: int = 8) -> np.ndarray:
    """Every other frame brighter by `levels`."""
    out = frames.astype(np.int16)
    out[1::2] += levels
    return np.clip(out, 0, 255).astype(np.uint8)


def _disc(path: np.ndarray, background: np.ndarray | None = None, radius: int = 14) -> np.ndarray:
    """A flat red disc centred on path[t] over a still textured background."""
    out = (_static() if background is None else background).copy()
    for t, (x, y) in enumerate(path):
        cv2.circle(out[t], (round(x), round(y)), radius, (220, 40, 40), -1)
    return out


def _disc_mask(centre: np.ndarray, radius: int = 14) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), np.uint8)
    cv2.circle(mask, (round(centre[0]), round(centre[1])), radius, 1, -1)
    return mask.astype(bool)


DIAGONAL = np.stack([30 + 4.0 * np.arange(T), 40 + 2.0 * np.arange(T)], axis=1)


def _shift(dx: float, dy: float) -> np.ndarray:
    return np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], np.float64)


def _requested_pan(dx: float, dy: float) -> np.ndarray:
    """The homographies of a view sliding (dx, dy) px per frame."""
    return np.stack([_shift(-dx * t, -dy * t) for t in range(T)])


def _warped(hs: np.ndarray) -> np.ndarray:
    """Frames of the texture's centre seen through each homography (no borders show)."""
    big, o = _texture(), SIZE // 2
    return np.stack([cv2.warpPerspective(big, h @ _shift(-o, -o), (SIZE, SIZE)) for h in hs])


# ----------------------------------------------------------------------------- flicker


def test_flicker_of_a_steady_clip_is_zero():
    result = metrics.flicker(_static())
    assert result.mean == 0.0 and result.chroma_mean == 0.0
    assert result.per_frame.shape == result.still_fraction.shape == (T - 1,)
    assert np.all(result.per_frame == 0) and np.all(result.still_fraction == 1)
    assert not result.per_frame.flags.writeable


def test_flicker_measures_brightness_pumping_in_levels():
    result = metrics.flicker(_pump(_static(), 8))
    assert result.mean == pytest.approx(8.0, abs=0.3)
    assert np.allclose(result.per_frame, 8.0, atol=0.5)


def test_flicker_does_not_count_a_camera_pan():
    steady = metrics.flicker(_pan(2, 1))
    assert steady.mean < 0.5
    assert steady.still_fraction.min() > 0.8  # the panning world counts as still
    assert metrics.flicker(_pump(_pan(2, 1), 8)).mean == pytest.approx(8.0, abs=0.5)


def test_flicker_leaves_out_a_moving_object():
    result = metrics.flicker(_disc(DIAGONAL))
    assert result.mean < 0.5
    assert result.still_fraction.max() < 0.97  # the disc and its trail are not judged


def test_flicker_counts_noise_crawl():
    rng = np.random.default_rng(1)
    noisy = np.clip(_static() + rng.normal(0, 4, _static().shape), 0, 255).astype(np.uint8)
    luma_sigma = 4 * math.hypot(0.299, 0.587, 0.114) * math.sqrt(2)  # of a luma difference
    expected = luma_sigma * math.sqrt(2 / math.pi)  # mean |N(0, sigma)|
    assert metrics.flicker(noisy).mean == pytest.approx(expected, rel=0.1)


def test_flicker_sees_colour_pumping_at_constant_luma():
    pumped = _static().astype(np.float32)
    pumped[1::2, ..., 0] += 10
    pumped[1::2, ..., 1] -= 10 * 0.299 / 0.587  # same luma, redder
    result = metrics.flicker(np.round(pumped).astype(np.uint8))
    assert result.mean < 0.5
    assert result.chroma_mean > 3.0


def test_flicker_looks_only_inside_the_still_mask():
    frames = _static().astype(np.int16)
    frames[1::2, :, : SIZE // 2] += 8  # the left half pumps
    frames = frames.astype(np.uint8)
    left = np.zeros((SIZE, SIZE), bool)
    left[:, : SIZE // 2] = True
    assert metrics.flicker(frames, left).mean == pytest.approx(8.0, abs=0.1)
    assert metrics.flicker(frames, ~left).mean == 0.0
    per_frame_mask = np.repeat(~left[None], T, axis=0)
    assert metrics.flicker(frames, per_frame_mask).mean == 0.0
    with pytest.raises(InvalidRequest):
        metrics.flicker(frames, left[:10])


# ----------------------------------------------------------------------------- warp error


def test_warp_error_is_small_for_consistent_motion_and_grows_with_flicker():
    assert metrics.warp_error(_static()).mean == 0.0
    panned = metrics.warp_error(_pan(2, 1))
    moving = metrics.warp_error(_disc(DIAGONAL))
    assert panned.mean < 0.5 and moving.mean < 1.5
    assert moving.valid_fraction.min() < 1.0  # pixels the disc covers or uncovers are left out
    pumped = metrics.warp_error(_pump(_pan(2, 1), 8))
    assert pumped.mean == pytest.approx(8.0, abs=0.5)
    assert pumped.per_frame.shape == (T - 1,)


def test_warp_error_grows_with_blur_flicker():
    frames = _pan(2, 1).copy()
    for t in range(1, T, 2):
        frames[t] = cv2.GaussianBlur(frames[t], (0, 0), 1.5)
    assert metrics.warp_error(frames).mean > 4 * metrics.warp_error(_pan(2, 1)).mean + 1.0


def test_pair_metrics_of_a_single_frame_are_empty():
    one = _static()[:1]
    assert metrics.warp_error(one).mean == 0.0 and metrics.warp_error(one).per_frame.size == 0
    assert metrics.flicker(one).mean == 0.0


def test_motion_metrics_refuse_frames_too_small_for_optical_flow():
    with pytest.raises(InvalidRequest, match="16 pixels"):
        metrics.warp_error(np.zeros((3, 8, 8, 3), np.uint8))


# ----------------------------------------------------------------------------- motion brush


def test_brush_adherence_of_a_disc_on_its_path():
    result = metrics.brush_adherence(_disc(DIAGONAL), _disc_mask(DIAGONAL[0]), DIAGONAL)
    assert result.mean_error_pct < 1.0 and result.endpoint_error_pct < 1.5
    assert result.tracked_path.shape == (T, 2) and result.per_frame_error_pct.shape == (T,)
    assert np.allclose(result.tracked_path[0], DIAGONAL[0])
    assert np.abs(result.tracked_path - DIAGONAL).max() < 2.0  # px


def test_brush_adherence_follows_a_bounce_and_a_flat_background():
    t = np.arange(T)  # bounces at frames 0, 8 and 16: y speed flips from +11 to -11 px
    bounce = np.stack([20 + 5.0 * t, 100 - 30 * np.abs(np.sin(t * math.pi / 8))], axis=1)
    flat = np.full((T, SIZE, SIZE, 3), 90, np.uint8)
    for background in (None, flat):
        frames = _disc(bounce, background, radius=10)
        result = metrics.brush_adherence(frames, _disc_mask(bounce[0], 10), bounce)
        assert result.mean_error_pct < 1.0


def test_brush_adherence_of_a_wrong_trajectory_is_large():
    frames, mask = _disc(DIAGONAL), _disc_mask(DIAGONAL[0])
    wrong = DIAGONAL[0] - (DIAGONAL - DIAGONAL[0])  # asked to go up-left instead
    result = metrics.brush_adherence(frames, mask, wrong)
    assert result.mean_error_pct > 20 and result.endpoint_error_pct > 40
    still = np.repeat(DIAGONAL[:1], T, axis=0)  # asked to stay put
    assert metrics.brush_adherence(frames, mask, still).endpoint_error_pct > 40


def test_brush_adherence_takes_normalised_paths_and_checks_inputs():
    frames, mask = _disc(DIAGONAL), _disc_mask(DIAGONAL[0])
    pixels = metrics.brush_adherence(frames, mask, DIAGONAL)
    normalised = metrics.brush_adherence(frames, mask, DIAGONAL / SIZE, normalised=True)
    assert normalised.mean_error_pct == pytest.approx(pixels.mean_error_pct, abs=1e-4)
    with pytest.raises(InvalidRequest):
        metrics.brush_adherence(frames, np.zeros((SIZE, SIZE), bool), DIAGONAL)
    with pytest.raises(InvalidRequest):
        metrics.brush_adherence(frames, mask, DIAGONAL[:5])
    with pytest.raises(InvalidRequest):
        metrics.brush_adherence(frames.astype(np.float32), mask, DIAGONAL)


# ----------------------------------------------------------------------------- camera


def test_decompose_homography_reads_a_similarity_about_the_centre():
    assert metrics.decompose_homography(np.eye(3), SIZE, SIZE) == pytest.approx((0, 0, 0, 0))
    c = (SIZE - 1) / 2
    angle, scale = math.radians(10), 1.2
    rot = np.array(
        [[math.cos(angle), -math.sin(angle), 0], [math.sin(angle), math.cos(angle), 0], [0, 0, 1]]
    )
    h = _shift(5, -3) @ _shift(c, c) @ np.diag([scale, scale, 1]) @ rot @ _shift(-c, -c)
    tx, ty, rot_deg, log_scale = metrics.decompose_homography(h, SIZE, SIZE)
    assert (tx, ty, rot_deg, log_scale) == pytest.approx((5, -3, 10, math.log(scale)), abs=1e-6)


def test_decompose_homography_signs_follow_the_camera():
    def read(**pose):
        return metrics.decompose_homography(
            pose_to_homography(Pose(**pose), SIZE, SIZE), SIZE, SIZE
        )

    assert read(pan=5)[0] < -5  # turning right slides the picture left
    assert read(tilt=5)[1] > 5  # looking up slides it down
    assert read(roll=10)[2] == pytest.approx(
        -10, abs=0.01
    )  # a clockwise roll turns it anticlockwise
    assert read(zoom=1.5)[3] == pytest.approx(math.log(1.5), abs=1e-6)


def test_camera_adherence_of_a_pan_and_its_reverse():
    frames, requested = _pan(2, 1), _requested_pan(2, 1)
    result = metrics.camera_adherence(frames, requested)
    assert result.direction_ok and result.direction_cosine > 0.99
    assert result.magnitude_ratio == pytest.approx(1.0, abs=0.05)
    assert result.estimated.shape == result.requested.shape == (T, 4)
    assert np.allclose(result.estimated[-1, :2], [-32, -16], atol=1.0)
    reversed_ = metrics.camera_adherence(frames[::-1].copy(), requested)
    assert not reversed_.direction_ok and reversed_.direction_cosine < -0.9
    too_little = metrics.camera_adherence(frames, _requested_pan(6, 3))
    assert too_little.direction_ok and too_little.magnitude_ratio == pytest.approx(1 / 3, abs=0.05)


def test_camera_adherence_of_a_zoom_and_a_roll():
    def path(**end):
        return np.stack(
            [
                pose_to_homography(Pose().lerp(Pose(**end), t / (T - 1)), SIZE, SIZE)
                for t in range(T)
            ]
        )

    zoom_in, zoom_out, roll = path(zoom=1.4), path(zoom=1 / 1.4), path(roll=12)
    frames = _warped(zoom_in)
    result = metrics.camera_adherence(frames, zoom_in)
    assert result.direction_ok and result.magnitude_ratio == pytest.approx(1.0, abs=0.1)
    assert result.estimated[-1, 3] == pytest.approx(math.log(1.4), abs=0.03)
    assert not metrics.camera_adherence(frames, zoom_out).direction_ok
    rolled = metrics.camera_adherence(_warped(roll), roll)
    assert rolled.direction_ok and rolled.estimated[-1, 2] == pytest.approx(-12, abs=0.5)


def test_camera_adherence_of_a_locked_off_shot():
    identity = np.tile(np.eye(3), (T, 1, 1))
    held = metrics.camera_adherence(_static(), identity)
    assert held.direction_ok and held.magnitude_ratio < 0.1
    drifted = metrics.camera_adherence(_pan(2, 1), identity)
    assert not drifted.direction_ok and drifted.magnitude_ratio > 5
    with pytest.raises(InvalidRequest):
        metrics.camera_adherence(_static(), identity[:3])


# ----------------------------------------------------------------------------- static brush


def _tree() -> np.ndarray:
    """A static region of the keyframe: a disc left of centre, soft at the edge."""
    mask = np.zeros((SIZE, SIZE), np.float32)
    cv2.circle(mask, (48, 64), 16, 1.0, -1, cv2.LINE_AA)
    return mask


def test_static_region_drift_is_zero_when_the_region_moves_with_the_camera():
    pan = _requested_pan(2, 1)
    result = metrics.static_region_drift(_pan(2, 1), pan, _tree())
    assert result.mean == 0.0 and result.per_frame.shape == result.visible_fraction.shape == (T,)
    assert np.all(result.visible_fraction > 0.99) and not result.per_frame.flags.writeable
    zoom = np.stack(
        [pose_to_homography(Pose(zoom=1 + 0.3 * t / (T - 1)), SIZE, SIZE) for t in range(T)]
    )
    assert metrics.static_region_drift(_warped(zoom), zoom, _tree()).mean < 0.5
    held = metrics.static_region_drift(_static(), np.tile(np.eye(3), (T, 1, 1)), _tree())
    assert held.mean == 0.0


def test_static_region_drift_sees_a_region_pinned_to_the_screen_and_a_pumping_one():
    """A red disc painted static over a pan: carried with the scene, or left on the screen."""
    pan, steps = _requested_pan(2, 1), np.arange(T)[:, None]
    home, tree = np.array([48.0, 64.0]), _disc_mask(np.array([48.0, 64.0]))
    carried = _disc(home - steps * [2, 1], background=_pan(2, 1))
    pinned = _disc(np.repeat(home[None], T, 0), background=_pan(2, 1))
    assert metrics.static_region_drift(carried, pan, tree).mean < 0.5
    result = metrics.static_region_drift(pinned, pan, tree)
    assert result.mean > 30 and np.all(result.per_frame[1:] > 5)
    assert np.all(np.diff(result.per_frame[: T // 2]) > 0)  # the further it slid, the worse
    pumped = _pump(_static(), 8)
    locked = metrics.static_region_drift(pumped, np.tile(np.eye(3), (T, 1, 1)), _tree())
    assert locked.mean == pytest.approx(8.0 * (T // 2) / (T - 1), abs=0.3)  # every other frame


def test_static_region_drift_skips_frames_where_the_region_is_out_of_view():
    fast = _requested_pan(8, 0)  # the disc leaves on the left after about 8 frames
    frames = _warped(fast)
    result = metrics.static_region_drift(frames, fast, _tree())
    gone = result.visible_fraction == 0
    assert gone[-1] and not gone[:4].any() and np.isnan(result.per_frame[gone]).all()
    assert result.mean < 0.5
    with pytest.raises(InvalidRequest, match="static region"):
        metrics.static_region_drift(frames, fast, np.zeros((SIZE, SIZE)))
    with pytest.raises(InvalidRequest, match="static region"):
        metrics.static_region_drift(frames, fast, _tree()[:10])
    with pytest.raises(InvalidRequest):
        metrics.static_region_drift(frames, fast[:3], _tree())


# ----------------------------------------------------------------------------- reconstruction


def test_psnr_of_identical_and_offset_frames():
    frames = _pan(2, 1)
    same = metrics.psnr(frames, frames)
    assert same.mean == metrics.PSNR_CAP_DB and np.all(same.per_frame == metrics.PSNR_CAP_DB)
    brighter = metrics.psnr(frames + np.uint8(10), frames)  # texture stays below 246: no wrap
    assert brighter.mean == pytest.approx(10 * math.log10(255**2 / 100), abs=1e-4)
    with pytest.raises(InvalidRequest):
        metrics.psnr(frames, frames[:, :64])


def test_ssim_drops_with_blur():
    frames = _pan(2, 1)
    assert metrics.ssim(frames, frames).mean == pytest.approx(1.0, abs=1e-6)

    def blurred(sigma: float) -> np.ndarray:
        return np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in frames])

    light, heavy = metrics.ssim(blurred(1.0), frames), metrics.ssim(blurred(2.5), frames)
    assert 0.5 < heavy.mean < light.mean < 0.99
    assert metrics.psnr(blurred(2.5), frames).mean < metrics.psnr(blurred(1.0), frames).mean
    one_bad = frames.copy()
    one_bad[3] = blurred(2.5)[3]
    per_frame = metrics.ssim(one_bad, frames).per_frame
    assert (
        per_frame.shape == (T,) and per_frame.argmin() == 3 and per_frame[0] == pytest.approx(1.0)
    )


# ----------------------------------------------------------------------------- the synthetic world


@lru_cache
def _world(seed: int):
    synth = pytest.importorskip("engine.synth")
    return synth.render_clip(seed, frames=T, size=SIZE)


def _travelling_object(clip):
    """The object that travels furthest among those visible throughout."""
    visible = [
        o for o in clip.objects if o.masks.sum((1, 2)).min() >= 0.7 * max(o.masks[0].sum(), 1)
    ]
    return max(visible, key=lambda o: float(np.linalg.norm(o.trajectory[-1] - o.trajectory[0])))


@pytest.mark.parametrize("seed", [1, 7])
def test_world_objects_follow_their_own_labels(seed):
    clip = _world(seed)
    obj = _travelling_object(clip)
    assert np.linalg.norm(obj.trajectory[-1] - obj.trajectory[0]) > 0.2 * SIZE  # a real test
    result = metrics.brush_adherence(clip.frames, obj.masks[0], obj.trajectory)
    assert result.mean_error_pct < 2.0
    backwards = metrics.brush_adherence(clip.frames[::-1].copy(), obj.masks[-1], obj.trajectory)
    assert backwards.mean_error_pct > 10.0 and backwards.mean_error_pct > 10 * result.mean_error_pct


@pytest.mark.parametrize("seed", [4, 6])  # a zoom-in and a roll: exact for any scene
def test_world_camera_follows_its_own_poses(seed):
    synth = pytest.importorskip("engine.synth")
    clip = _world(seed)
    requested = np.stack([pose_to_homography(p, SIZE, SIZE, synth.FOV_DEG) for p in clip.poses])
    result = metrics.camera_adherence(clip.frames, requested)
    assert result.direction_ok and result.direction_cosine > 0.95
    assert result.magnitude_ratio == pytest.approx(1.0, abs=0.2)
    backwards = metrics.camera_adherence(clip.frames[::-1].copy(), requested)
    assert not backwards.direction_ok and backwards.direction_cosine < -0.5
