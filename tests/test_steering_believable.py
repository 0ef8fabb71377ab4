"""Steering a trained real diffusers model, judged the way a person would judge the take.

The toy Wan 2.1 in `assets/models/toy-wan` is a stock `WanPipeline` (its transformer trained
here on the procedural world, its VAE the built-in model's behind `AutoencoderKLWan`'s
interface), run through Kinema's diffusers runner as a user's Wan folder would be. On
held-out world clips the shot is set up as a user would: the clip's first frame is the
keyframe, a stroke is painted on its moving object along the object's real path, or a pan
is keyed. With the stroke the object's centroid must follow the path far better than
without it, and a pan must move the picture the way it was keyed.
"""

from __future__ import annotations

import pytest

pytest.importorskip("diffusers")

from engine import metrics  # noqa: E402
from engine.camera import preset  # noqa: E402
from engine.eval.steering import FRAMES, _generate, _runner, case  # noqa: E402

#: held-out world seeds 0..7, all with a moving object (training used seeds from 1,500,000 up)
SEEDS = range(8)
STEPS = 12  # as `kinema eval steering` and the model card


@pytest.fixture(scope="module")
def runner():
    return _runner()


@pytest.fixture(scope="module")
def cases():
    found = [case(seed) for seed in SEEDS]
    assert all(found), "every chosen seed has an object to brush"
    return found


def test_a_brushed_object_follows_its_stroke_far_better_than_without_it(runner, cases):
    """Measured when the model shipped: 17.8 % of width without the stroke, 6.1 % with it,
    better on all 8 seeds."""
    without, with_stroke = [], []
    for clip, target, stroke in cases:
        mask = stroke.mask > 0.5
        plain, _c, _s = _generate(runner, clip, steps=STEPS)
        steered, _c, _s = _generate(runner, clip, [stroke], steps=STEPS)
        without.append(metrics.brush_adherence(plain, mask, target.trajectory).mean_error_pct)
        with_stroke.append(metrics.brush_adherence(steered, mask, target.trajectory).mean_error_pct)
    mean_without = sum(without) / len(without)
    mean_with = sum(with_stroke) / len(with_stroke)
    assert mean_with < 0.5 * mean_without, (without, with_stroke)
    assert sum(w < o for w, o in zip(with_stroke, without)) >= len(cases) - 1


def test_a_keyed_pan_moves_the_picture_the_way_it_was_keyed(runner, cases):
    """Measured when the model shipped: 14 of 16 pans (88 %)."""
    right = 0
    for clip, _target, _stroke in cases:
        for move in ("pan-left", "pan-right"):
            frames, controls, _s = _generate(runner, clip, camera=preset(move, FRAMES), steps=STEPS)
            right += bool(metrics.camera_adherence(frames, controls.homographies).direction_ok)
    assert right >= 0.75 * 2 * len(cases)
