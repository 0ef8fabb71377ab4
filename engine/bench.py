"""`kinema bench NAME`: speed figures measured side by side in one run, printed, never asserted.

Each benchmark returns a dict of figures and prints a readable table; timings take the
median of several runs after a warm-up so one slow run does not skew the number.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

SIZES = ((512, 512), (1280, 720))


def _median_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _sample_shot_controls(width: int, height: int, frames: int):
    """A shot like a user's: a textured keyframe, a dolly-in with pan, one brushed region."""
    import cv2

    from .camera import preset
    from .controls import compile_shot, reference_card
    from .motion import MotionStroke, TrajectoryPoint

    rng = np.random.default_rng(0)
    keyframe = reference_card(width, height)
    noise = cv2.GaussianBlur(rng.normal(0, 30, (height, width, 3)).astype(np.float32), (0, 0), 3)
    keyframe = np.clip(keyframe + noise, 0, 255).astype(np.uint8)
    mask = np.zeros((128, 128), np.float32)
    cv2.circle(mask, (40, 80), 18, 1.0, -1)
    stroke = MotionStroke(
        mask=mask,
        trajectory=[TrajectoryPoint(40 / 128, 80 / 128), TrajectoryPoint(0.8, 0.4)],
    )
    return lambda: compile_shot(
        preset("dolly-in", frames),
        [stroke],
        width=width,
        height=height,
        frames=frames,
        fps=24.0,
        keyframe=keyframe,
    )


def bench_previs(frames: int = 48) -> dict:
    """Previs: compiling the controls, then warping the frames, at each size."""
    from .previs import previs_video

    results = {}
    for width, height in SIZES:
        make = _sample_shot_controls(width, height, frames)
        compile_s = _median_time(make, repeats=3)
        controls = make()
        render_s = _median_time(
            lambda c=controls: previs_video(c.base_image(), c.homographies, c.fields()), repeats=3
        )
        total = compile_s + render_s
        results[f"{width}x{height}"] = {
            "frames": frames,
            "compile_ms": compile_s * 1e3,
            "render_ms": render_s * 1e3,
            "fps": frames / total,
        }
    print(f"previs, {frames} frames, one stroke + camera move (median of 3):")
    for size, r in results.items():
        print(
            f"  {size:>9s}: compile {r['compile_ms']:7.1f} ms + warp {r['render_ms']:7.1f} ms"
            f" = {r['fps']:7.1f} frames/s"
        )
    return results


def bench_controls() -> dict:
    """Compiling a shot's controls: time, peak and kept memory (tracemalloc), 3 strokes + a pan.

    Memory is what Python's allocation tracer sees while `compile_shot` runs (NumPy and
    OpenCV arrays included): the peak, and what the compiled controls keep afterwards. The
    dense size is what whole-clip flows and move masks at that size would take.
    """
    import tracemalloc

    from .models.conditioning import controls_from_shot
    from .models.pipeline import native_plan

    results = {}
    for width, height, frames in ((512, 512, 48), (1280, 720, 121)):
        make = _three_strokes_and_a_pan(width, height, frames)
        compile_s = _median_time(make, repeats=3)
        tracemalloc.start()
        controls = make()
        held, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        frame_s = _median_time(
            lambda c=controls, t=frames - 1: (c.flow(t), c.move_mask(t)), repeats=3
        )
        plan = native_plan(width, height, frames, controls.fps)

        def condition(c=controls, p=plan):
            native = c.resample(p.width, p.height, p.frames)
            return controls_from_shot(native, p.width // 8, p.height // 8)

        condition_s = _median_time(condition, repeats=3)
        dense = frames * height * width * (2 + 1) * 4  # flows (dx, dy) + move mask, float32
        results[f"{width}x{height}x{frames}"] = {
            "compile_ms": compile_s * 1e3,
            "peak_mib": peak / 2**20,
            "held_mib": held / 2**20,
            "dense_mib": dense / 2**20,
            "frame_ms": frame_s * 1e3,
            "conditioning_ms": condition_s * 1e3,
        }
    print(
        "shot controls, 3 strokes (2 moving, 1 static) + a pan (median of 3; memory by tracemalloc):"
    )
    for size, r in results.items():
        print(
            f"  {size:>12s}: compile {r['compile_ms']:6.1f} ms, peak {r['peak_mib']:6.1f} MiB, "
            f"held {r['held_mib']:5.2f} MiB (dense fields {r['dense_mib']:7.1f} MiB, "
            f"{r['dense_mib'] / max(r['held_mib'], 1e-6):5.0f}x); one frame {r['frame_ms']:5.1f} ms, "
            f"built-in conditioning {r['conditioning_ms']:5.1f} ms"
        )
    return results


def _three_strokes_and_a_pan(width: int, height: int, frames: int):
    """A keyframe at the output size, two moving strokes, one static, and a pan right."""
    import cv2

    from .camera import preset
    from .controls import compile_shot, reference_card
    from .motion import MotionStroke, TrajectoryPoint

    def disc(cx: float, cy: float, radius: float) -> np.ndarray:
        mask = np.zeros((256, 256), np.float32)
        cv2.circle(
            mask, (round(cx * 256), round(cy * 256)), round(radius * 256), 1.0, -1, cv2.LINE_AA
        )
        return mask

    point = TrajectoryPoint
    strokes = [
        MotionStroke(
            disc(0.25, 0.6, 0.1), trajectory=[point(0.25, 0.6), point(0.5, 0.5), point(0.75, 0.65)]
        ),
        MotionStroke(disc(0.6, 0.3, 0.08), trajectory=[point(0.6, 0.3), point(0.4, 0.2)]),
        MotionStroke(disc(0.8, 0.6, 0.12), kind="static"),
    ]
    keyframe = reference_card(width, height)
    camera = preset("pan-right", frames)
    size = dict(width=width, height=height, frames=frames, fps=24.0)
    return lambda: compile_shot(camera, strokes, keyframe=keyframe, **size)


def bench_media() -> dict:
    """Each delivery codec's encode speed at 720p and 1080p against the ffmpeg command line."""
    from .codec_bench import bench_media as run

    return run()


def bench_world() -> dict:
    """The procedural world's render speed on one core."""
    from .synth import bench_world as run

    return run()


def bench_vae() -> dict:
    """VAE encode + decode of a 17-frame 128x128 clip."""
    from .models.vae import bench_vae as run

    return run()


def bench_builtin() -> dict:
    """The shipped generator: time to make a 2 s clip against its duration, first preview."""
    from .models.speed import bench_builtin as run

    return run()


def bench_diffusers() -> dict:
    """Kinema's runner against a plain diffusers call on one tiny Wan, and a preview's cost."""
    from .backends.diffusers.bench import bench_diffusers as run

    return run()


def bench_farm() -> dict:
    """A sequence of shots on this machine's engine, then on 1 and 2 local Ray nodes."""
    from .farm.bench import bench_farm as run

    return run()


def bench_metrics() -> dict:
    """Each quality metric on a 17-frame 128x128 world clip (they run on every take)."""
    from . import metrics
    from .synth import render_clip

    clip = render_clip(seed=7, size=128, frames=17)
    frames = clip.frames
    runs = {
        "flicker": lambda: metrics.flicker(frames),
        "warp_error": lambda: metrics.warp_error(frames),
        "camera_motion": lambda: metrics.estimate_camera_motion(frames),
        "psnr+ssim": lambda: (metrics.psnr(frames, frames), metrics.ssim(frames, frames)),
    }
    results = {name: {"ms": _median_time(run, repeats=3) * 1e3} for name, run in runs.items()}
    print("metrics on 17 frames at 128x128 (median of 3):")
    for name, r in results.items():
        print(f"  {name:>14s}: {r['ms']:7.1f} ms")
    return results


def _studio_benchmark(function: str, **kwargs) -> Callable[[], dict]:
    """A benchmark of the studio, found by name at run time: the engine never imports it."""

    def run() -> dict:
        import importlib

        return getattr(importlib.import_module("studio.bench"), function)(**kwargs)

    run.__doc__ = f"studio.bench.{function}"
    return run


BENCHMARKS: dict[str, Callable[[], dict]] = {
    "previs": bench_previs,
    "controls": bench_controls,
    "media": bench_media,
    "world": bench_world,
    "vae": bench_vae,
    "builtin": bench_builtin,
    "diffusers": bench_diffusers,
    "metrics": bench_metrics,
    "farm": bench_farm,
    # the studio: worst event-loop stall while generating, 1080p60 playback, live previs drag
    "gui-stall": _studio_benchmark("bench_gui_stall"),
    "gui-stall-builtin": _studio_benchmark("bench_gui_stall", backend="builtin"),
    "viewer": _studio_benchmark("bench_viewer"),
    "previs-drag": _studio_benchmark("bench_previs_drag"),
}


def run_benchmarks(name: str) -> dict:
    names = list(BENCHMARKS) if name == "all" else [name]
    results = {}
    for bench_name in names:
        try:
            results[bench_name] = BENCHMARKS[bench_name]()
        except ModuleNotFoundError as error:
            print(f"{bench_name}: skipped ({error.name} is not available)")
    return results
