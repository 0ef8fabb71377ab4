"""The shipped generator weights, end to end: what a user sees on first launch.

Everything else about the generator is tested on tiny random weights; this is the one test
that the trained model itself does what the studio promises: the prompt names a red ball, a
stroke painted on the left drags it to the right, and the clip shows a red object that goes
where it was painted.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.camera import CameraPath
from engine.controls import compile_shot
from engine.eval.builtin import colour_mask
from engine.models.pipeline import BuiltinModel
from engine.motion import MotionStroke, TrajectoryPoint

SIZE, FRAMES, FPS = 128, 25, 12.0


@pytest.fixture(scope="module")
def model() -> BuiltinModel:
    torch.set_num_threads(2)
    return BuiltinModel.load()


def disk(cx: float, cy: float, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    return ((xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2).astype(np.float32)


def centroid_x(mask: np.ndarray) -> float:
    return float(np.nonzero(mask)[1].mean()) / SIZE


@pytest.mark.xfail(
    strict=True,  # when a better-trained model passes, this marker must go
    reason="the shipped generator (9,624 CPU steps over two runs) makes no red object here, and "
    "in the studio's drafted mode loses it after two frames; see the model card",
)
def test_a_red_ball_follows_the_painted_stroke(model):
    start, end, y = 0.3, 0.7, 0.68
    path = [
        TrajectoryPoint(start + (end - start) * f / (FRAMES - 1), y, float(f))
        for f in range(0, FRAMES, 4)
    ]
    stroke = MotionStroke(mask=disk(start, y, 0.09), trajectory=path)
    controls = compile_shot(CameraPath(), [stroke], width=SIZE, height=SIZE, frames=FRAMES, fps=FPS)
    frames = model.generate(
        "a red ball rolls across the grass in daylight", controls, steps=8, seed=3
    )
    assert frames.shape == (FRAMES, SIZE, SIZE, 3)

    red = colour_mask(frames, "red")
    area = red.reshape(FRAMES, -1).sum(1)
    assert (area >= 20).mean() >= 0.8, f"a red object in too few frames: red pixels {area}"
    first, last = centroid_x(red[:3].any(0)), centroid_x(red[-3:].any(0))
    assert abs(first - start) < 0.15, f"the red object starts at x={first:.2f}, not {start}"
    assert abs(last - end) < 0.15, f"the red object ends at x={last:.2f}, not near {end}"
    assert last - first > 0.2, "the red object did not travel along the stroke"
