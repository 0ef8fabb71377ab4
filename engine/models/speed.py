"""`kinema bench builtin`: the shipped generator's speed against the clip's duration.

Every figure is a ratio, generation time / clip duration, so it reads the same on any
machine: below 1 the model is faster than real time. The shot is what the studio makes:
25 frames at 128x128 (2.08 s at 12 fps) with guidance, a pan and a stroke, previews
on as the viewer receives them. The busy-neighbour rows run the same passes while another
process keeps one core busy (a browser tab, an export), which is how a laptop is used.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from .pipeline import NATIVE_FPS, NATIVE_SIDE, WEIGHTS, BuiltinModel


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _spin(stop) -> None:  # a competing program: one core, busy, until told to stop
    while not stop.is_set():
        sum(range(10_000))


class BusyNeighbour:
    """A separate process keeping one core busy while the block runs."""

    def __enter__(self) -> BusyNeighbour:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._process = context.Process(target=_spin, args=(self._stop,), daemon=True)
        self._process.start()
        time.sleep(0.3)  # started and spinning
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()


class TimeSplit:
    """Where a generation's time goes: the generator's calls, VAE encodes and decodes, the
    previews' latents-to-colours map, and the rest (controls, guides, retiming), timed by
    wrapping the model's parts for the duration of the block."""

    def __init__(self, model: BuiltinModel) -> None:
        self.model = model
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def _timed(self, name: str, real: Callable) -> Callable:
        self.seconds[name], self.calls[name] = 0.0, 0

        def wrapped(*args, **kwargs):
            start = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start
                self.calls[name] += 1

        return wrapped

    def __enter__(self) -> TimeSplit:
        model = self.model
        model.dit.forward = self._timed("DiT", model.dit.forward)
        model.vae.encode = self._timed("encode", model.vae.encode)
        model.vae.decode = self._timed("decode", model.vae.decode)
        self._preview = model.preview
        model._preview = self._timed("preview map", self._preview)
        return self

    def __exit__(self, *exc) -> None:
        del self.model.dit.forward, self.model.vae.encode, self.model.vae.decode
        self.model._preview = self._preview

    def line(self, total: float) -> str:
        parts = [
            f"{name} {seconds * 1e3:.0f} ms {seconds / total:.0%} ({self.calls[name]})"
            for name, seconds in self.seconds.items()
            if self.calls[name]
        ]
        rest = total - sum(self.seconds.values())
        return ", ".join([*parts, f"other {rest * 1e3:.0f} ms {rest / total:.0%}"])


def _shot(frames: int, strokes: bool = True):
    from ..camera import preset
    from ..controls import compile_shot
    from ..motion import MotionStroke, TrajectoryPoint

    mask = np.zeros((NATIVE_SIDE, NATIVE_SIDE), np.float32)
    cv2.circle(mask, (40, 80), 12, 1.0, -1)
    path = [TrajectoryPoint(40 / 128, 80 / 128), TrajectoryPoint(0.75, 0.6)]
    size = dict(width=NATIVE_SIDE, height=NATIVE_SIDE, frames=frames, fps=NATIVE_FPS)
    painted = [MotionStroke(mask, trajectory=path)] if strokes else []
    return compile_shot(preset("pan-right", frames), painted, **size)


PROMPT = "a red ball rolls across the grass in daylight"


def bench_builtin(folder: str | Path = WEIGHTS, steps: int = 8, repeats: int = 3) -> dict:
    """Medians of `repeats` runs after a warm-up, quiet and beside a busy process."""
    from ..backends.builtin import plan_storyboard
    from ..storyboard import plan_prompt
    from ..threads import latest_threads

    model = BuiltinModel.load(folder)
    frames = 25
    shot = _shot(frames)
    seconds = frames / NATIVE_FPS
    plan = plan_prompt(PROMPT, 0, frames, NATIVE_FPS)
    planned = _shot(frames, strokes=False)
    layout, animatic = plan_storyboard({"plan": plan.to_dict()}, planned, planned)

    def run(previews: bool = True, controls=shot, **kwargs) -> tuple[float, float]:
        first: list[float] = []
        start = time.perf_counter()

        def on_preview(*_):
            if not first:
                first.append(time.perf_counter() - start)

        # no callback at all means no decodes: the sampler previews step 1 whenever asked to
        callback = on_preview if previews else None
        model.generate(PROMPT, controls, steps=steps, on_preview=callback, **kwargs)
        return time.perf_counter() - start, (first[0] if first else float("nan"))

    def median(**kwargs) -> dict:
        run(**kwargs)  # warm-up
        runs = [run(**kwargs) for _ in range(repeats)]
        total = float(np.median([r[0] for r in runs]))
        first = float(np.median([r[1] for r in runs]))
        return {"seconds": total, "realtime_ratio": total / seconds, "first_preview_s": first}

    studio = dict(guide_strength=0.6, sketch=True)
    plan_kwargs = dict(guide=animatic, guide_strength=0.6, layout=layout, controls=planned)
    cases: dict[str, Callable[[], dict]] = {
        "one pass, previews": lambda: median(),
        "drafted frame 0 + carried pass (studio)": lambda: median(**studio),
        "planned shot, guide + layout (studio)": lambda: median(**plan_kwargs),
        "one pass, no previews": lambda: median(previews=False),
    }
    results = {name: case() for name, case in cases.items()}
    results["streamed, 97 frames"] = _stream(model, steps)
    quiet_threads = latest_threads()
    with BusyNeighbour():
        for name in ("drafted frame 0 + carried pass (studio)", "one pass, no previews"):
            results[f"{name}, busy neighbour"] = cases[name]()
        busy_threads = latest_threads()
    print(f"built-in model, {steps} steps with guidance, 128x128 at 12 fps (clip {seconds:.2f} s):")
    for name, r in results.items():
        first = r["first_preview_s"]
        shown = "" if math.isnan(first) else f"  first preview {first * 1e3:4.0f} ms"
        label = "first chunk" if name.startswith("streamed") else "first preview"
        shown = shown.replace("first preview", label)
        print(f"  {name:>52s}: {r['seconds']:5.2f} s  ratio {r['realtime_ratio']:.2f}{shown}")
    print(
        f"  threads: {quiet_threads} quiet, {busy_threads} beside the busy process "
        "(the cores other programs leave free)"
    )
    print(f"  {_machine(model)}")
    print("where the time goes, one more run of each (calls in brackets):")
    splits = (("one pass, no previews", dict(previews=False)),
              ("drafted frame 0 + carried pass (studio)", studio),
              ("planned shot, guide + layout (studio)", plan_kwargs))  # fmt: skip
    for name, kwargs in splits:
        with TimeSplit(model) as split:
            total, _ = run(**kwargs)
        results[name]["split"] = dict(split.seconds)
        print(f"  {name}: {total * 1e3:.0f} ms: {split.line(total)}")
    return results


def _machine(model: BuiltinModel) -> str:
    """What the figures were taken on: torch's vector unit in use, and the generator's
    branches a step (a guidance-folded generator runs one)."""
    import torch

    folded = model.dit.cfg.folded_guidance
    branches = (
        f"guidance folded in ({folded[0]:g}-{folded[1]:g}), one branch a step"
        if folded
        else ("classifier-free guidance, two branches a step")
    )
    return f"torch {torch.__version__}, CPU kernels {torch.backends.cpu.get_cpu_capability()}; {branches}"


def _stream(model: BuiltinModel, steps: int) -> dict:
    long = _shot(97, strokes=False)
    marks: list[float] = []
    start = time.perf_counter()
    model.stream(PROMPT, long, steps=steps, on_frames=lambda *_: marks.append(time.perf_counter()))
    total = time.perf_counter() - start
    return {
        "seconds": total,
        "realtime_ratio": total / (97 / NATIVE_FPS),
        "first_preview_s": marks[0] - start,
    }


def bench_against(other: str | Path, folder: str | Path = WEIGHTS, steps: int = 8, rounds: int = 5):
    """The studio's pass (a planned-style shot: guide and layout given when the weights read
    one) with two sets of weights, alternating run by run in one process, so a machine whose
    speed drifts from hour to hour cannot decide the ratio. Medians of `rounds`."""
    from ..camera import preset
    from ..controls import compile_shot
    from .layout import LAYOUT_CHANNELS

    models = {"shipped": BuiltinModel.load(folder), "other": BuiltinModel.load(other)}
    size = dict(width=NATIVE_SIDE, height=NATIVE_SIDE, frames=25, fps=NATIVE_FPS)
    shot = compile_shot(preset("pan-right", 25), [], **size)
    layout = np.zeros((LAYOUT_CHANNELS, 7, NATIVE_SIDE // 8, NATIVE_SIDE // 8), np.float32)
    guide = shot.guide

    def run(model: BuiltinModel) -> float:
        with_layout = layout if model.dit.cfg.layout_channels else None
        return timed(
            lambda: model.generate(
                PROMPT, shot, steps=steps, guide=guide, guide_strength=0.6, layout=with_layout
            )
        )

    for model in models.values():
        run(model)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            times[name].append(run(model))
    result = {name: float(np.median(t)) for name, t in times.items()}
    result["ratio"] = result["other"] / result["shipped"]
    print(f"built-in pass, {steps} steps, 25 frames at 128x128, alternating, median of {rounds}:")
    print(f"  shipped {folder}: {result['shipped']:.3f} s")
    print(f"  other   {other}: {result['other']:.3f} s")
    print(f"  ratio other / shipped: {result['ratio']:.3f}")
    return result
