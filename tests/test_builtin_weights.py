"""The shipped generator weights, end to end: what a user sees on first launch.

Everything else about the generator is tested on tiny random weights; these are the tests that
the trained model itself does what the studio promises, made the way Generate makes them:
the prompt names a red ball, a stroke painted on the left drags it to the right, and the clip
shows a red object that goes where it was painted; and a prompt alone, planned into a
storyboard, gives its blue cube on sand at dusk.
"""

from __future__ import annotations

import numpy as np

from engine.eval.builtin import colour_mask
from engine.motion import MotionStroke, TrajectoryPoint
from engine.project import Project, Shot, ShotSettings

SIZE, FRAMES, FPS = 128, 25, 12.0


def disk(cx: float, cy: float, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    return ((xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2).astype(np.float32)


def centroid_x(mask: np.ndarray) -> float:
    return float(np.nonzero(mask)[1].mean()) / SIZE


def generate(shot: Shot) -> np.ndarray:
    """`shot` as the studio's Generate (and `kinema render`) makes it on the built-in model:
    planned first when bare, with the shot's default settings."""
    from engine.backends import create_backend
    from engine.render import generate_blocking, planned_for_render, request_for_shot

    project = Project(width=SIZE, height=SIZE, fps=FPS)
    shot.settings = ShotSettings(backend="builtin", steps=8, guidance=3.0)
    shot, _ = planned_for_render(project, shot, create_backend("builtin").capabilities())
    return generate_blocking([request_for_shot(project, shot)], device="cpu")[0]


def test_a_red_ball_follows_the_painted_stroke():
    start, end, y = 0.3, 0.7, 0.68
    path = [
        TrajectoryPoint(start + (end - start) * f / (FRAMES - 1), y, float(f))
        for f in range(0, FRAMES, 4)
    ]
    stroke = MotionStroke(mask=disk(start, y, 0.09), trajectory=path)
    shot = Shot(prompt="a red ball rolls across the grass in daylight", duration=FRAMES, seed=3)
    shot.strokes = [stroke]
    frames = generate(shot)
    assert frames.shape == (FRAMES, SIZE, SIZE, 3)

    red = colour_mask(frames, "red")
    area = red.reshape(FRAMES, -1).sum(1)
    assert (area >= 20).mean() >= 0.8, f"a red object in too few frames: red pixels {area}"
    first, last = centroid_x(red[:3].any(0)), centroid_x(red[-3:].any(0))
    assert abs(first - start) < 0.15, f"the red object starts at x={first:.2f}, not {start}"
    assert abs(last - end) < 0.15, f"the red object ends at x={last:.2f}, not near {end}"
    assert last - first > 0.2, "the red object did not travel along the stroke"


def test_a_blue_cube_slides_across_the_sand_at_dusk_from_the_prompt_alone():
    from engine.eval.scene_judge import scene_judge

    frames = generate(Shot(prompt="a blue cube slides across the sand at dusk", duration=FRAMES))
    judge = scene_judge()
    blue = colour_mask(frames, "blue").reshape(FRAMES, -1).sum(1)
    assert (blue >= 20).mean() >= 0.6, f"a blue object in too few frames: blue pixels {blue}"
    grounds = [judge.ground(frames[t : t + 1]) for t in range(FRAMES)]
    assert grounds.count("sand") >= FRAMES // 2 + 1, f"the ground reads as {grounds}"
    assert judge.sky(frames) == "dusk"
