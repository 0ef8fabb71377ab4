"""The causal video VAE: shapes, causality, streaming decode, weights on disk, training."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from engine.errors import InvalidRequest, ModelLoadError
from engine.models.vae import (
    CausalVideoVAE,
    VAEConfig,
    bench_vae,
    frames_to_tensor,
    latent_frames,
    preset,
    tensor_to_frames,
    video_frames,
)
from engine.train import vae as train_vae
from engine.train.vae import TrainOptions, VAETrainer


def _model(cfg: VAEConfig | None = None, seed: int = 0) -> CausalVideoVAE:
    """A tiny VAE with every weight random (the zero-initialised branches too), so that
    causality and streaming are tested through every layer."""
    torch.manual_seed(seed)
    model = CausalVideoVAE(cfg or preset("tiny")).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def _standin_clips(n: int, frames: int, size: int, seed: int = 0) -> np.ndarray:
    """Random smooth textures sliding across the frame: uint8 (n, T, size, size, 3)."""
    import cv2

    rng = np.random.default_rng(seed)
    clips = np.empty((n, frames, size, size, 3), np.uint8)
    for i in range(n):
        coarse = rng.uniform(0, 255, (4, 4, 3)).astype(np.float32)
        texture = cv2.resize(coarse, (2 * size, 2 * size), interpolation=cv2.INTER_CUBIC)
        dy, dx = rng.integers(-2, 3, 2)
        for t in range(frames):
            y, x = size // 2 + dy * t, size // 2 + dx * t
            clips[i, t] = texture[y : y + size, x : x + size]
    return clips


@pytest.mark.parametrize("frames", [1, 5, 9, 17])
@pytest.mark.parametrize("height,width", [(64, 64), (96, 128)])
def test_shape_round_trip(frames, height, width):
    model = _model()
    video = torch.rand(1, 3, frames, height, width) * 2 - 1
    with torch.inference_mode():
        latents = model.encode(video)
        assert latents.shape == (1, 4, latent_frames(frames), height // 8, width // 8)
        decoded = model.decode(latents)
    assert decoded.shape == (1, 3, frames, height, width)
    assert video_frames(latents.shape[2]) == frames


def test_bad_shapes_are_refused():
    model = _model()
    with pytest.raises(InvalidRequest, match="1 \\+ 4k frames"):
        model.encode(torch.zeros(1, 3, 4, 64, 64))
    with pytest.raises(InvalidRequest):
        model.encode(torch.zeros(1, 3, 5, 60, 64))
    with pytest.raises(InvalidRequest):
        model.decode(torch.zeros(1, 7, 2, 8, 8))


def test_encoder_and_decoder_are_causal():
    model = _model()
    video = torch.rand(2, 3, 17, 32, 32) * 2 - 1
    with torch.inference_mode():
        latents = model.encode(video)
        head = model.encode(video[:, :, :5])  # 1 + 4 frames -> 1 + 1 latents
        assert torch.allclose(head, latents[:, :, :2], atol=1e-5)
        changed = video.clone()
        changed[:, :, 9:] = 0  # the future changes; the past latents must not
        assert torch.allclose(model.encode(changed)[:, :, :3], latents[:, :, :3], atol=1e-5)
        assert torch.allclose(
            model.decode(latents[:, :, :2]), model.decode(latents)[:, :, :5], atol=1e-5
        )


@pytest.mark.parametrize("chunks", [[1, 1, 1, 1, 1], [2, 3], [1, 4], [3, 1, 1]])
def test_streaming_decode_matches_full_decode(chunks):
    model = _model()
    latents = torch.randn(2, 4, 5, 4, 4)
    with torch.inference_mode():
        full = model.decode(latents)
        stream = model.decoder_stream()
        parts, start = [], 0
        for size in chunks:
            part = stream.push(latents[:, :, start : start + size])
            assert part.shape[2] == video_frames(start + size) - (
                video_frames(start) if start else 0
            )
            parts.append(part)
            start += size
    assert torch.allclose(torch.cat(parts, 2), full, atol=1e-4)


def test_frames_tensor_helpers_round_trip():
    frames = np.random.default_rng(0).integers(0, 256, (5, 16, 24, 3), dtype=np.uint8)
    video = frames_to_tensor(frames)
    assert video.shape == (1, 3, 5, 16, 24) and video.min() >= -1 and video.max() <= 1
    np.testing.assert_array_equal(tensor_to_frames(video), frames)
    with pytest.raises(InvalidRequest):
        frames_to_tensor(frames.astype(np.float32))


def test_normalize_uses_the_stored_scaling():
    model = _model()
    mean, std = [0.5, -1.0, 0.0, 2.0], [2.0, 0.5, 1.0, 4.0]
    model.set_scaling(mean, std)
    latents = torch.randn(1, 4, 2, 3, 3) * torch.tensor(std).view(1, 4, 1, 1, 1)
    normalized = model.normalize(latents + torch.tensor(mean).view(1, 4, 1, 1, 1))
    assert torch.allclose(normalized * torch.tensor(std).view(1, 4, 1, 1, 1), latents, atol=1e-5)
    assert torch.allclose(model.denormalize(model.normalize(latents)), latents, atol=1e-5)
    assert model.cfg.latent_mean == tuple(mean)


def test_save_load_round_trip(tmp_path):
    model = _model()
    model.set_scaling([0.1, 0.2, 0.3, 0.4], [1.0, 2.0, 3.0, 4.0])
    path = tmp_path / "vae.safetensors"
    model.save(path, training={"steps": 3})
    assert json.loads(path.with_suffix(".json").read_text())["training"] == {"steps": 3}
    loaded = CausalVideoVAE.load(path)
    video = torch.rand(1, 3, 9, 32, 32) * 2 - 1
    with torch.inference_mode():
        assert torch.equal(loaded.decode(loaded.encode(video)), model.decode(model.encode(video)))
    assert loaded.cfg == model.cfg


def test_bad_weight_files_raise_model_load_error(tmp_path):
    path = tmp_path / "vae.safetensors"
    _model().save(path)
    bigger = preset("tiny")
    bigger.widths = (24, 32)
    with pytest.raises(ModelLoadError, match="wrong shape"):
        from engine.weights import load_module

        load_module(CausalVideoVAE(bigger), path)
    with pytest.raises(ModelLoadError, match="does not exist"):
        CausalVideoVAE.load(tmp_path / "missing.safetensors")
    path.write_bytes(b"not a safetensors file at all")
    with pytest.raises(ModelLoadError, match="damaged"):
        CausalVideoVAE.load(path)
    path.with_suffix(".json").write_text('{"latent_channels": 4, "colour": "blue"}')
    with pytest.raises(ModelLoadError, match="unknown settings"):
        CausalVideoVAE.load(path)


def _tiny_options(**kw) -> TrainOptions:
    base = dict(steps=40, batch=2, lr=3e-3, warmup=2, frames=5, size=32)
    return TrainOptions(**{**base, **kw})


def test_training_reduces_the_loss():
    torch.set_num_threads(2)
    trainer = VAETrainer(preset("tiny"), _tiny_options())
    clips = _standin_clips(8, 5, 32)
    losses = [trainer.train_step(clips[2 * (i % 4) : 2 * (i % 4) + 2])["loss"] for i in range(20)]
    assert np.mean(losses[-4:]) < 0.8 * np.mean(losses[:4])


def test_resume_reproduces_the_next_step(tmp_path):
    clips = _standin_clips(8, 5, 32, seed=1)
    first = VAETrainer(preset("tiny"), _tiny_options())
    for i in range(3):
        first.train_step(clips[2 * i : 2 * i + 2])
    first.save(tmp_path / "checkpoint.safetensors")
    expected = first.train_step(clips[6:8])
    torch.manual_seed(123)  # the global RNG is restored from the checkpoint too
    resumed = VAETrainer.load(tmp_path / "checkpoint.safetensors")
    assert resumed.step == 3
    got = resumed.train_step(clips[6:8])
    assert got["loss"] == pytest.approx(expected["loss"], rel=1e-6, abs=1e-7)


def test_cli_run_trains_resumes_and_exports(tmp_path):
    pytest.importorskip("engine.synth")
    parser = argparse.ArgumentParser()
    train_vae.add_arguments(parser)
    common = ["--out", str(tmp_path / "run"), "--device", "cpu", "--model-size", "tiny"]
    common += ["--batch", "2", "--frames", "5", "--size", "32", "--eval-clips", "2"]
    common += ["--log-every", "1", "--eval-every", "2", "--save-every", "2", "--scaling-clips", "4"]
    assert train_vae.run(parser.parse_args([*common, "--steps", "2"])) == 0
    with pytest.raises(InvalidRequest, match="--resume"):
        train_vae.run(parser.parse_args([*common, "--steps", "3"]))
    export = tmp_path / "export"
    args = parser.parse_args([*common, "--steps", "3", "--resume", "--export", str(export)])
    assert train_vae.run(args) == 0
    lines = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines if "loss" in line] == [1, 2, 3]
    assert any("heldout_psnr" in line for line in lines)
    model = CausalVideoVAE.load(export / "vae.safetensors")
    assert model.cfg.latent_std is not None and model.cfg.latent_channels == 4


def test_bench_reports_timings():
    result = bench_vae(frames=5, size=32, repeats=1, cfg=preset("tiny"))
    assert result["encode_decode_ms"] > 0 and result["params"] > 0


def test_training_and_inference_paths_agree():
    """CausalTimeMix runs a Conv3d when gradients are on and shifted 1x1 taps otherwise."""
    model = _model()
    video = torch.rand(2, 3, 9, 32, 32) * 2 - 1
    trained = model.decode(model.encode(video))
    with torch.inference_mode():
        inferred = model.decode(model.encode(video))
    assert torch.allclose(trained, inferred, atol=1e-4)


@pytest.mark.parametrize("how,code", [("sigterm", 143), ("ctrl-c", 130)])
def test_interrupted_run_saves_a_checkpoint_and_resumes(tmp_path, monkeypatch, how, code):
    import os
    import signal

    pytest.importorskip("engine.synth")
    parser = argparse.ArgumentParser()
    train_vae.add_arguments(parser)
    argv = ["--out", str(tmp_path), "--device", "cpu", "--model-size", "tiny", "--steps", "4"]
    argv += ["--batch", "1", "--frames", "5", "--size", "32", "--eval-clips", "1"]
    original = VAETrainer.train_step

    def interrupting(self, frames):
        stats = original(self, frames)
        if self.step == 2:
            if how == "sigterm":
                os.kill(os.getpid(), signal.SIGTERM)  # handled: the loop stops after this step
            else:
                raise KeyboardInterrupt
        return stats

    monkeypatch.setattr(VAETrainer, "train_step", interrupting)
    assert train_vae.run(parser.parse_args(argv)) == code
    assert VAETrainer.load(tmp_path / "checkpoint.safetensors").step == 2
    monkeypatch.setattr(VAETrainer, "train_step", original)
    assert train_vae.run(parser.parse_args([*argv, "--resume"])) == 0
    assert VAETrainer.load(tmp_path / "checkpoint.safetensors").step == 4
