"""Train a toy Wan 2.1 text-to-video model on the procedural world, in diffusers' own classes.

    kinema train toy-wan --threads 1 --out /some/scratch/toy-wan --export assets/models/toy-wan
    kinema train toy-wan --resume --out /some/scratch/toy-wan --export assets/models/toy-wan

Real models are steered by the user's camera path and strokes without training: sampling
starts from the guide video encoded by the model's VAE and noised to a level. Testing that
a brushed object then follows its path needs a real diffusers model that has learnt
something (random weights decode everything to grey), yet is small enough for a CPU test.
This trains one in three resumable stages, each checkpointed in `--out`:

1. `AutoencoderKLWan` (8x space, 4x time, 16 channels) on world clips, squared error + L1
   + a small KL term; held-out PSNR on world seeds 0.. (`HELDOUT_SEED`), never trained on.
2. A latent cache: world clips encoded by that VAE (posterior mode), per-channel
   `latents_mean` / `latents_std` measured on them and written into the VAE config, so the
   normalised latents the pipeline denoises are near zero mean, unit variance; captions
   through the pipeline's own `encode_prompt` (a word-level tokenizer and a small UMT5,
   random and frozen, exactly as `engine.backends.diffusers.tiny` builds them).
3. `WanTransformer3DModel` by rectified flow: x_t = (1 - sigma) x0 + sigma noise, target
   noise - x0, timestep sigma * 1000, as `UniPCMultistepScheduler(flow_prediction)` samples it.

`--export DIR` saves `WanPipeline.save_pretrained(DIR, safe_serialization=True)` plus a
model card with held-out figures. For tests and benchmarks of steering, not for users.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import InvalidRequest, ModelLoadError
from ..weights import load_tensors, read_header, save_tensors
from . import add_option_arguments, given_options, option, resolve_device

TRAIN_SEED = 1_000_000  # VAE clips from here up
LATENT_SEED = 1_500_000  # transformer clips from here up
HELDOUT_SEED = 0  # evaluation clips: seeds 0, 1, ... (never trained on)
MAX_SEQUENCE_LENGTH = 512  # what WanPipeline pads prompts to, and what Kinema's runner passes
VAE_CKPT, LATENTS, DIT_CKPT, LOG = (
    "vae.safetensors",
    "latents.safetensors",
    "dit.safetensors",
    "log.jsonl",
)


@dataclass(frozen=True)
class ToyWanConfig:
    """Sizes of the toy model (diffusers' Wan 2.1 classes)."""

    vae_patch_size: int = 2  # pixels folded into channels before the encoder (Wan 2.2's input)
    vae_base_dim: int = 16  # encoder channels at the first level (1/patch resolution)
    vae_decoder_base_dim: int = 24  # decoder channels at its last level
    vae_dim_mult: tuple[int, ...] = (1, 2, 2)  # channel multiple per level; patch x 2^(n-1) = 8x
    vae_residual: bool = True  # Wan 2.2's average-pool / duplicate shortcuts around each level
    heads: int = 4  # transformer attention heads
    head_dim: int = 32  # channels per head (width = heads x head_dim)
    layers: int = 4  # transformer blocks
    flow_shift: float = 3.0  # the scheduler's sigma shift (Wan 2.1 1.3B uses 3.0 at 480p)


PRESETS = {
    "toy": ToyWanConfig(),
    "smoke": ToyWanConfig(vae_base_dim=4, vae_decoder_base_dim=4, vae_dim_mult=(1, 1, 1),
                          heads=2, head_dim=12, layers=1),
}  # fmt: skip


@dataclass
class ToyWanOptions:
    size: int = option(64, "clip width and height (divisible by 16)")
    frames: int = option(17, "frames per transformer training clip (1 + 4k)")
    fps: float = option(16.0, "world clip fps (Wan 2.1's own)")
    vae_video_every: int = option(
        2, "every n-th VAE step is on clips of vae-frames; the others on single frames (images)"
    )
    vae_frames: int = option(5, "frames per VAE video step (1 + 4k)")
    vae_batch: int = option(1, "VAE clips per video step")
    vae_images: int = option(4, "frames of one clip per image step")
    vae_lr: float = option(1e-3, "VAE peak AdamW learning rate")
    vae_steps: int = option(100_000, "VAE steps at most")
    vae_minutes: float = option(25.0, "VAE training minutes (the schedule follows the clock)")
    object_weight: float = option(8.0, "extra VAE loss weight on the objects' pixels")
    vae_ema: float = option(0.995, "decay of the exported moving average of the VAE")
    kl_weight: float = option(1.25e-5, "weight of the KL term (mean over latent elements)")
    latent_clips: int = option(1200, "world clips encoded for the transformer")
    dit_batch: int = option(16, "transformer clips per step")
    dit_lr: float = option(1e-3, "transformer peak AdamW learning rate")
    dit_steps: int = option(100_000, "transformer steps at most")
    dit_minutes: float = option(10.0, "transformer training minutes")
    short_clips: float = option(0.25, "fraction of transformer steps on the first 9 frames only")
    drop_text: float = option(0.1, "probability of the empty prompt (for guidance)")
    ema: float = option(0.998, "decay of the exported moving average of the transformer")
    warmup: int = option(100, "linear warm-up steps of each stage")
    seed: int = option(0, "torch seed")
    vae: str = option(
        "train", "the VAE: 'train' one here, or 'builtin' (the built-in model's, not trained)"
    )


# ----------------------------------------------------------------------------- components


def build_vae(cfg: ToyWanConfig):
    """8x in space, 4x in time (the last two downsamples also halve time), 16 channels."""
    from diffusers import AutoencoderKLWan

    downsamples = len(cfg.vae_dim_mult) - 1
    assert cfg.vae_patch_size * 2**downsamples == 8 and downsamples >= 2
    channels = 3 * cfg.vae_patch_size**2
    return AutoencoderKLWan(
        base_dim=cfg.vae_base_dim, decoder_base_dim=cfg.vae_decoder_base_dim, z_dim=16,
        dim_mult=list(cfg.vae_dim_mult), num_res_blocks=1, attn_scales=[],
        temperal_downsample=[False] * (downsamples - 2) + [True, True],
        in_channels=channels, out_channels=channels,
        patch_size=cfg.vae_patch_size if cfg.vae_patch_size > 1 else None,
        is_residual=cfg.vae_residual,
        scale_factor_spatial=8, scale_factor_temporal=4,
    )  # fmt: skip


def build_transformer(cfg: ToyWanConfig):
    from diffusers import WanTransformer3DModel

    width = cfg.heads * cfg.head_dim
    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=cfg.heads, attention_head_dim=cfg.head_dim,
        in_channels=16, out_channels=16, text_dim=32, freq_dim=256, ffn_dim=2 * width,
        num_layers=cfg.layers, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
        rope_max_seq_len=64,
    )  # fmt: skip


def build_pipeline(cfg: ToyWanConfig, vae, transformer, text_encoder=None):
    from diffusers import UniPCMultistepScheduler, WanPipeline

    from ..backends.diffusers.tiny import _t5, tiny_tokenizer

    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=cfg.flow_shift
    )
    return WanPipeline(
        tokenizer=tiny_tokenizer(),
        text_encoder=text_encoder if text_encoder is not None else _t5(umt5=True),
        transformer=transformer,
        vae=vae,
        scheduler=scheduler,
    )


def to_video(frames_u8: np.ndarray, device="cpu") -> torch.Tensor:
    """uint8 (B, T, H, W, 3) -> float (B, 3, T, H, W) in [-1, 1]."""
    return torch.as_tensor(frames_u8).to(device).permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0


def to_frames(video: torch.Tensor) -> np.ndarray:
    """float (B, 3, T, H, W) in [-1, 1] -> uint8 (B, T, H, W, 3)."""
    u8 = ((video.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return u8.permute(0, 2, 3, 4, 1).cpu().numpy()


def _stats(vae, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    shape = (1, vae.config.z_dim, 1, 1, 1)
    mean = torch.tensor(vae.config.latents_mean).view(shape).to(like)
    std = torch.tensor(vae.config.latents_std).view(shape).to(like)
    return mean, std


@torch.no_grad()
def encode(vae, frames_u8: np.ndarray) -> torch.Tensor:
    """uint8 (B, T, H, W, 3) -> normalised latents (B, 16, T', h, w) (posterior mode)."""
    device = next(vae.parameters()).device
    latents = vae.encode(to_video(frames_u8, device)).latent_dist.mode()
    mean, std = _stats(vae, latents)
    return (latents - mean) / std


@torch.no_grad()
def decode(vae, latents: torch.Tensor) -> np.ndarray:
    """Normalised latents (B, 16, T', h, w) -> uint8 frames (B, T, H, W, 3)."""
    mean, std = _stats(vae, latents)
    return to_frames(vae.decode(latents * std + mean).sample)


def world_clips(seeds, frames: int, size: int, fps: float):
    from ..synth import render_clip

    return [render_clip(int(s), frames, size, fps=fps) for s in seeds]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2) / 255.0**2
    return float(10 * np.log10(1.0 / max(mse, 1e-12)))


# ----------------------------------------------------------------------------- checkpoints


def _save(path: Path, modules: dict, optimizer, header: dict, extra: dict | None = None) -> None:
    tensors = dict(extra or {})
    for prefix, module in modules.items():
        tensors |= {f"{prefix}.{k}": v for k, v in module.state_dict().items()}
    optim = optimizer.state_dict()
    for index, state in optim["state"].items():
        for key, value in state.items():
            tensors[f"optim.{index}.{key}"] = torch.as_tensor(value)
    groups = [dict(g, params=list(g["params"])) for g in optim["param_groups"]]
    save_tensors(path, tensors, header=header | {"param_groups": groups})


def _load(path: Path, modules: dict, optimizer) -> dict:
    header, tensors = read_header(path), load_tensors(path)
    if "step" not in header:
        raise ModelLoadError(f"{path} is not a toy-wan training checkpoint.")
    for prefix, module in modules.items():
        n = len(prefix) + 1
        module.load_state_dict({k[n:]: v for k, v in tensors.items() if k.startswith(prefix + ".")})
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    groups = header["param_groups"]
    for group in groups:
        group["betas"] = tuple(group["betas"])
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    return header


def _lr(peak: float, step: int, warmup: int, progress: float) -> float:
    """Linear warm-up, then cosine decay to 5 % of the peak as `progress` goes 0 -> 1."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


class _Stage:
    """Step / clock bookkeeping and progress lines shared by the two training stages."""

    def __init__(self, name: str, steps: int, minutes: float, out: Path, header: dict):
        self.name, self.steps, self.minutes, self.out = name, steps, minutes, out
        self.step = int(header.get("step", 0))
        self.wall = float(header.get("wall_time", 0.0))
        self.done_flag = bool(header.get("done", False))
        self.history: list[dict] = list(header.get("history", []))
        self.saved = time.perf_counter()

    def progress(self) -> float:
        by_time = self.wall / (60 * self.minutes) if self.minutes > 0 else 0.0
        return max(self.step / max(1, self.steps), by_time)

    def done(self) -> bool:
        return self.done_flag or self.progress() >= 1.0

    def header(self, **more) -> dict:
        return {"step": self.step, "wall_time": self.wall, "done": self.done(),
                "history": self.history} | more  # fmt: skip

    def log(self, **stats) -> None:
        stats = {"stage": self.name, "step": self.step, "minutes": round(self.wall / 60, 2)} | stats
        self.history.append(stats)
        with open(self.out / LOG, "a") as handle:
            handle.write(json.dumps(stats) + "\n")
        shown = "  ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in stats.items()
        )
        print(shown, flush=True)

    def due_save(self, every_s: float = 60.0) -> bool:
        if time.perf_counter() - self.saved < every_s:
            return False
        self.saved = time.perf_counter()
        return True


# ----------------------------------------------------------------------------- stage 1: VAE


def vae_heldout_psnr(vae, opts: ToyWanOptions, clips: int, frames: int | None = None) -> float:
    """Mean PSNR (dB) of the VAE's reconstructions of held-out world clips."""
    values = []
    for clip in world_clips(range(HELDOUT_SEED, HELDOUT_SEED + clips), frames or opts.frames,
                            opts.size, opts.fps):  # fmt: skip
        with torch.no_grad():
            video = to_video(clip.frames[None], next(vae.parameters()).device)
            recon = to_frames(vae.decode(vae.encode(video).latent_dist.mode()).sample)[0]
        values.append(psnr(recon, clip.frames))
    return float(np.mean(values))


def object_cover(clip) -> np.ndarray:
    """(T, H, W) float32: 1 where any of the clip's objects is visible, else 0."""
    cover = np.zeros(clip.frames.shape[:3], np.float32)
    for obj in clip.objects:
        cover[np.asarray(obj.masks, bool)] = 1.0
    return cover


def _decode_unclamped(vae, z: torch.Tensor) -> torch.Tensor:
    """`AutoencoderKLWan._decode` without its final clamp to [-1, 1]: a clamped pixel has no
    gradient, so a decoder that overshoots early is never pulled back (training stalls)."""
    vae.clear_cache()
    x = vae.post_quant_conv(z)
    frames = []
    for i in range(x.shape[2]):
        vae._conv_idx = [0]
        frames.append(vae.decoder(x[:, :, i : i + 1], feat_cache=vae._feat_map,
                                  feat_idx=vae._conv_idx, first_chunk=i == 0))  # fmt: skip
    vae.clear_cache()
    from diffusers.models.autoencoders.autoencoder_kl_wan import unpatchify

    return unpatchify(torch.cat(frames, 2), vae.config.patch_size or 1)


def train_vae(cfg: ToyWanConfig, opts: ToyWanOptions, out: Path, device, log_every: int):
    vae = build_vae(cfg).to(device).train()
    with torch.no_grad():  # the posterior starts narrow (std 0.05): a decoder fed latents
        z = vae.config.z_dim  # drowned in sampling noise learns only blur
        vae.quant_conv.weight[z:].zero_()
        vae.quant_conv.bias[z:].fill_(-6.0)
    ema = build_vae(cfg).to(device).eval().requires_grad_(False)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=opts.vae_lr, weight_decay=0.01)
    path = out / VAE_CKPT
    header = _load(path, {"vae": vae}, optimizer) if path.exists() else {}
    ema_state = (
        {k[4:]: v for k, v in load_tensors(path).items() if k.startswith("ema.")}
        if path.exists()
        else {}
    )
    ema.load_state_dict(
        ema_state or vae.state_dict()
    )  # a run from before the average: start it here
    stage = _Stage("vae", opts.vae_steps, opts.vae_minutes, out, header)
    if not stage.done():
        params = sum(p.numel() for p in vae.parameters())
        print(f"VAE: {params / 1e6:.2f} M parameters, clips {opts.frames}x{opts.size}x"
              f"{opts.size} at {opts.fps:g} fps, from step {stage.step}", flush=True)  # fmt: skip
    losses, tick = [], time.perf_counter()
    try:
        while not stage.done():
            start = time.perf_counter()
            rng = np.random.default_rng([opts.seed, stage.step])
            seeds = TRAIN_SEED + stage.step * opts.vae_batch + np.arange(opts.vae_batch)
            clips = world_clips(seeds, opts.frames, opts.size, opts.fps)
            frames = np.stack([c.frames for c in clips])  # (B, T, H, W, 3)
            cover = np.stack([object_cover(c) for c in clips])  # (B, T, H, W)
            if stage.step % opts.vae_video_every:  # an image step: frames of one clip
                pick = rng.choice(opts.frames, min(opts.vae_images, opts.frames), replace=False)
                frames, cover = frames[0, pick][:, None], cover[0, pick][:, None]  # (n, 1, H, W)
            else:  # a video step: a window of vae_frames frames
                first = int(rng.integers(0, opts.frames - opts.vae_frames + 1))
                frames = frames[:, first : first + opts.vae_frames]
                cover = cover[:, first : first + opts.vae_frames]
            flip = rng.random(len(frames)) < 0.5
            frames[flip], cover[flip] = frames[flip, :, :, ::-1], cover[flip, :, :, ::-1]
            video = to_video(frames, device)
            # objects cover a few percent of a frame, yet they are what a brush moves
            weight = torch.from_numpy(1 + opts.object_weight * cover).to(device)[:, None]
            weight = weight / weight.mean()
            posterior = vae.encode(video).latent_dist
            g = torch.Generator(device).manual_seed(opts.seed * 1_000_003 + stage.step)
            recon = _decode_unclamped(vae, posterior.sample(generator=g))
            mse = ((recon - video).pow(2) * weight).mean()
            l1 = ((recon - video).abs() * weight).mean()
            kl = 0.5 * (posterior.mean.pow(2) + posterior.var - 1 - posterior.logvar).mean()
            loss = 10 * mse + l1 + opts.kl_weight * kl
            for group in optimizer.param_groups:
                group["lr"] = _lr(opts.vae_lr, stage.step, opts.warmup, stage.progress())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
            optimizer.step()
            with torch.no_grad():  # one clip per step is a noisy gradient: export the average
                k = min(opts.vae_ema, (1 + stage.step) / (10 + stage.step))
                torch._foreach_lerp_(list(ema.parameters()), list(vae.parameters()), 1 - k)
            stage.step += 1
            stage.wall += time.perf_counter() - start
            losses.append([mse.item(), l1.item(), kl.item()])
            if stage.step % log_every == 0 or stage.done():
                held = vae_heldout_psnr(ema, opts, clips=4)
                m = np.mean(losses, axis=0)
                now = time.perf_counter()
                stage.log(mse=float(m[0]), l1=float(m[1]), kl=float(m[2]), heldout_psnr=held,
                          lr=optimizer.param_groups[0]["lr"],
                          sec_per_step=(now - tick) / len(losses))  # fmt: skip
                losses, tick = [], now
            if stage.due_save() or stage.done():
                _save(path, {"vae": vae, "ema": ema}, optimizer,
                      stage.header(config=dataclasses.asdict(cfg)))  # fmt: skip
    except KeyboardInterrupt:
        _save(
            path, {"vae": vae, "ema": ema}, optimizer, stage.header(config=dataclasses.asdict(cfg))
        )
        raise
    return ema, stage


# ----------------------------------------------------------------------------- stage 2: latents


def build_latents(cfg, opts: ToyWanOptions, vae, out: Path):
    """Encode `latent_clips` world clips; measure latent statistics; encode their captions."""
    from ..backends.diffusers.tiny import _t5

    path = out / LATENTS
    if path.exists():
        tensors, header = load_tensors(path), read_header(path)
        text_encoder = _t5(umt5=True)
        text_encoder.load_state_dict(
            {k[13:]: v for k, v in tensors.items() if k.startswith("text_encoder.")}
        )
        vae.register_to_config(
            latents_mean=header["latents_mean"], latents_std=header["latents_std"]
        )
        return tensors, header, text_encoder.eval()
    start = time.perf_counter()
    device = next(vae.parameters()).device
    torch.manual_seed(opts.seed)
    text_encoder = _t5(umt5=True).eval().requires_grad_(False)
    raw, captions, seeds = [], [], LATENT_SEED + np.arange(opts.latent_clips)
    for i in range(0, len(seeds), 8):
        clips = world_clips(seeds[i : i + 8], opts.frames, opts.size, opts.fps)
        with torch.no_grad():
            video = to_video(np.stack([c.frames for c in clips]), device)
            raw.append(vae.encode(video).latent_dist.mode().cpu())
        captions += [c.caption for c in clips]
        if (i // 8) % 25 == 0:
            print(f"latents: {i + len(clips)} of {len(seeds)} clips", flush=True)
    latents = torch.cat(raw)  # (N, 16, T', h, w)
    mean = latents.mean(dim=(0, 2, 3, 4))
    std = latents.std(dim=(0, 2, 3, 4))
    vae.register_to_config(latents_mean=mean.tolist(), latents_std=std.tolist())
    pipe = build_pipeline(cfg, vae, None, text_encoder)
    embeds = []
    for i in range(0, len(captions), 64):
        e, _ = pipe.encode_prompt(captions[i : i + 64], do_classifier_free_guidance=False,
                                  max_sequence_length=MAX_SEQUENCE_LENGTH, device=torch.device("cpu"))  # fmt: skip
        embeds.append(e)
    text = torch.cat(embeds)
    used = int((text.abs().sum(-1) > 0).sum(1).max())  # the rest is the pipeline's zero padding
    empty, _ = pipe.encode_prompt("", do_classifier_free_guidance=False,
                                  max_sequence_length=MAX_SEQUENCE_LENGTH, device=torch.device("cpu"))  # fmt: skip
    tensors = {
        "latents": (latents - mean.view(1, -1, 1, 1, 1)) / std.view(1, -1, 1, 1, 1),
        "text": text[:, :used].contiguous(),
        "empty": empty[:, :used].contiguous(),
    } | {f"text_encoder.{k}": v for k, v in text_encoder.state_dict().items()}
    header = {"latents_mean": mean.tolist(), "latents_std": std.tolist(), "captions": captions,
              "seeds": [int(seeds[0]), int(seeds[-1])], "minutes": (time.perf_counter() - start) / 60}  # fmt: skip
    save_tensors(path, tensors, header=header)
    print(f"latents: {tuple(latents.shape)} cached in {header['minutes']:.1f} min", flush=True)
    return tensors, header, text_encoder


# ----------------------------------------------------------------------------- stage 3: transformer


def train_transformer(cfg, opts: ToyWanOptions, cache: dict, out: Path, device, log_every: int):
    torch.manual_seed(opts.seed + 1)
    model = build_transformer(cfg).to(device).train()
    ema = build_transformer(cfg).to(device).eval().requires_grad_(False)
    ema.load_state_dict(model.state_dict())
    decay, plain = [], []
    for name, p in model.named_parameters():
        (decay if p.ndim >= 2 and "embed" not in name else plain).append(p)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                   {"params": plain, "weight_decay": 0.0}], lr=opts.dit_lr,
                                  betas=(0.9, 0.98))  # fmt: skip
    path = out / DIT_CKPT
    header = _load(path, {"model": model, "ema": ema}, optimizer) if path.exists() else {}
    stage = _Stage("transformer", opts.dit_steps, opts.dit_minutes, out, header)
    latents, text, empty = (
        cache["latents"].to(device),
        cache["text"].to(device),
        cache["empty"].to(device),
    )
    n, used = latents.shape[0], text.shape[1]
    if not stage.done():
        params = sum(p.numel() for p in model.parameters())
        print(f"transformer: {params / 1e6:.2f} M parameters, {n} clips of latents "
              f"{tuple(latents.shape[1:])}, from step {stage.step}", flush=True)  # fmt: skip
    losses, tick = [], time.perf_counter()
    try:
        while not stage.done():
            start = time.perf_counter()
            g = torch.Generator().manual_seed(opts.seed * 1_000_003 + stage.step)
            rows = torch.randint(0, n, (opts.dit_batch,), generator=g)
            x0 = latents[rows]  # (B, 16, T', h, w)
            if torch.rand(1, generator=g).item() < opts.short_clips:
                x0 = x0[:, :, :3]  # the first 9 frames: the causal VAE encodes them alike
            prompts = torch.zeros(opts.dit_batch, MAX_SEQUENCE_LENGTH, text.shape[2], device=device)
            drop = (torch.rand(opts.dit_batch, generator=g) < opts.drop_text).to(device)
            prompts[:, :used] = torch.where(drop[:, None, None], empty, text[rows])
            u = torch.where(torch.rand(opts.dit_batch, generator=g) < 0.5,
                            torch.sigmoid(torch.randn(opts.dit_batch, generator=g)),
                            torch.rand(opts.dit_batch, generator=g))  # fmt: skip
            sigma = (
                (cfg.flow_shift * u / (1 + (cfg.flow_shift - 1) * u)).clamp(1e-3, 1.0).to(device)
            )
            noise = torch.randn(x0.shape, generator=g).to(device)
            s = sigma[:, None, None, None, None]
            xt = (1 - s) * x0 + s * noise
            velocity = model(hidden_states=xt, timestep=sigma * 1000, encoder_hidden_states=prompts,
                             return_dict=False)[0]  # fmt: skip
            loss = (velocity - (noise - x0)).pow(2).mean()
            for group in optimizer.param_groups:
                group["lr"] = _lr(opts.dit_lr, stage.step, opts.warmup, stage.progress())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            with torch.no_grad():
                k = min(opts.ema, (1 + stage.step) / (10 + stage.step))
                torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1 - k)
            stage.step += 1
            stage.wall += time.perf_counter() - start
            losses.append(loss.item())
            if stage.step % log_every == 0 or stage.done():
                now = time.perf_counter()
                stage.log(loss=float(np.mean(losses)), lr=optimizer.param_groups[0]["lr"],
                          sec_per_step=(now - tick) / len(losses))  # fmt: skip
                losses, tick = [], now
            if stage.due_save() or stage.done():
                _save(path, {"model": model, "ema": ema}, optimizer, stage.header())
    except KeyboardInterrupt:
        _save(path, {"model": model, "ema": ema}, optimizer, stage.header())
        raise
    return ema, stage


# ----------------------------------------------------------------------------- evaluation


@torch.no_grad()
def renoise_generate(pipe, frames_u8: np.ndarray, sigma: float, prompt: str = "", steps: int = 20,
                     guidance: float = 5.0, seed: int = 0) -> np.ndarray:  # fmt: skip
    """Sample from a clip (T, H, W, 3) encoded by the VAE and noised to `sigma` instead of
    from pure noise (SDEdit): what steering by a guide video builds on. Returns (T, H, W, 3)."""
    x0 = encode(pipe.vae, frames_u8[None])
    scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config)
    scheduler.set_timesteps(steps)
    begin = int((scheduler.sigmas[:-1] > sigma + 1e-6).sum())  # first step at or below sigma
    level = float(scheduler.sigmas[begin])
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))
    latents = (1 - level) * x0 + level * noise
    scheduler.set_begin_index(begin)
    cond, uncond = pipe.encode_prompt(prompt, "", do_classifier_free_guidance=guidance > 1,
                                      max_sequence_length=MAX_SEQUENCE_LENGTH)  # fmt: skip
    for t in scheduler.timesteps[begin:]:
        timestep = t.expand(latents.shape[0])
        velocity = pipe.transformer(hidden_states=latents, timestep=timestep,
                                    encoder_hidden_states=cond, return_dict=False)[0]  # fmt: skip
        if guidance > 1:
            free = pipe.transformer(hidden_states=latents, timestep=timestep,
                                    encoder_hidden_states=uncond, return_dict=False)[0]  # fmt: skip
            velocity = free + guidance * (velocity - free)
        latents = scheduler.step(velocity, t, latents, return_dict=False)[0]
    return decode(pipe.vae, latents)[0]


def generate(pipe, prompt: str, frames: int, size: int, steps: int, seed: int = 0) -> np.ndarray:
    """Text-to-video through the pipeline itself -> uint8 (T, H, W, 3)."""
    out = pipe(prompt, height=size, width=size, num_frames=frames, num_inference_steps=steps,
               generator=torch.Generator().manual_seed(seed), output_type="np")  # fmt: skip
    return (np.asarray(out.frames[0]) * 255).round().astype(np.uint8)


def video_stats(frames_u8: np.ndarray) -> dict:
    """Mean colour, spatial std, edge energy and frame-to-frame change of uint8 (T, H, W, 3)."""
    f = frames_u8.astype(np.float32)
    return {
        "mean_rgb": [round(float(x), 1) for x in f.mean(axis=(0, 1, 2))],
        "pixel_std": round(float(f.reshape(len(f), -1, 3).std(axis=1).mean()), 1),
        "edges": round(
            float(np.abs(np.diff(f, axis=2)).mean() + np.abs(np.diff(f, axis=1)).mean()), 2
        ),
        "structure": round(float(_pooled(f).reshape(len(f), -1, 3).std(axis=1).mean()), 1),
        "motion": round(float(np.abs(np.diff(f, axis=0)).mean()) if len(f) > 1 else 0.0, 2),
    }


def _pooled(f: np.ndarray, cell: int = 8) -> np.ndarray:
    """Mean of each cell x cell block: the layout of a frame without its fine texture."""
    t, h, w, c = f.shape
    return (
        f[:, : h // cell * cell, : w // cell * cell]
        .reshape(t, h // cell, cell, w // cell, cell, c)
        .mean(axis=(2, 4))
    )


def _mean_stats(items: list[dict]) -> dict:
    return {k: (np.round(np.mean([s[k] for s in items], axis=0), 2).tolist()) for k in items[0]}


def evaluate(pipe, opts: ToyWanOptions, clips: int, steps: int, sheet: Path | None = None) -> dict:
    """Held-out figures for the model card; `sheet` also writes a contact sheet PNG there."""
    world = world_clips(range(HELDOUT_SEED, HELDOUT_SEED + clips), opts.frames, opts.size, opts.fps)
    figures: dict = {"heldout_seeds": [HELDOUT_SEED, HELDOUT_SEED + clips - 1], "steps": steps}
    recon = [decode(pipe.vae, encode(pipe.vae, c.frames[None]))[0] for c in world]
    figures["vae_psnr"] = round(
        float(np.mean([psnr(r, c.frames) for r, c in zip(recon, world)])), 2
    )
    figures["vae_psnr_min"] = round(float(min(psnr(r, c.frames) for r, c in zip(recon, world))), 2)
    figures["vae_object_psnr"] = round(_object_psnr(recon, world), 2)
    made = [
        generate(pipe, c.caption, opts.frames, opts.size, steps, seed=i)
        for i, c in enumerate(world)
    ]
    figures["world_stats"] = _mean_stats([video_stats(c.frames) for c in world])
    figures["generated_stats"] = _mean_stats([video_stats(m) for m in made])
    renoised = {}
    for level in (0.25, 0.5, 0.75):
        outs = [
            renoise_generate(pipe, c.frames, level, c.caption, steps, seed=i)
            for i, c in enumerate(world)
        ]
        renoised[level] = outs
        figures[f"renoise_{level}_psnr"] = round(
            float(np.mean([psnr(o, c.frames) for o, c in zip(outs, world)])), 2
        )
        figures[f"renoise_{level}_object_psnr"] = round(_object_psnr(outs, world), 2)
    others = [psnr(world[i - 1].frames, world[i].frames) for i in range(1, len(world))]
    figures["unrelated_world_psnr"] = round(float(np.mean(others)), 2) if others else None
    if sheet is not None:
        rows = [[c.frames, r, renoised[0.5][i], renoised[0.75][i], made[i]]
                for i, (c, r) in enumerate(zip(world, recon))][:4]  # fmt: skip
        contact_sheet(rows, sheet)
    return figures


def _object_psnr(outs: list[np.ndarray], world) -> float:
    """PSNR over the pixels the world's masks say its objects cover (where a brush would be)."""
    errors, count = 0.0, 0
    for out, clip in zip(outs, world):
        mask = np.zeros(clip.frames.shape[:3], bool)
        for obj in clip.objects:
            mask |= obj.masks[: len(mask)]
        diff = out.astype(np.float64) - clip.frames.astype(np.float64)
        errors += float((diff[mask] ** 2).sum())
        count += int(mask.sum()) * 3
    return float(10 * np.log10(255.0**2 / max(errors / max(count, 1), 1e-12)))


def contact_sheet(rows: list[list[np.ndarray]], path: Path, every: int = 4, scale: int = 2) -> Path:
    """One PNG: per row, the clips side by side, every `every`-th frame of each, scaled up."""
    import cv2

    lines = []
    for clips in rows:
        tiles = [np.concatenate(list(c[::every]), axis=1) for c in clips]
        gap = np.full((tiles[0].shape[0], 4, 3), 255, np.uint8)
        lines.append(np.concatenate([x for t in tiles for x in (t, gap)][:-1], axis=1))
        lines.append(np.full((4, lines[-1].shape[1], 3), 255, np.uint8))
    image = np.concatenate(lines[:-1], axis=0)
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return path


# ----------------------------------------------------------------------------- command line


def default_out_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("kinema")) / "train" / "toy-wan"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt = parser.add_argument
    opt("--out", type=Path, help="checkpoint and log folder (default: the user cache)")
    opt("--resume", action="store_true", help="continue the run in --out")
    opt(
        "--export",
        type=Path,
        metavar="DIR",
        help="when done, save the pipeline and its card to DIR",
    )
    opt("--preset", choices=list(PRESETS), default="toy", help="model sizes of a new run (toy)")
    opt("--device", default="cpu", help="cpu (default), cuda or auto")
    opt("--threads", type=int, help="CPU threads for torch")
    opt("--log-every", type=int, default=25, help="steps between progress lines (25)")
    opt("--eval-clips", type=int, default=8, help="held-out clips for the card's figures (8)")
    opt("--eval-steps", type=int, default=20, help="sampling steps for the card's figures (20)")
    opt("--sheet", type=Path, help="also write a contact sheet PNG here")
    add_option_arguments(parser, ToyWanOptions)


def run(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out) if args.out else default_out_dir()
    state = out / "run.json"
    if state.exists() and not args.resume:
        raise InvalidRequest(
            f"{out} already holds a training run; pass --resume or choose another --out."
        )
    given = given_options(args, ToyWanOptions)
    if state.exists():
        saved = json.loads(state.read_text())
        cfg = ToyWanConfig(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in saved["config"].items()}
        )
        opts = ToyWanOptions(**{**saved["options"], **given})
    else:
        cfg, opts = PRESETS[args.preset], ToyWanOptions(**given)
    if (opts.frames - 1) % 4 or (opts.vae_frames - 1) % 4 or opts.size % 16:
        raise InvalidRequest("Clips need 1 + 4k frames and a size divisible by 16.")
    out.mkdir(parents=True, exist_ok=True)
    state.write_text(
        json.dumps(
            {"config": dataclasses.asdict(cfg), "options": dataclasses.asdict(opts)}, indent=2
        )
    )
    if opts.vae not in ("train", "builtin"):
        raise InvalidRequest(f"--vae is 'train' or 'builtin', not {opts.vae!r}.")
    try:
        if opts.vae == "builtin":
            from ..backends.diffusers.builtin_vae import BuiltinVideoVAE

            vae = BuiltinVideoVAE().to(device).eval()
            vae_stage = _Stage("vae", 0, 0.0, out, {"done": True})
        else:
            vae, vae_stage = train_vae(cfg, opts, out, device, args.log_every)
        cache, facts, text_encoder = build_latents(cfg, opts, vae, out)
        transformer, dit_stage = train_transformer(cfg, opts, cache, out, device, args.log_every)
    except KeyboardInterrupt:
        print(f"Stopped; checkpoints are in {out} (--resume continues).")
        return 130
    if args.export is not None:
        pipe = build_pipeline(cfg, vae.cpu(), transformer.cpu(), text_encoder)
        export(pipe, Path(args.export), cfg, opts, (vae_stage, dit_stage), facts, args)
    return 0


def export(pipe, folder: Path, cfg, opts, stages, facts: dict, args) -> dict:
    """Save the pipeline (safetensors only), measure its held-out figures, write its card."""
    folder.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(folder, safe_serialization=True)
    print(f"Saved {folder}; measuring held-out figures.", flush=True)
    start = time.perf_counter()
    figures = evaluate(pipe, opts, args.eval_clips, args.eval_steps, args.sheet)
    from ..backends.diffusers.tiny import build_tiny_pipeline

    tiny = build_tiny_pipeline("wan")
    made = [
        generate(tiny, "a red ball", opts.frames, opts.size, args.eval_steps, seed=i)
        for i in range(2)
    ]
    figures["tiny_random_stats"] = _mean_stats([video_stats(m) for m in made])
    from ..eval import steering

    if opts.size == steering.SIZE and opts.frames == steering.FRAMES:  # the steering eval's shot
        result = steering.evaluate(range(args.eval_clips), folder)
        figures["steering"] = {k: v for k, v in result.items() if k != "brush_per_seed"}
    figures["eval_minutes"] = round((time.perf_counter() - start) / 60, 1)
    vae_stage, dit_stage = stages
    last_psnr = [h["heldout_psnr"] for h in vae_stage.history if "heldout_psnr" in h]
    training = {
        "config": dataclasses.asdict(cfg), "options": dataclasses.asdict(opts),
        "vae": {"steps": vae_stage.step, "minutes": round(vae_stage.wall / 60, 1),
                "psnr_curve": [round(p, 2) for p in last_psnr[:: max(1, len(last_psnr) // 8)]]},
        "latents": {"clips": len(facts["captions"]), "seeds": facts["seeds"],
                    "minutes": round(facts["minutes"], 1)},
        "transformer": {"steps": dit_stage.step, "minutes": round(dit_stage.wall / 60, 1),
                        "final_loss": round(dit_stage.history[-1]["loss"], 4) if dit_stage.history else None},
        "device": torch.cuda.get_device_name() if next(pipe.transformer.parameters()).is_cuda else
        f"cpu, {torch.get_num_threads()} thread(s)",
        "figures": figures,
    }  # fmt: skip
    sizes = {
        p.parent.name: round(p.stat().st_size / 1e6, 2) for p in folder.glob("*/*.safetensors")
    }
    training["sizes_mb"] = sizes
    from .toy_wan_card import model_card

    (folder / "README.md").write_text(model_card(training))
    print(json.dumps(figures, indent=1), flush=True)
    return training
