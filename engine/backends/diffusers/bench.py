"""`kinema bench diffusers`: what Kinema's runner costs over a plain diffusers call.

On one tiny Wan model, sized so a sampling step takes well over 50 ms on a laptop CPU, in
one run, alternating so both see the same machine. 20 steps, so sampling outweighs the
tiny VAE's decode as it does for a real model (a toy VAE's decode at 256x256x33 takes about
as long as 13 of its steps, and its run-to-run jitter would hide the runner's own cost):
- a plain `pipe(...)` with the same steps, guidance and size, decoding to frames;
- Kinema's runner on the same request: planning, a preview every step, its own decode, the
  retiming to the shot (overhead goal: 3 % or less);
- one preview alone (the clean estimate through the linear colour map) against one step
  (goal: 2 % of a step or less).
On a CUDA machine it also runs a larger random transformer at 480p and reports step time,
preview cost and peak memory against the prediction.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path


def _median(times: list[float]) -> float:
    return statistics.median(times)


def _setup(folder: Path, width: int, device: str):
    from ...model_library import read_entry
    from .runner import DiffusersRunner
    from .tiny import save_tiny_pipeline

    save_tiny_pipeline("wan", folder, width=width)
    runner = DiffusersRunner(read_entry(folder))
    runner.load(device)
    runner.preview_map()  # fitted once, outside the timings
    return runner


def _request(width: int, height: int, frames: int, steps: int, device: str):
    from ...camera import CameraPath
    from ...controls import compile_shot
    from ...jobs import GenerationRequest
    from ...project import Shot

    prompt = "a red ball rolls across the sand"
    shot = Shot(prompt=prompt, duration=frames)
    request = GenerationRequest(
        shot=shot.to_dict(), width=width, height=height, frames=frames, fps=16.0,
        backend="diffusers:bench", steps=steps, guidance=5.0, seed=0, device=device,
    )  # fmt: skip
    controls = compile_shot(
        CameraPath(), [], width=width, height=height, frames=frames, fps=16.0, prompt=prompt
    )
    return request, controls


def measure(
    width: int = 256, height: int = 256, frames: int = 33, steps: int = 20, model_width: int = 192,
    repeats: int = 5, device: str = "cpu",
) -> dict:  # fmt: skip
    import torch

    from .. import CancelToken, Reporter
    from .adapter import plan_request

    with tempfile.TemporaryDirectory() as tmp:
        runner = _setup(Path(tmp) / "bench-wan", model_width, device)
        request, controls = _request(width, height, frames, steps, device)
        plan = plan_request(runner.traits, width, height, frames, 16.0)
        pipe = runner.pipeline("t2v")
        token = CancelToken()
        report = Reporter(lambda *a: None, lambda *a: None, lambda *a: None, token)
        step_times: list[float] = []

        def plain():
            marks = [time.perf_counter()]

            def mark(pipe_, i, t, tensors):
                marks.append(time.perf_counter())
                return {}

            pipe(
                prompt=controls.prompt, num_inference_steps=steps, guidance_scale=5.0,
                generator=torch.Generator("cpu").manual_seed(0), output_type="np",
                callback_on_step_end=mark, max_sequence_length=runner.adapter.max_sequence_length,
                **{k: v for k, v in runner.adapter.call_kwargs(plan).items()
                   if k in ("height", "width", "num_frames")},
            )  # fmt: skip
            step_times.extend(b - a for a, b in zip(marks[1:], marks[2:]))

        def kinema():
            runner.generate(request, controls, report, token)

        plain(), kinema()  # warm-up
        times = {"plain": [], "kinema": []}
        for _ in range(repeats):
            for name, run in (("plain", plain), ("kinema", kinema)):
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
        step = _median(step_times)
        # one preview: the clean estimate through the colour map at the preview size
        from .runner import _preview_size

        latent_frames = (plan.frames - 1) // runner.traits.temporal_ratio + 1
        shape = (1, runner.traits.latent_channels, latent_frames,
                 plan.height // runner.traits.spatial_ratio, plan.width // runner.traits.spatial_ratio)  # fmt: skip
        x0 = torch.randn(shape)
        preview = runner.preview_map()
        size = _preview_size(plan)
        preview_times = []
        for _ in range(20):
            start = time.perf_counter()
            frames_u8 = preview(runner.adapter.denoised_video(pipe, x0, x0, plan), size)
            preview_times.append(time.perf_counter() - start)
        del frames_u8
    plain_s, kinema_s = _median(times["plain"]), _median(times["kinema"])
    return {
        "size": f"{plan.width}x{plan.height}x{plan.frames}",
        "tokens": latent_frames * shape[3] * shape[4] // 4,
        "steps": steps,
        "plain_s": plain_s,
        "kinema_s": kinema_s,
        "overhead_pct": 100 * (kinema_s - plain_s) / plain_s,
        "repeats": repeats,
        # run-to-run spread of the plain call: an overhead smaller than this is noise
        "plain_spread_pct": 100 * (max(times["plain"]) - min(times["plain"])) / plain_s,
        "step_ms": step * 1e3,
        "preview_ms": _median(preview_times) * 1e3,
        "preview_pct_of_step": 100 * _median(preview_times) / step,
        "preview_map_psnr_db": preview.psnr_db,
    }


def bench_diffusers() -> dict:
    results = {"cpu": measure()}
    r = results["cpu"]
    print(
        f"diffusers runner on a tiny Wan ({r['size']}, {r['tokens']} tokens, {r['steps']} steps, "
        f"CPU, median of {r['repeats']}, alternating):"
    )
    print(f"  plain pipe(...)      {r['plain_s']:7.3f} s")
    print(
        f"  Kinema's runner      {r['kinema_s']:7.3f} s   overhead {r['overhead_pct']:+.1f} % (goal <= 3 %)"
    )
    print(f"  plain call's spread  {r['plain_spread_pct']:7.1f} % (max - min over the runs: noise)")
    print(f"  one step             {r['step_ms']:7.1f} ms")
    print(
        f"  one preview          {r['preview_ms']:7.2f} ms   {r['preview_pct_of_step']:.2f} % of a step "
        "(goal <= 2 %)"
    )
    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    if not cuda:
        print("  no CUDA device here: the 480p step time and peak memory need one")
        return results
    results["cuda"] = _cuda_480p()
    return results


def _cuda_480p() -> dict:
    """A larger random transformer at 480p on the GPU: step, preview and peak memory."""
    import torch

    from .adapter import plan_request
    from .memory import estimate

    r = measure(width=832, height=480, frames=33, steps=6, model_width=1024, repeats=1,
                device="cuda")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        runner = _setup(Path(tmp) / "bench-wan", 1024, "cuda")
        request, controls = _request(832, 480, 33, 6, "cuda")
        from .. import CancelToken, Reporter

        token = CancelToken()
        report = Reporter(lambda *a: None, lambda *a: None, lambda *a: None, token)
        torch.cuda.reset_peak_memory_stats()
        runner.generate(request, controls, report, token)
        peak = torch.cuda.max_memory_allocated()
        plan = plan_request(runner.traits, 832, 480, 33, 16.0)
        predicted = estimate(runner.entry, runner.traits, plan, weight_bytes=2).peaks["gpu"]
    r.update(peak_gb=peak / 1024**3, predicted_gb=predicted / 1024**3)
    print(f"CUDA, 480p, random transformer of width 1024 ({r['size']}):")
    print(f"  one step {r['step_ms']:.1f} ms, one preview {r['preview_ms']:.2f} ms "
          f"({r['preview_pct_of_step']:.2f} %), overhead {r['overhead_pct']:+.1f} %")  # fmt: skip
    print(f"  peak memory {r['peak_gb']:.2f} GB, predicted {r['predicted_gb']:.2f} GB")
    return r
