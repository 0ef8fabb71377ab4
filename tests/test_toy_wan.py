"""The trained toy Wan 2.1 model that steering tests run on (`assets/models/toy-wan`): a
stock `WanPipeline` whose transformer was trained here and whose VAE is the built-in model's.

It must load offline as any user's Wan folder would, generate the procedural world rather
than the grey noise of a random tiny model, reconstruct held-out world clips through its VAE,
and, the property steering by a guide video relies on, bring a clip noised to sigma 0.5
back close to itself. `kinema train toy-wan` itself gets a smoke test on a tiny budget.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("diffusers")

import torch  # noqa: E402
from diffusers import AutoencoderKLWan, WanPipeline, WanTransformer3DModel  # noqa: E402, F401

from engine.cli import main  # noqa: E402
from engine.model_library import PICKLE_SUFFIXES  # noqa: E402
from engine.synth import render_clip  # noqa: E402
from engine.train.toy_wan import (  # noqa: E402
    decode,
    encode,
    generate,
    psnr,
    renoise_generate,
    video_stats,
)

TOY_WAN = Path(__file__).resolve().parents[1] / "assets" / "models" / "toy-wan"
SIZE, FPS = 128, 16.0  # what it was trained at
PROMPT = "a red ball rolls across the sand"
#: held-out world seeds (training used seeds from 1,000,000 up)
HELDOUT = (3, 5)
#: the model card's held-out means: VAE 33.2 dB, 28.4 dB for a clip noised to sigma 0.5;
#: the floors leave room for one clip against a mean, other CPUs and libraries
VAE_PSNR_FLOOR = 28.0
RENOISE_PSNR_FLOOR = 24.0


def _load(folder: Path):
    # (the diffusers classes are imported above, at collection: importing them costs seconds)
    import engine.backends.diffusers.builtin_vae  # noqa: F401  (diffusers loads only imported modules)

    return WanPipeline.from_pretrained(folder, local_files_only=True, use_safetensors=True)


@pytest.fixture(scope="module")
def toy():
    torch.manual_seed(0)
    return _load(TOY_WAN)


def test_the_folder_holds_safetensors_configs_and_a_card_only():
    files = [p for p in TOY_WAN.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in PICKLE_SUFFIXES]
    weights = [p for p in files if p.suffix == ".safetensors"]
    # the VAE folder is a config naming the built-in model's weights, not a second copy
    assert {p.parent.name for p in weights} == {"transformer", "text_encoder"}
    assert sum(p.stat().st_size for p in files) < 12e6  # small enough to ship in the repo
    index = json.loads((TOY_WAN / "model_index.json").read_text())
    assert index["_class_name"] == "WanPipeline"
    card = (TOY_WAN / "README.md").read_text()
    assert "not for users" in card and "PSNR" in card


def test_it_loads_offline_as_a_wan_21_pipeline_with_normalised_latents(toy):
    assert toy.scheduler.config.prediction_type == "flow_prediction"
    assert toy.scheduler.config.use_flow_sigmas
    vae = toy.vae.config
    assert vae.z_dim == 16 and vae.scale_factor_spatial == 8 and vae.scale_factor_temporal == 4
    assert tuple(toy.transformer.config.patch_size) == (1, 2, 2)
    clips = [render_clip(s, 17, SIZE, fps=FPS).frames for s in HELDOUT]
    latents = encode(toy.vae, np.stack(clips))
    assert latents.shape == (2, 16, 5, SIZE // 8, SIZE // 8)
    # latents_mean / latents_std in the config were measured on the training world
    assert abs(float(latents.mean())) < 0.3 and 0.6 < float(latents.std()) < 1.6


def test_a_three_step_generation_is_the_world_not_flat_grey(toy):
    from engine.backends.diffusers.tiny import build_tiny_pipeline

    frames = generate(toy, PROMPT, 9, SIZE, steps=3)
    assert frames.shape == (9, SIZE, SIZE, 3) and frames.dtype == np.uint8
    grey = generate(build_tiny_pipeline("wan"), PROMPT, 9, SIZE, steps=3)
    made, random_ = video_stats(frames), video_stats(grey)
    # layout (sky over ground) rather than noise: the std of 8 x 8 block means
    assert made["structure"] > 2 * random_["structure"] and made["structure"] > 8
    assert made["pixel_std"] > 8
    assert made["motion"] < 0.5 * random_["motion"]  # frames that follow on, not fresh noise


def test_the_vae_reconstructs_a_held_out_world_clip(toy):
    clip = render_clip(HELDOUT[0], 17, SIZE, fps=FPS)
    recon = decode(toy.vae, encode(toy.vae, clip.frames[None]))[0]
    assert recon.shape == clip.frames.shape
    assert psnr(recon, clip.frames) > VAE_PSNR_FLOOR


def test_a_clip_noised_to_half_comes_back_close_to_itself(toy):
    """What steering builds on: sampling started from a guide's latents at sigma 0.5 keeps
    the guide, far closer to it than to another world clip."""
    clip = render_clip(HELDOUT[1], 17, SIZE, fps=FPS)
    other = render_clip(1, 17, SIZE, fps=FPS)  # held out too: a dusk scene, not night
    out = renoise_generate(toy, clip.frames, 0.5, clip.caption, steps=10)
    assert out.shape == clip.frames.shape
    near = psnr(out, clip.frames)
    assert near > RENOISE_PSNR_FLOOR and near > psnr(out, other.frames) + 5


@pytest.mark.timeout(20)
def test_kinema_train_toy_wan_runs_every_stage_and_exports_a_pipeline(tmp_path, capsys):
    out, folder = tmp_path / "run", tmp_path / "model"
    budget = ["--preset", "smoke", "--size", "32", "--frames", "9", "--vae-frames", "5",
              "--vae-steps", "2", "--dit-steps", "2", "--latent-clips", "4", "--dit-batch", "2",
              "--eval-clips", "1", "--eval-steps", "2", "--log-every", "1"]  # fmt: skip
    args = ["train", "toy-wan", "--out", str(out), "--export", str(folder), *budget]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "stage vae" in printed and "stage transformer" in printed
    pipe = _load(folder)
    assert generate(pipe, PROMPT, 5, 32, steps=2).shape == (5, 32, 32, 3)
    assert "PSNR" in (folder / "README.md").read_text()
    assert main(args) == 2  # the run is there: it takes --resume to touch it
    assert "--resume" in capsys.readouterr().err


def test_its_vae_is_the_built_in_one_and_another_version_is_refused(tmp_path):
    import shutil

    from engine.backends.diffusers.builtin_vae import BuiltinVideoVAE
    from engine.errors import ModelLoadError
    from engine.model_library import read_entry

    assert read_entry(TOY_WAN).problem == ""  # listed as runnable, with no VAE weights of its own
    folder = tmp_path / "vae"
    shutil.copytree(TOY_WAN / "vae", folder)
    config = json.loads((folder / "config.json").read_text())
    config["weights_sha256"] = "0" * 64
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="another version of the built-in VAE"):
        BuiltinVideoVAE.from_pretrained(folder)
