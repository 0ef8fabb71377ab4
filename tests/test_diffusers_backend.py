"""Real models through the real Engine, on tiny diffusers pipelines built from config.

Each family (Wan 2.1 T2V and I2V, Wan 2.2 two-expert, LTX-Video, CogVideoX T2V and I2V) is
saved to a temporary folder in the diffusers layout, found as the user's model folder and
run on the CPU in well under a second a job: events in order, a preview of the clean
estimate every step, cancel within a step with no decode, out-of-memory paths, seeds.
"""

from __future__ import annotations

import dataclasses
import queue

import numpy as np
import pytest

pytest.importorskip("diffusers")

import torch  # noqa: E402

from engine.backends.diffusers.adapter import plan_request  # noqa: E402
from engine.jobs import (  # noqa: E402
    GenerationRequest,
    JobCancelled,
    JobFailed,
    JobFinished,
    JobPreview,
    JobProgress,
    JobQueued,
    JobStarted,
    new_job_id,
)
from engine.project import Shot  # noqa: E402
from engine.worker import Engine  # noqa: E402

T2V = ("wan", "wan22", "ltx", "cogvideox")
I2V = ("wan-i2v", "ltx", "cogvideox-i2v")
TERMINAL = (JobFinished, JobFailed, JobCancelled)


class Recorder:
    """An engine and the events it sent, with a way to wait for one job's end."""

    def __init__(self) -> None:
        self.events: queue.Queue = queue.Queue()
        self.engine = Engine(self.events.put, device="cpu")

    def run(self, request: GenerationRequest, on_event=None, timeout: float = 120) -> list:
        self.engine.submit(request)
        seen = []
        while True:
            event = self.events.get(timeout=timeout)
            if event.job_id != request.job_id:
                continue
            seen.append(event)
            if on_event is not None:
                on_event(event)
            if isinstance(event, TERMINAL):
                return seen

    def backend(self, name: str):
        return self.engine._backends[name]


@pytest.fixture
def recorder(tiny_models):
    rec = Recorder()
    yield rec
    rec.engine.shutdown()


def request_for(family: str, *, seed: int = 1, steps: int = 3, frames: int = 9, **shot_fields):
    shot = Shot(prompt="a red ball rolls across the sand", duration=frames, **shot_fields)
    return GenerationRequest(
        shot=shot.to_dict(),
        width=32,
        height=32,
        frames=frames,
        fps=16.0 if not family.startswith("cog") else 8.0,
        backend=f"diffusers:{family}",
        steps=steps,
        guidance=4.0,
        seed=seed,
        device="cpu",
    )


def keyframe_request(tmp_path, family: str, image: np.ndarray, **kwargs) -> GenerationRequest:
    import cv2

    (tmp_path / "media").mkdir(exist_ok=True)
    cv2.imwrite(str(tmp_path / "media" / "key.png"), image[..., ::-1])
    request = request_for(family, keyframe="media/key.png", **kwargs)
    return dataclasses.replace(request, project_dir=str(tmp_path))


def test_every_family_is_found_with_its_capabilities(tiny_models):
    from engine.backends import backend_names, create_backend

    names = backend_names()
    for family in ("wan", "wan-i2v", "wan22", "ltx", "cogvideox", "cogvideox-i2v"):
        assert f"diffusers:{family}" in names
    caps = {n: create_backend(n).capabilities() for n in names if n.startswith("diffusers:")}
    assert not any(c.unavailable for c in caps.values())
    assert caps["diffusers:wan"].frame_rule == "4k+1 frames at 16 fps"
    assert not caps["diffusers:wan"].keyframe and caps["diffusers:wan-i2v"].keyframe
    # Wan 2.1 I2V embeds one image's CLIP tokens, FLF2V two: only FLF2V takes a last image
    assert not caps["diffusers:wan-i2v"].last_frame and caps["diffusers:wan-flf2v"].last_frame
    assert caps["diffusers:wan22"].label.startswith("Wan 2.2")
    assert caps["diffusers:wan22"].default_steps == 40
    assert caps["diffusers:ltx"].keyframe  # one LTX transformer does T2V and I2V
    assert caps["diffusers:ltx"].frame_rule.endswith("at 25 fps")
    assert caps["diffusers:cogvideox"].frame_rule == "9 frames at 8 fps"  # sample_frames
    assert caps["diffusers:cogvideox"].default_guidance == 6.0


@pytest.mark.parametrize("family", T2V)
def test_text_to_video_events_in_order_with_a_preview_every_step(recorder, family):
    request = request_for(family, steps=3)
    events = recorder.run(request)
    kinds = [type(e) for e in events]
    assert kinds[0] is JobQueued and kinds[1] is JobStarted and kinds[-1] is JobFinished
    previews = [e for e in events if isinstance(e, JobPreview)]
    steps_previewed = [e.step for e in previews if not e.complete]
    assert steps_previewed == [1, 2, 3]
    assert previews[-1].complete
    progress = [e.step for e in events if isinstance(e, JobProgress)]
    assert progress == sorted(progress)
    finished = events[-1]
    assert finished.frames.shape == (9, 32, 32, 3) and finished.frames.dtype == np.uint8


def test_previews_show_the_clean_estimate_not_the_noisy_latents(recorder, monkeypatch):
    """The last step's estimate is the clean result (sigma reaches 0); the first step's
    preview is far closer to it than a preview of the noise that step started from."""
    from engine.backends.diffusers import runner as runner_module

    seen = {}
    original = runner_module.DenoisedTap.__exit__

    def keep(self, *exc):
        seen["tap"] = self
        return original(self, *exc)

    monkeypatch.setattr(runner_module.DenoisedTap, "__exit__", keep)
    request = request_for("ltx", steps=4)
    recorder.run(request)
    runner = recorder.backend(request.backend).runner
    preview_map = runner.preview_map()
    assert preview_map is not None
    # run again, recording the latents the callback sees and each preview
    latents_seen, previews = [], []
    pipe = runner._pipe
    step_callback = pipe.__class__.__call__

    def spy_call(self, *args, **kwargs):
        callback = kwargs["callback_on_step_end"]

        def wrapped(pipe_, i, t, tensors):
            latents_seen.append(tensors["latents"].clone())
            return callback(pipe_, i, t, tensors)

        kwargs["callback_on_step_end"] = wrapped
        return step_callback(self, *args, **kwargs)

    monkeypatch.setattr(pipe.__class__, "__call__", spy_call)
    events = recorder.run(request.rerun())
    previews = [
        e.frames.astype(float) for e in events if isinstance(e, JobPreview) and not e.complete
    ]
    plan = runner_module.plan_request(runner.traits, 32, 32, 9, 16.0)
    final = runner.adapter.video_latents(pipe, latents_seen[-1], plan)
    clean = preview_map(final, (32, 32)).astype(float)[: plan.keep]
    assert np.abs(previews[-1] - clean).mean() < 1.0
    noisy_start = runner.adapter.video_latents(pipe, latents_seen[0], plan)
    assert (
        np.abs(previews[0] - clean).mean()
        < np.abs(preview_map(noisy_start, (32, 32)).astype(float)[: plan.keep] - clean).mean()
    )


@pytest.mark.parametrize("family", ("wan", "ltx"))
def test_same_seed_same_frames_other_seed_other_frames(recorder, family):
    first = recorder.run(request_for(family, seed=7))[-1].frames
    again = recorder.run(request_for(family, seed=7))[-1].frames
    other = recorder.run(request_for(family, seed=8))[-1].frames
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_cancel_mid_run_stops_within_a_step_and_never_decodes(recorder):
    request = request_for("wan", steps=6)
    recorder.run(request_for("wan", steps=2))  # loaded and warm
    runner = recorder.backend(request.backend).runner
    pipe_before = runner._pipe
    decodes = runner.decodes
    vae_calls = []
    original_decode = pipe_before.vae.decode
    pipe_before.vae.decode = lambda *a, **k: vae_calls.append(1) or original_decode(*a, **k)
    transformer = pipe_before.transformer
    original_forward = transformer.forward
    calls = []

    def cancel_during_the_second_step(*args, **kwargs):
        # the user presses Cancel while step 2 runs: from the engine's own thread, so a busy
        # machine cannot let the tiny model finish before the click arrives
        calls.append(1)
        if len(calls) == 3:  # step 2 (with guidance each step calls it twice), or step 3
            recorder.engine.cancel(request.job_id)
        return original_forward(*args, **kwargs)

    transformer.forward = cancel_during_the_second_step
    try:
        events = recorder.run(request)
    finally:
        del pipe_before.vae.decode
        del transformer.forward
    assert isinstance(events[-1], JobCancelled)
    steps = [e.step for e in events if isinstance(e, JobProgress) and e.message == "steps"]
    assert max(steps) <= 3  # the step running when cancel came was the last
    assert not vae_calls and runner.decodes == decodes
    # the pipeline stays loaded and the next job runs
    assert isinstance(recorder.run(request_for("wan", steps=2))[-1], JobFinished)
    assert runner._pipe is pipe_before


def test_out_of_memory_while_sampling_fails_with_advice_and_the_engine_lives(recorder, monkeypatch):
    recorder.run(request_for("wan", steps=2))
    runner = recorder.backend("diffusers:wan").runner
    transformer = runner._pipe.transformer

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(transformer, "forward", oom)
    events = recorder.run(request_for("wan", steps=2))
    failed = events[-1]
    assert isinstance(failed, JobFailed) and failed.kind == "memory"
    assert "Ran out of memory while sampling" in failed.message
    assert "resolution" in failed.message
    monkeypatch.undo()
    assert recorder.engine.is_alive()
    assert isinstance(recorder.run(request_for("wan", steps=2))[-1], JobFinished)


def test_out_of_memory_in_the_decode_keeps_the_latents_for_decode_again(recorder):
    request = request_for("ltx", steps=3, seed=5)
    reference = recorder.run(request)[-1].frames
    runner = recorder.backend(request.backend).runner
    adapter = runner.adapter
    original = type(adapter).decode
    calls = {"decode": 0, "transformer": 0}

    def failing_decode(self, pipe, latents, generator=None):
        calls["decode"] += 1
        if not pipe.vae.use_tiling:
            raise torch.OutOfMemoryError("CUDA out of memory during decode")
        return original(self, pipe, latents, generator)

    transformer = runner._pipe.transformer
    forward = transformer.forward

    def counting_forward(*args, **kwargs):
        calls["transformer"] += 1
        return forward(*args, **kwargs)

    adapter.decode = failing_decode.__get__(adapter)
    transformer.forward = counting_forward
    try:
        failed = recorder.run(request.rerun())[-1]
        assert isinstance(failed, JobFailed) and failed.kind == "decode-memory"
        assert "Decode again" in failed.message
        sampled = calls["transformer"]
        assert sampled > 0
        again = dataclasses.replace(request, tiled_decode=True, job_id=new_job_id())
        done = recorder.run(again)[-1]
    finally:
        del adapter.decode
        del transformer.forward
    assert isinstance(done, JobFinished)
    assert calls["transformer"] == sampled  # no sampling the second time
    # the tiled decode of the kept latents is the clip the first run made (tiles do not
    # split a 32x32 clip, so it is the very same)
    assert np.array_equal(done.frames, reference)


@pytest.mark.parametrize("family", I2V)
def test_keyframe_becomes_frame_zero_of_an_image_to_video_take(recorder, tmp_path, family):
    rng = np.random.default_rng(0)
    key = np.zeros((32, 32, 3), np.uint8)
    key[:, :16] = (230, 40, 30)
    key[:, 16:] = (20, 60, 220)
    key = np.clip(key.astype(int) + rng.integers(-10, 10, key.shape), 0, 255).astype(np.uint8)
    request = keyframe_request(tmp_path, family, key)
    events = recorder.run(request)
    assert isinstance(events[-1], JobFinished), getattr(events[-1], "message", "")
    runner = recorder.backend(request.backend).runner
    assert type(runner._pipe).__name__.endswith(("ImageToVideoPipeline",))
    assert events[-1].frames.shape == (9, 32, 32, 3)
    latents = runner.last_latents.clone()
    other = keyframe_request(tmp_path, family, key[:, ::-1].copy())
    recorder.run(other)
    # the keyframe reaches the model (tiny random VAEs decode almost any latents to the
    # same grey, so this is judged on the latents)
    assert (latents - runner.last_latents).abs().mean() > 1e-3
    if family == "ltx":
        # LTX keeps the keyframe's latent frame clean: what it starts as (the keyframe's
        # encoding, a posterior sample) is what it ends as, untouched by the sampler. (A
        # tiny random VAE's posterior is too wide to compare the encoding itself.)
        starts = []
        pipe = runner._pipe
        prepare = type(pipe).prepare_latents

        def spy(self, *args, **kwargs):
            out = prepare(self, *args, **kwargs)
            starts.append(out[0].clone())
            return out

        type(pipe).prepare_latents = spy
        try:
            recorder.run(request.rerun())
        finally:
            type(pipe).prepare_latents = prepare
        plan = plan_request(runner.traits, 32, 32, 9, 16.0)
        start = runner.adapter.video_latents(pipe, starts[0], plan)
        assert torch.equal(runner.last_latents[:, :, 0], start[:, :, 0].to(latents.dtype))


def test_an_image_to_video_model_without_a_keyframe_says_so(recorder):
    failed = recorder.run(request_for("wan-i2v"))[-1]
    assert isinstance(failed, JobFailed)
    assert "image-to-video model: give the shot a keyframe" in failed.message


def test_a_shot_longer_than_the_model_makes_is_refused_in_seconds(recorder):
    failed = recorder.run(request_for("cogvideox", frames=48))[-1]
    assert isinstance(failed, JobFailed)
    assert "makes clips of up to 1.1 seconds; this shot is 6.0 s" in failed.message


def test_longer_shots_are_made_at_the_native_rate_and_retimed(recorder):
    """A 24-frame shot at 24 fps is one second: Wan makes 17 frames at 16 fps (4k+1), keeps
    the 16 that cover the second, and the take has the shot's 24 frames."""
    request = dataclasses.replace(request_for("wan", frames=24), fps=24.0)
    finished = recorder.run(request)[-1]
    assert finished.frames.shape == (24, 32, 32, 3)
