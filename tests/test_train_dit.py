"""Training the generator: examples carry the controls a user would paint, noise levels cover
every task, and a run resumes where it stopped. Tiny sizes so it stays fast."""

from __future__ import annotations

import numpy as np
import torch

from engine.models.dit import preset as dit_preset
from engine.models.layout import LAYOUT_CHANNELS, layout_from_clip
from engine.models.vae import CausalVideoVAE
from engine.models.vae import preset as vae_preset
from engine.synth import render_clip
from engine.train.dit import DiTTrainer, ReplayBuffer, TrainOptions, example, noise_levels


def test_noise_levels_cover_text_image_and_extension_tasks():
    t = noise_levels(4000, 7, torch.Generator().manual_seed(0))
    assert t.shape == (4000, 7) and t.min() >= 0 and t.max() < 1
    clean = t == 0
    i2v = clean[:, 0] & ~clean[:, 1:].any(1)
    extension = clean[:, 0] & clean[:, 1]
    assert 0.15 < i2v.float().mean() < 0.3 and 0.05 < extension.float().mean() < 0.15
    # clean frames only ever come first: the model is never asked to fill in the past
    for row in clean[extension][:50]:
        k = int(row.sum())
        assert row[:k].all() and not row[k:].any()
    shared = (t == t[:, -1:]).all(1) & ~clean.any(1)
    assert 0.35 < shared.float().mean() < 0.55


def test_an_example_is_a_world_clip_with_its_controls_as_painted():
    a, b = example(1_000_123, frames=9, size=64), example(1_000_123, frames=9, size=64)
    assert a["frames"].shape == (9, 64, 64, 3) and a["caption"] == b["caption"]
    np.testing.assert_array_equal(a["controls"], b["controls"])
    c = a["controls"].astype(np.float32)
    assert c.shape == (8 + LAYOUT_CHANNELS, 3, 8, 8) and c[2].min() == 1  # camera labelled
    np.testing.assert_array_equal(  # followed by the clip's exact layout, as a plan gives it
        c[8:], layout_from_clip(render_clip(1_000_123, 9, 64), 8, 8).astype(np.float16)
    )
    assert example(1_000_123, frames=9, size=64, layout=False)["controls"].shape[0] == 8
    brushed = [example(s, frames=9, size=64)["controls"] for s in range(1_000_000, 1_000_012)]
    with_brush = [x for x in brushed if x[7].max() == 1]
    assert len(with_brush) >= 6  # most clips teach the brush
    for x in with_brush:
        assert x[5].max() > 0.3  # a painted region in the keyframe


def test_the_loss_weighs_the_objects_a_prompt_names_by_where_they_are():
    seed = 1_000_123
    cover = example(seed, frames=9, size=64)["objects"]
    clip = render_clip(seed, 9, 64)
    assert cover.shape == (3, 8, 8) and cover.dtype == np.uint8
    assert 0 < cover.mean() < 0.5  # objects are a small part of the frame
    for obj in clip.objects:  # every object's pixels in frame 0 sit on covered latent cells
        ys, xs = np.nonzero(obj.masks[0])
        assert cover[0, ys // 8, xs // 8].all()


def test_a_training_step_learns_and_a_run_resumes(tmp_path):
    torch.manual_seed(0)
    vae = CausalVideoVAE(vae_preset("tiny"))
    cfg = dit_preset("tiny")
    import dataclasses

    cfg = dataclasses.replace(cfg, latent_channels=vae.cfg.latent_channels)
    opts = TrainOptions(batch=4, frames=9, size=32, lr=1e-3, warmup=1, steps=10)
    trainer = DiTTrainer(cfg, opts, vae, "cpu")
    buffer = ReplayBuffer(8)
    frames = np.random.default_rng(0).integers(0, 255, (8, 9, 32, 32, 3), np.uint8)
    controls = torch.zeros(8, 8, 3, 4, 4)
    buffer.add(trainer.encode(frames), controls, ["a red ball rolls"] * 8)
    losses = [float(trainer.train_step(buffer)["loss"]) for _ in range(6)]
    assert all(np.isfinite(losses)) and trainer.step == 6
    assert losses[-1] < losses[0]
    ema = dict(trainer.ema.named_parameters())
    moved = [(p - ema[n]).abs().max() for n, p in trainer.model.named_parameters()]
    assert max(moved) > 0  # the exported average lags the live weights

    trainer.save(tmp_path / "checkpoint.safetensors")
    again = DiTTrainer.load(tmp_path / "checkpoint.safetensors", vae, "cpu")
    assert again.step == 6 and again.opts == opts
    for (n, p), q in zip(trainer.model.state_dict().items(), again.model.state_dict().values()):
        torch.testing.assert_close(p, q, msg=n)
