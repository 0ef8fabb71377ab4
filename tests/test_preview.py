"""The instant first preview: latents to colours by a fitted linear map, no VAE decode."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from engine.assets import BUILTIN_WEIGHTS
from engine.metrics import psnr
from engine.models.preview import fit_preview, load_preview, save_preview
from engine.models.vae import CausalVideoVAE, frames_to_tensor
from engine.models.vae import preset as vae_preset
from engine.synth import render_clip

SHIPPED_VAE = BUILTIN_WEIGHTS / "vae.safetensors"
needs_vae = pytest.mark.skipif(not SHIPPED_VAE.is_file(), reason="no shipped VAE")


@needs_vae
def test_the_shipped_map_shows_held_out_clips_better_than_their_average_colour():
    vae = CausalVideoVAE.load(SHIPPED_VAE)
    preview = load_preview(BUILTIN_WEIGHTS)
    assert preview is not None  # stored for this very VAE, so nothing is fitted at load
    gains = []
    for seed in range(6):
        clip = render_clip(seed, 25, 128)
        with torch.no_grad():
            latents = vae.normalize(vae.encode(frames_to_tensor(clip.frames)))
        frames = preview(latents)
        assert frames.shape == clip.frames.shape and frames.dtype == np.uint8
        flat = np.broadcast_to(clip.frames.mean(axis=(0, 1, 2)).astype(np.uint8), frames.shape)
        gains.append(psnr(frames, clip.frames).mean - psnr(flat, clip.frames).mean)
        # frames stay in order: each is nearer its own frame than the clip played backwards
        backwards = psnr(frames, clip.frames[::-1]).mean
        assert psnr(frames, clip.frames).mean > backwards, seed
    assert min(gains) > 1 and np.mean(gains) > 2.5  # layout and colours, not a grey wash


def test_a_map_fitted_to_another_vae_is_not_used(tmp_path):
    torch.manual_seed(0)
    vae = CausalVideoVAE(vae_preset("tiny"))
    vae.save(tmp_path / "vae.safetensors")
    save_preview(fit_preview(vae, seeds=range(2), frames=5, size=32), tmp_path)
    assert load_preview(tmp_path) is not None
    other = tmp_path / "other"
    other.mkdir()
    torch.manual_seed(1)
    CausalVideoVAE(vae_preset("tiny")).save(other / "vae.safetensors")
    shutil.copy(tmp_path / "preview.safetensors", other / "preview.safetensors")
    assert load_preview(other) is None  # the model fits its own instead
