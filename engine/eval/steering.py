"""Steering a real model by strokes and camera, measured on a small trained diffusers model.

The model is a small Wan 2.1 text-to-video folder (`--model`; by default the toy model in
`assets/models/toy-wan`, trained on the procedural world by `kinema train toy-wan --vae
builtin`; see its model card), run through Kinema's own diffusers runner exactly as a user's
Wan folder would be: a stock `WanPipeline` and `WanTransformer3DModel`, with the built-in
model's VAE behind `AutoencoderKLWan`'s interface, so objects come back as objects. Held-out
world seeds give the keyframe (the clip's first frame) and a moving object; the shot is set
up as a user would:

- brush: the object's first-frame region, dilated, with its path through the world clip.
  Made twice from the same keyframe guide, without the stroke and with it; the error is
  where the region went against the path (% of frame width; `metrics.brush_adherence`).
- camera: pan left and pan right on the same keyframe; the estimated image motion must have
  the requested sign (`metrics.camera_adherence`).
- static: a static stroke on the region under a pan; how still it stays in the scene once
  the camera's motion is undone (`metrics.static_region_drift`, 8-bit levels), against the
  same shot with the region left unpainted.
- speed: a step with steering against one without (the callback's holding of regions).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ..assets import ASSETS

TOY_WAN = ASSETS / "models" / "toy-wan"
SIZE, FRAMES, FPS = 128, 17, 16.0  # what the toy model was trained at
STRENGTH = 0.6


def _runner(folder: Path = TOY_WAN):
    from ..backends.diffusers.runner import DiffusersRunner
    from ..errors import ModelLoadError
    from ..model_library import read_entry

    entry = read_entry(folder)
    if entry.problem:
        raise ModelLoadError(entry.problem)
    runner = DiffusersRunner(entry)
    runner.load("cpu")
    return runner


def case(seed: int):
    """(clip, brushed object, stroke) for a held-out seed, or None when nothing moves."""
    from ..synth import render_clip
    from .builtin import moving_objects, painted_stroke

    clip = render_clip(seed, FRAMES, SIZE, FPS)
    movers = moving_objects(clip, min_area=12, min_travel=4.0)  # as the built-in eval
    if not movers:
        return None
    return clip, movers[0], painted_stroke(movers[0], FRAMES, SIZE, dilate=7)


def _generate(runner, clip, strokes=(), camera=None, strength=STRENGTH, seed=0, steps=12):
    from ..backends import CancelToken, Reporter
    from ..camera import CameraPath
    from ..controls import compile_shot
    from ..jobs import GenerationRequest

    controls = compile_shot(
        camera or CameraPath(), list(strokes), width=SIZE, height=SIZE, frames=FRAMES, fps=FPS,
        keyframe=clip.frames[0], prompt=clip.caption,
    )  # fmt: skip
    request = GenerationRequest(
        shot={}, width=SIZE, height=SIZE, frames=FRAMES, fps=FPS, backend="diffusers:toy-wan",
        steps=steps, guidance=3.0, guide_strength=strength, seed=seed, device="cpu",
    )  # fmt: skip
    marks = []
    token = CancelToken()
    report = Reporter(
        lambda step, total, msg: marks.append(time.perf_counter()) if msg == "steps" else None,
        lambda *a: None,
        lambda *a: None,
        token,
    )
    frames = runner.generate(request, controls, report, token)
    step_s = float(np.median(np.diff(marks))) if len(marks) > 2 else float("nan")
    return frames, controls, step_s


def evaluate(seeds=range(8), folder: Path = TOY_WAN, steps: int = 12) -> dict:
    """The figures of the module docstring over `seeds` (those with a moving object)."""
    from .. import metrics
    from ..camera import preset
    from ..motion import MotionStroke

    runner = _runner(folder)
    brush_without, brush_with, pans, drift_painted, drift_plain = [], [], [], [], []
    steps_plain, steps_steered = [], []
    used = []
    for seed in seeds:
        found = case(int(seed))
        if found is None:
            continue
        clip, target, stroke = found
        used.append(int(seed))
        mask = stroke.mask > 0.5
        path = target.trajectory
        without, _c, _s = _generate(runner, clip, seed=seed, steps=steps)
        with_stroke, _c, step_steered = _generate(runner, clip, [stroke], seed=seed, steps=steps)
        brush_without.append(metrics.brush_adherence(without, mask, path).mean_error_pct)
        brush_with.append(metrics.brush_adherence(with_stroke, mask, path).mean_error_pct)
        for name in ("pan-left", "pan-right"):
            frames, controls, _s = _generate(runner, clip, camera=preset(name, FRAMES), seed=seed,
                                             steps=steps)  # fmt: skip
            result = metrics.camera_adherence(frames, controls.homographies)
            pans.append(bool(result.direction_ok))
        static = MotionStroke(mask=stroke.mask, kind="static")
        pan = preset("pan-right", FRAMES)
        painted, controls, _s = _generate(runner, clip, [static], camera=pan, seed=seed,
                                          steps=steps)  # fmt: skip
        plain, _c, _s = _generate(runner, clip, camera=pan, seed=seed, steps=steps)
        homs = controls.homographies
        drift_painted.append(metrics.static_region_drift(painted, homs, stroke.mask).mean)
        drift_plain.append(metrics.static_region_drift(plain, homs, stroke.mask).mean)
        _f, _c, step_plain = _generate(runner, clip, strength=0.0, seed=seed, steps=steps)
        steps_plain.append(step_plain)
        steps_steered.append(step_steered)
    step_plain, step_steered = float(np.median(steps_plain)), float(np.median(steps_steered))
    return {
        "seeds": used,
        "brush_error_pct_without_stroke": float(np.mean(brush_without)),
        "brush_error_pct_with_stroke": float(np.mean(brush_with)),
        "brush_per_seed": list(zip(used, brush_without, brush_with)),
        "pan_direction_right_pct": 100.0 * float(np.mean(pans)),
        "static_drift_painted": float(np.mean(drift_painted)),
        "static_drift_unpainted": float(np.mean(drift_plain)),
        "step_ms_plain": step_plain * 1e3,
        "step_ms_steered": step_steered * 1e3,
        "steering_overhead_pct": 100.0 * (step_steered - step_plain) / step_plain,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", type=int, default=8, help="held-out world seeds 0..N-1 (8)")
    parser.add_argument("--steps", type=int, default=12, help="denoising steps (12)")
    parser.add_argument("--model", type=Path, default=TOY_WAN, help="a Wan model folder")


def run(args: argparse.Namespace) -> int:
    """Steering of a real diffusers model by strokes, camera and static brush."""
    r = evaluate(range(args.seeds), args.model, args.steps)
    print(f"steering, toy Wan at {SIZE}x{SIZE}x{FRAMES}, guide strength {STRENGTH}, "
          f"{args.steps} steps, seeds {r['seeds']}:")  # fmt: skip
    print(
        f"  brush error without the stroke   {r['brush_error_pct_without_stroke']:6.2f} % of width"
    )
    print(f"  brush error with the stroke      {r['brush_error_pct_with_stroke']:6.2f} % of width")
    print(f"  pans in the requested direction  {r['pan_direction_right_pct']:6.1f} %")
    print(f"  static drift, painted / not      {r['static_drift_painted']:6.2f} / "
          f"{r['static_drift_unpainted']:.2f} levels")  # fmt: skip
    print(f"  step without / with steering     {r['step_ms_plain']:6.1f} / {r['step_ms_steered']:.1f} ms "
          f"({r['steering_overhead_pct']:+.1f} %)")  # fmt: skip
    return 0
