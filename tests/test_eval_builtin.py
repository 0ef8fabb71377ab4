"""`kinema eval builtin`'s summary: the figures a model card quotes, on known records."""

from __future__ import annotations

import pytest

from engine.eval.builtin import summarise


def _record(seed, ratio, world_ratio, ok=True, prompt_ok=True):
    return {
        "seed": seed,
        "seconds": 25 / 24,  # half of the 25 frames at 12 fps
        "prompt_ok": prompt_ok,
        "camera_ok": ok,
        "camera_ratio": ratio,
        "world_camera_ok": True,
        "world_camera_ratio": world_ratio,
        "camera_ratio_to_world": ratio / world_ratio,
        "flicker_ratio": 1.5,
        "warp_ratio": 2.5,
    }


def test_camera_magnitude_is_judged_against_the_request_and_the_worlds_own_reading():
    records = [
        _record(0, 1.0, 1.0),  # right on both counts
        _record(1, 0.3, 0.3),  # the estimator reads even the world's clip short: fair to both
        _record(2, 0.5, 1.0),  # the generator moved half as far: wrong on both
        _record(3, 1.1, 1.0, ok=False, prompt_ok=False),  # wrong way: no magnitude to judge
    ]
    s = summarise(records)
    assert s["camera_direction_ok"] == 0.75 and s["prompt_adherence"] == 0.75
    assert s["camera_magnitude_within_25pct"] == pytest.approx(1 / 3)
    assert s["camera_magnitude_within_25pct_of_world"] == pytest.approx(2 / 3)
    assert s["world_camera_magnitude_within_25pct"] == pytest.approx(3 / 4)
    assert s["realtime_ratio"] == pytest.approx(0.5)
