"""A guidance-distilled generator: one branch a step, the guidance scale an input.

The student starts as its teacher's conditional branch, learns the teacher's guided velocity,
and is sampled with one model call a step inside the scales it was taught (two outside,
reached exactly from the range's ends), in whole clips and in streams alike.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from engine.errors import ModelLoadError
from engine.models.dit import DiTConfig, KVCache, VideoDiT
from engine.models.dit import preset as dit_preset
from engine.models.flow import Guidance, folded_velocity, guided_velocity, sample, sample_stream
from engine.models.vae import CausalVideoVAE
from engine.models.vae import preset as vae_preset
from engine.train.distil import GuidanceDistiller
from engine.train.dit import ReplayBuffer, TrainOptions


def _randomised(model: VideoDiT) -> VideoDiT:
    with torch.no_grad():  # random output weights, so outputs depend on the inputs
        for p in model.parameters():
            if p.abs().sum() == 0 and p.ndim == 2:
                p.normal_(0, 0.02)
    return model.eval()


@pytest.fixture(scope="module")
def teacher() -> VideoDiT:
    torch.manual_seed(0)
    return _randomised(VideoDiT(dit_preset("tiny")))


def _student(teacher: VideoDiT, folded=(1.0, 6.0)) -> VideoDiT:
    student = VideoDiT(dataclasses.replace(teacher.cfg, folded_guidance=folded))
    own = student.state_dict()
    own.update(teacher.state_dict())
    student.load_state_dict(own)
    return student.eval()


def _inputs(frames=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 16, frames, 4, 4, generator=g)
    t = torch.rand(1, frames, generator=g)
    c = torch.randn(1, 8, frames, 4, 4, generator=g)
    return x, t, c


class _Counting:
    """Counts the rows of every call to the model it wraps."""

    def __init__(self, model):
        self.model, self.cfg, self.rows = model, model.cfg, []

    def __call__(self, x, *args, **kwargs):
        self.rows.append(x.shape[0])
        return self.model(x, *args, **kwargs)


@torch.no_grad()
def test_a_student_starts_as_its_teachers_conditional_branch(teacher):
    student = _student(teacher)
    text = teacher.encode_text(["a red ball rolls"])
    x, t, c = _inputs()
    expected = teacher(x, t, c, text)
    for scale in (1.0, 3.0, 6.0):
        got = student(x, t, c, student.encode_text(["a red ball rolls"]), guidance=scale)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)


@torch.no_grad()
def test_inside_its_range_a_step_is_one_call_outside_two_reached_exactly_from_the_ends(teacher):
    student = _student(teacher)
    with torch.no_grad():  # a student that has learnt something of the scale
        student.guidance_mlp[-1].weight.normal_(0, 0.05)
    text, null = student.encode_text(["a blue cube"]), student.encode_text([""])
    x, t, c = _inputs()
    counting = _Counting(student)
    inside = guided_velocity(counting, x, t, c, text, null, Guidance(3.0))
    assert counting.rows == [1]
    torch.testing.assert_close(inside, student(x, t, c, text, guidance=3.0))

    counting.rows.clear()
    outside = guided_velocity(counting, x, t, c, text, null, Guidance(9.0))
    assert counting.rows == [2]
    low, high = student(x, t, c, text, guidance=1.0), student(x, t, c, text, guidance=6.0)
    torch.testing.assert_close(outside, low + (9.0 - 1.0) / 5.0 * (high - low))
    assert (outside - inside).abs().max() > 1e-4  # the scale is honoured


@torch.no_grad()
def test_a_folded_model_samples_and_streams_at_one_call_a_step(teacher):
    student = _student(teacher)
    with torch.no_grad():
        student.guidance_mlp[-1].weight.normal_(0, 0.05)
    text, null = student.encode_text(["a red ball"]), student.encode_text([""])
    noise = torch.randn(1, 16, 5, 4, 4, generator=torch.Generator().manual_seed(4))
    controls = torch.zeros(1, 8, 5, 4, 4)
    counting = _Counting(student)
    out = sample(counting, noise, controls, text, null, steps=4, guidance=Guidance(3.0))
    assert counting.rows == [1] * 4 and torch.isfinite(out).all()

    for scale in (3.0, 8.0):  # outside the range the cache holds both ends' keys
        chunks = list(
            sample_stream(student, noise, controls, text, null, steps=3,
                          guidance=Guidance(scale), given=noise[:, :, :1])
        )  # fmt: skip
        assert [c.shape[2] for _, c in chunks] == [1, 2, 2]
        assert all(torch.isfinite(c).all() for _, c in chunks)

    # a chunk streamed after cached frames is the chunk made whole with them, as for the teacher
    x, t, c = _inputs(frames=3)
    whole = folded_velocity(student, x, t, c, text, 3.0)
    cache = KVCache.empty(student.cfg.depth)
    first = folded_velocity(student, x[:, :, :2], t[:, :2], c[:, :, :2], text, 3.0, cache, True)
    rest = folded_velocity(student, x[:, :, 2:], t[:, 2:], c[:, :, 2:], text, 3.0, cache)
    torch.testing.assert_close(torch.cat([first, rest], 2), whole, atol=2e-5, rtol=1e-4)


def test_the_folded_range_is_saved_and_a_bad_one_refused(teacher, tmp_path):
    student = _student(teacher, folded=(1.0, 5.0))
    student.save(tmp_path / "dit.safetensors")
    again = VideoDiT.load(tmp_path / "dit.safetensors")
    assert again.cfg.folded_guidance == (1.0, 5.0)
    data = dict(teacher.cfg.to_dict(), folded_guidance=[4.0, 2.0])
    with pytest.raises(ModelLoadError, match="folded guidance"):
        DiTConfig.from_dict(data)


def test_distilling_brings_one_branch_to_the_teachers_guided_velocity(teacher, tmp_path):
    torch.manual_seed(0)
    vae = CausalVideoVAE(vae_preset("tiny"))
    cfg = dataclasses.replace(teacher.cfg, latent_channels=vae.cfg.latent_channels)
    teacher = _randomised(VideoDiT(cfg))
    opts = TrainOptions(batch=4, frames=9, size=32, lr=3e-3, warmup=1, steps=40, layout=False)
    trainer = GuidanceDistiller(
        dataclasses.replace(cfg, folded_guidance=(1.0, 6.0)), opts, vae, "cpu"
    )
    trainer.student_from(teacher)
    trainer.teacher, trainer.teacher_path = teacher.requires_grad_(False), "teacher.safetensors"
    buffer = ReplayBuffer(8)
    frames = np.random.default_rng(0).integers(0, 255, (8, 9, 32, 32, 3), np.uint8)
    controls = torch.randn(8, 8, 3, 4, 4)
    buffer.add(trainer.encode(frames), controls, ["a red ball rolls"] * 8)

    def gap() -> float:  # the student's one branch against the teacher's two, at scale 4
        g = torch.Generator().manual_seed(9)
        x = torch.randn(2, cfg.latent_channels, 3, 4, 4, generator=g)
        t, c = torch.rand(2, 3, generator=g), controls[:2]
        with torch.no_grad():
            batch = {"xt": x, "t": t, "controls": c, "prompts": ["a red ball rolls"] * 2}
            target = trainer.target(batch, torch.full((2,), 4.0))
            text = trainer.ema.encode_text(batch["prompts"])
            return float((trainer.ema(x, t, c, text, guidance=4.0) - target).pow(2).mean())

    before = gap()
    losses = [float(trainer.train_step(buffer)["loss"]) for _ in range(40)]
    assert all(np.isfinite(losses))
    assert gap() < 0.7 * before
    assert np.mean(losses[-10:]) < np.mean(losses[:10])

    trainer.save(tmp_path / "checkpoint.safetensors")
    again = GuidanceDistiller.load(tmp_path / "checkpoint.safetensors", vae, "cpu")
    assert again.step == 40 and again.model.cfg.folded_guidance == (1.0, 6.0)
    assert {"teacher": "teacher.safetensors"} in again.earlier

    # the student is shown the levels a pass steps through, pure noise included, where the
    # teacher's own training (logit-normal) almost never went; clean frames stay clean
    t = trainer.levels(4000, 7)
    given_frame0 = (t[:, 0] == 0) & (t[:, 1:] > 0).all(1)
    assert given_frame0.float().mean() > 0.1  # image-to-video examples kept
    assert (t == 1.0).any(1).float().mean() > 0.03
    assert (t > 0.9).any(1).float().mean() > 0.1


def test_the_command_line_refuses_a_teacher_that_is_folded_already(teacher, tmp_path):
    from engine.cli import main

    student = _student(teacher)
    student.save(tmp_path / "dit.safetensors")
    code = main(["train", "distil", "--teacher", str(tmp_path / "dit.safetensors"),
                 "--out", str(tmp_path / "run")])  # fmt: skip
    assert code == 2
