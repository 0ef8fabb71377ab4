"""The dual-clock steering of real models, checked exactly on tiny pipelines.

What the model sees is read at the transformer's input: the start latent, the latents in a
brushed region at the step where their guidance stops, static regions until their release,
and nothing of the guide at all when guide strength is 0.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("diffusers")

import torch  # noqa: E402

from engine.backends import CancelToken, Reporter  # noqa: E402
from engine.backends.diffusers import steering as steer  # noqa: E402
from engine.backends.diffusers.adapter import plan_request  # noqa: E402
from engine.backends.diffusers.runner import DiffusersRunner  # noqa: E402
from engine.camera import CameraPath, preset  # noqa: E402
from engine.controls import compile_shot  # noqa: E402
from engine.jobs import GenerationRequest  # noqa: E402
from engine.model_library import find_model  # noqa: E402
from engine.motion import MotionStroke, TrajectoryPoint  # noqa: E402

SIZE, FRAMES, FPS = 32, 9, 16.0


def keyframe() -> np.ndarray:
    rng = np.random.default_rng(3)
    image = np.full((SIZE, SIZE, 3), (90, 140, 60), np.uint8)
    image[8:20, 6:18] = (220, 40, 30)
    return np.clip(image + rng.integers(-12, 12, image.shape), 0, 255).astype(np.uint8)


def controls_for(strokes=(), camera=None, key=True, frames=FRAMES):
    return compile_shot(
        camera or CameraPath(), list(strokes), width=SIZE, height=SIZE, frames=frames, fps=FPS,
        keyframe=keyframe() if key else None, prompt="a red ball rolls",
    )  # fmt: skip


def move_stroke() -> MotionStroke:
    mask = np.zeros((SIZE, SIZE), np.float32)
    mask[8:20, 6:18] = 1.0
    return MotionStroke(
        mask=mask, trajectory=[TrajectoryPoint(12 / SIZE, 14 / SIZE), TrajectoryPoint(0.75, 0.5)]
    )


def static_stroke() -> MotionStroke:
    mask = np.zeros((SIZE, SIZE), np.float32)
    mask[20:32, 20:32] = 1.0
    return MotionStroke(mask=mask, kind="static")


def request(family: str, strength: float, steps: int = 6, seed: int = 4) -> GenerationRequest:
    return GenerationRequest(
        shot={}, width=SIZE, height=SIZE, frames=FRAMES, fps=FPS, backend=f"diffusers:{family}",
        steps=steps, guidance=4.0, guide_strength=strength, seed=seed, device="cpu",
    )  # fmt: skip


def quiet() -> tuple[Reporter, CancelToken]:
    token = CancelToken()
    return Reporter(lambda *a: None, lambda *a: None, lambda *a: None, token), token


class Inputs:
    """The transformer's inputs, step by step (the conditional pass of each step)."""

    def __init__(self, transformer) -> None:
        self.transformer = transformer
        self.latents: list[torch.Tensor] = []
        self.timesteps: list[torch.Tensor] = []

    def __enter__(self):
        forward = self.transformer.forward

        def spy(*args, **kwargs):
            hidden = kwargs.get("hidden_states", args[0] if args else None)
            self.latents.append(hidden[:1].detach().clone())
            self.timesteps.append(kwargs.get("timestep").detach().clone())
            return forward(*args, **kwargs)

        self.transformer.forward = spy
        return self

    def __exit__(self, *exc):
        del self.transformer.forward


@pytest.fixture
def runners(tiny_models):
    made = {}

    def get(family: str) -> DiffusersRunner:
        if family not in made:
            made[family] = DiffusersRunner(find_model(family))
            made[family].load("cpu")
        return made[family]

    return get


def run_spied(runner, req, controls, kind):
    """Generate, keeping the steering plan and the transformer's inputs per step."""
    plans = []
    original = runner.steering

    def keep(*args, **kwargs):
        plans.append(original(*args, **kwargs))
        return plans[-1]

    runner.steering = keep
    pipe = runner.pipeline(kind)
    try:
        with Inputs(pipe.transformer) as inputs:
            report, token = quiet()
            frames = runner.generate(req, controls, report, token)
    finally:
        del runner.steering
    # Wan runs the conditional and unconditional passes one after the other: keep one a step
    step_inputs = inputs.latents[:: 2 if runner.traits.family == "wan" else 1]
    return frames, plans[0] if plans else None, step_inputs, inputs.timesteps


@pytest.mark.parametrize("family,kind", [("wan", "t2v"), ("ltx", "i2v")])
def test_the_start_latent_is_the_guide_noised_to_the_weak_level(runners, family, kind):
    runner = runners(family)
    controls = controls_for([move_stroke()], preset("pan-right", FRAMES))
    _frames, plan, inputs, timesteps = run_spied(runner, request(family, 0.6), controls, kind)
    assert plan is not None and plan.skip > 0
    clocks = steer.clocks_for(0.6)
    assert plan.levels[0] <= clocks.start + 1e-6 < plan.levels[0] + 0.5
    model_plan = plan_request(runner.traits, SIZE, SIZE, FRAMES, FPS)
    first = runner.adapter.video_latents(runner._pipe, inputs[0], model_plan).float()
    expected = plan.start_latents()
    footprint = 1 - plan.hole_mask  # outside the holes, exactly the noised guide
    a, s = float(plan.alphas[0]), float(plan.sigmas[0])
    noised_guide = a * plan.guide + s * plan.noise
    if plan.keep_first:
        noised_guide[:, :, :1] = plan.guide[:, :, :1]
    assert torch.allclose(first, expected, atol=1e-5)
    assert torch.allclose(first * footprint, noised_guide * footprint, atol=1e-5)
    assert float(plan.hole_mask.sum()) > 0  # a pan leaves the keyframe behind on one side
    assert len(inputs) == 6 - plan.skip  # the dropped steps never ran


@pytest.mark.parametrize("family,kind", [("wan", "t2v"), ("ltx", "i2v")])
def test_brushed_regions_follow_the_guide_until_their_release(runners, family, kind):
    runner = runners(family)
    controls = controls_for([move_stroke()])
    _frames, plan, inputs, _t = run_spied(runner, request(family, 0.6, steps=10), controls, kind)
    model_plan = plan_request(runner.traits, SIZE, SIZE, FRAMES, FPS)
    seen = [runner.adapter.video_latents(runner._pipe, x, model_plan).float() for x in inputs]
    inside = (plan.move_mask >= 0.999).expand_as(plan.guide).clone()
    if plan.keep_first:
        inside[:, :, :1] = False
    assert inside.any()
    held_steps = [i for i in range(len(seen)) if plan.levels[i] > plan.clocks.move_release]
    assert 1 < len(held_steps) < len(seen)  # held for a while, then released
    last = held_steps[-1]  # the last step whose input is still held
    target = float(plan.alphas[last]) * plan.guide + float(plan.sigmas[last]) * plan.noise
    assert torch.allclose(seen[last][inside], target[inside], atol=1e-5)
    after = last + 1  # released: the model's own latents, no longer the guide's
    target_after = float(plan.alphas[after]) * plan.guide + float(plan.sigmas[after]) * plan.noise
    assert not torch.allclose(seen[after][inside], target_after[inside], atol=1e-3)


def test_static_regions_are_held_to_the_keyframe_until_their_later_release(runners):
    runner = runners("wan")
    controls = controls_for([static_stroke()])
    _frames, plan, inputs, _t = run_spied(runner, request("wan", 0.6, steps=12), controls, "t2v")
    model_plan = plan_request(runner.traits, SIZE, SIZE, FRAMES, FPS)
    seen = [runner.adapter.video_latents(runner._pipe, x, model_plan).float() for x in inputs]
    inside = (plan.static_mask >= 0.999).expand_as(plan.guide)
    assert inside.any() and float(plan.move_mask.max()) == 0
    # no camera: the static region's guide is the keyframe's own latents in every frame
    first_frame = plan.guide[:, :, :1].expand_as(plan.guide)
    assert torch.allclose(plan.guide[inside], first_frame[inside], atol=0.15)
    held = [i for i in range(len(seen)) if plan.levels[i] > plan.clocks.static_release]
    assert len(held) > len(seen) // 2  # held later than a moving stroke would be
    for i in held:
        target = float(plan.alphas[i]) * plan.guide + float(plan.sigmas[i]) * plan.noise
        assert torch.allclose(seen[i][inside], target[inside], atol=1e-5)


@pytest.mark.parametrize("family,kind", [("wan", "t2v"), ("ltx", "i2v"), ("cogvideox-i2v", "i2v")])
def test_guide_strength_zero_is_the_plain_pipeline(runners, family, kind):
    runner = runners(family)
    controls = controls_for([move_stroke()], preset("pan-right", FRAMES))
    if family.startswith("cog"):
        traits = runner.traits
        controls = controls_for([move_stroke()], preset("pan-right", traits.fixed_frames[0]),
                                frames=traits.fixed_frames[0])  # fmt: skip
        req = request(family, 0.0)
        req = GenerationRequest(**{**req.to_dict(), "frames": controls.frames, "fps": 8.0})
    else:
        req = request(family, 0.0)
    report, token = quiet()
    runner.generate(req, controls, report, token)
    steered_off = runner.last_latents.clone()
    pipe = runner.pipeline(kind)
    plan = plan_request(runner.traits, SIZE, SIZE, controls.frames, controls.fps)
    from PIL import Image

    kwargs = runner.adapter.call_kwargs(plan, image=Image.fromarray(controls.keyframe))
    if kind == "t2v":
        kwargs.pop("image", None)
    out = pipe(
        prompt=controls.prompt, negative_prompt=None, num_inference_steps=req.steps,
        guidance_scale=req.guidance, generator=torch.Generator("cpu").manual_seed(req.seed),
        output_type="latent", **kwargs,
    )  # fmt: skip
    plain = runner.adapter.video_latents(pipe, out.frames, plan)
    assert torch.equal(steered_off, plain)


def test_clocks_follow_guide_strength():
    weak, strong = steer.clocks_for(0.2), steer.clocks_for(0.9)
    assert weak.start > strong.start  # more strength: start closer to the guide
    assert weak.move_release > strong.move_release  # and hold brushed regions longer
    for clocks in (weak, strong):
        assert clocks.start > clocks.move_release > 0 and clocks.static_release > 0
    assert steer.clocks_for(0.0).start == 1.0
