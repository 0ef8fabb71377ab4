"""Train the causal video autoencoder on clips of the procedural world.

    kinema train vae --steps 20000 --batch 8 --device cuda
    kinema train vae --resume                       # continue where it stopped, exactly
    kinema train vae --resume --export assets/models/builtin

Training clips come from world seeds >= TRAIN_SEED; held-out PSNR is measured on seeds
0..999 (HELDOUT_SEEDS), which training never sees. Loss: L1 + squared error on pixels (the
squared error speeds up the start and serves PSNR) + L1 on spatial image gradients (edges)
+ L1 on frame differences (flicker) + a small L2 on the latents while the decoder sees them
with a little noise (a fixed-variance VAE: its KL term is the L2 penalty), so the latent
space stays smooth and bounded for the DiT. bf16 autocast on CUDA only; float32 on CPU.

The output folder (default: the user's cache, `train/vae`) holds `checkpoint.safetensors`
(model, AdamW state, RNG states, and the run's state as a JSON header, all in one atomic
file; `checkpoint.json` repeats the header for people) and `log.jsonl` (one line per
logged step, eval lines carry `heldout_psnr`). A checkpoint is written every
`--save-every` steps, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import InvalidRequest, ModelLoadError
from ..models.vae import PRESETS, CausalVideoVAE, VAEConfig, preset
from ..weights import load_state, load_tensors, read_header, save_tensors
from . import add_option_arguments, given_options, option, resolve_device

#: training clips use world seeds from here up; held-out clips use HELDOUT_SEEDS
TRAIN_SEED = 1_000_000
HELDOUT_SEEDS = range(0, 1000)
CHECKPOINT = "checkpoint.safetensors"
LOG = "log.jsonl"


@dataclass
class TrainOptions:
    steps: int = option(20_000, "optimizer steps in total; a resumed run continues up to this")
    batch: int = option(8, "clips per step")
    lr: float = option(1e-3, "peak AdamW learning rate")
    warmup: int = option(200, "linear warm-up steps, then cosine decay to lr / 10 at `steps`")
    weight_decay: float = option(0.01, "AdamW decay on weights (biases are not decayed)")
    grad_clip: float = option(1.0, "max global gradient norm")
    mse_weight: float = option(
        10.0, "weight of the squared error (fast start; L1 rules below ~0.05)"
    )
    grad_weight: float = option(0.5, "weight of L1 on spatial image gradients (edge sharpness)")
    time_weight: float = option(0.5, "weight of L1 on frame differences (flicker)")
    latent_reg: float = option(1e-4, "weight of the L2 penalty on latents")
    latent_noise: float = option(0.02, "latent noise while training, relative to the latents' std")
    frames: int = option(17, "frames per training clip (1 + 4k)")
    size: int = option(128, "clip width and height")
    seed: int = option(0, "torch seed for the initial weights and the latent noise")
    minutes: float = option(
        0.0, "train for this many minutes instead of a step count; the schedule follows time"
    )


# ---------------------------------------------------------------- loss and metrics


def to_video(frames_u8: np.ndarray | torch.Tensor, device) -> torch.Tensor:
    """uint8 (B, T, H, W, 3) -> float (B, 3, T, H, W) in [-1, 1] on `device`."""
    frames = torch.as_tensor(frames_u8).to(device)
    return frames.permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0


def vae_loss(
    recon: torch.Tensor, video: torch.Tensor, latents: torch.Tensor, opts: TrainOptions
) -> dict[str, torch.Tensor]:
    """The training loss and its parts; recon/video (B, 3, T, H, W), latents (B, C, T', h, w)."""

    error = recon - video  # the gradient and flicker terms are L1 on differences of this
    parts = {
        "l1": error.abs().mean(),
        "mse": error.pow(2).mean(),
        "grad": error.diff(dim=-1).abs().mean() + error.diff(dim=-2).abs().mean(),
        "time": error.diff(dim=2).abs().mean() if video.shape[2] > 1 else error.new_zeros(()),
        "reg": latents.pow(2).mean(),
    }
    parts["loss"] = (
        parts["l1"]
        + opts.mse_weight * parts["mse"]
        + opts.grad_weight * parts["grad"]
        + opts.time_weight * parts["time"]
        + opts.latent_reg * parts["reg"]
    )
    return parts


def psnr(recon_u8: np.ndarray, frames_u8: np.ndarray) -> float:
    """PSNR in dB of one clip (MSE over all its pixels), uint8 arrays of equal shape."""
    mse = np.mean((recon_u8.astype(np.float64) - frames_u8.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-10)))


# ---------------------------------------------------------------- the trainer


class VAETrainer:
    """Model, optimizer, schedule and RNG of one training run; `train_step` advances it."""

    def __init__(self, cfg: VAEConfig, opts: TrainOptions, device: str | torch.device = "cpu"):
        self.opts, self.device = opts, torch.device(device)
        torch.manual_seed(opts.seed)
        self.model = CausalVideoVAE(cfg).to(self.device).train()
        params = list(self.model.parameters())
        self.optimizer = torch.optim.AdamW(
            [
                {"params": [p for p in params if p.ndim >= 2], "weight_decay": opts.weight_decay},
                {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
            ],
            lr=opts.lr,
            betas=(0.9, 0.99),
        )
        self.noise = torch.Generator(self.device).manual_seed(opts.seed + 1)
        self.step = 0  # optimizer steps taken
        self.wall_time = 0.0  # seconds spent training (data included), over all sessions
        self.heldout_psnr: float | None = None

    def lr_at(self, step: int) -> float:
        o = self.opts
        if step < o.warmup:
            return o.lr * (step + 1) / o.warmup
        progress = min(1.0, (step - o.warmup) / max(1, o.steps - o.warmup))
        if o.minutes > 0:  # a time budget: the schedule follows the clock, steps only cap it
            progress = max(progress, min(1.0, self.wall_time / (60 * o.minutes)))
        return o.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    def done(self) -> bool:
        o = self.opts
        return self.step >= o.steps or (o.minutes > 0 and self.wall_time >= 60 * o.minutes)

    def train_step(self, frames_u8: np.ndarray) -> dict[str, float]:
        """One optimizer step on a batch of uint8 (B, T, H, W, 3) clips; returns the losses."""
        video = to_video(frames_u8, self.device)  # (B, 3, T, H, W)
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(self.step)
        with torch.autocast("cuda", torch.bfloat16, enabled=self.device.type == "cuda"):
            latents = self.model.encode(video)  # (B, C, T', h, w)
            noise = torch.randn(
                latents.shape, generator=self.noise, device=self.device, dtype=latents.dtype
            )
            recon = self.model.decode(
                latents + self.opts.latent_noise * latents.detach().std() * noise
            )
        parts = vae_loss(recon.float(), video, latents.float(), self.opts)
        self.optimizer.zero_grad(set_to_none=True)
        parts["loss"].backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.opts.grad_clip)
        self.optimizer.step()
        self.step += 1
        stats = {name: float(value.detach()) for name, value in parts.items()}
        mse = float((recon.detach().float().clamp(-1, 1) - video).pow(2).mean())
        stats["psnr"] = 10 * math.log10(4.0 / max(mse, 1e-12))  # [-1, 1] has range 2
        stats["lr"] = self.optimizer.param_groups[0]["lr"]
        return stats

    @torch.no_grad()
    def reconstruct(self, frames_u8: np.ndarray) -> np.ndarray:
        """uint8 (B, T, H, W, 3) -> the model's uint8 reconstruction, same shape."""
        video = to_video(frames_u8, self.device)
        recon = self.model.decode(self.model.encode(video))
        pixels = ((recon.float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
        return pixels.permute(0, 2, 3, 4, 1).cpu().numpy()

    def evaluate(self, clips_u8: np.ndarray, batch: int = 4) -> float:
        """Mean per-clip PSNR (dB) over uint8 (N, T, H, W, 3) clips."""
        scores = []
        for i in range(0, len(clips_u8), batch):
            chunk = clips_u8[i : i + batch]
            scores += [psnr(r, c) for r, c in zip(self.reconstruct(chunk), chunk, strict=True)]
        self.heldout_psnr = float(np.mean(scores))
        return self.heldout_psnr

    @torch.no_grad()
    def measure_scaling(self, clips_u8: np.ndarray, batch: int = 4) -> tuple[list, list]:
        """Per-channel mean and std of the latents of `clips_u8`; stored in the model."""
        latents = [
            self.model.encode(to_video(clips_u8[i : i + batch], self.device)).float()
            for i in range(0, len(clips_u8), batch)
        ]
        flat = torch.cat(latents).transpose(0, 1).flatten(1)  # (C, B*T'*h*w)
        mean, std = flat.mean(1).tolist(), flat.std(1).clamp_min(1e-6).tolist()
        self.model.set_scaling(mean, std)
        return mean, std

    # -- checkpoints

    def save(self, path: Path) -> None:
        """Model, optimizer, RNGs and run state in one safetensors file (atomic)."""
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        optim = self.optimizer.state_dict()
        for index, state in optim["state"].items():
            for key, value in state.items():
                tensors[f"optim.{index}.{key}"] = torch.as_tensor(value)
        tensors["rng.noise"] = self.noise.get_state()
        tensors["rng.torch"] = torch.get_rng_state()
        header = {
            "step": self.step,
            "wall_time": self.wall_time,
            "heldout_psnr": self.heldout_psnr,
            "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "config": self.model.cfg.to_dict(),
            "options": dataclasses.asdict(self.opts),
            "param_groups": [{k: v for k, v in g.items()} for g in optim["param_groups"]],
        }
        save_tensors(path, tensors, metadata=header, header=header)

    @classmethod
    def load(
        cls, path: Path, device: str | torch.device = "cpu", overrides: dict | None = None
    ) -> VAETrainer:
        """Rebuild a run from a checkpoint; `overrides` replace saved options (e.g. steps)."""
        header = read_header(path)
        if "step" not in header or "config" not in header:
            raise ModelLoadError(f"{path} is not a VAE training checkpoint.")
        tensors = load_tensors(path)
        opts = TrainOptions(**{**header["options"], **(overrides or {})})
        trainer = cls(VAEConfig.from_dict(header["config"]), opts, device)
        model_state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
        load_state(trainer.model, model_state, str(path))
        state: dict[int, dict] = {}
        for name, value in tensors.items():
            if name.startswith("optim."):
                _, index, key = name.split(".", 2)
                state.setdefault(int(index), {})[key] = value
        groups = header["param_groups"]
        for group in groups:
            group["betas"] = tuple(group["betas"])
        trainer.optimizer.load_state_dict({"state": state, "param_groups": groups})
        trainer.noise.set_state(tensors["rng.noise"])
        torch.set_rng_state(tensors["rng.torch"])
        trainer.step, trainer.wall_time = int(header["step"]), float(header["wall_time"])
        trainer.heldout_psnr = header.get("heldout_psnr")
        return trainer


# ---------------------------------------------------------------- data


def world_batches(opts: TrainOptions, start_step: int, workers: int) -> Iterator[np.ndarray]:
    """uint8 (B, T, H, W, 3) world clips for steps start_step, start_step + 1, ...

    Step s always sees seeds TRAIN_SEED + s*B ... + B - 1, so a resumed run sees the data an
    uninterrupted one would have.
    """
    from ..synth import batches

    stream = batches(
        opts.batch,
        frames=opts.frames,
        size=opts.size,
        seed=TRAIN_SEED + start_step * opts.batch,
        workers=workers,
        masks=False,
    )
    try:
        for batch in stream:
            yield batch.frames
    finally:
        stream.close()


def world_clips(seeds, frames: int, size: int) -> np.ndarray:
    """uint8 (N, T, H, W, 3) world clips of the given seeds."""
    from ..synth import render_clip

    return np.stack([render_clip(int(s), frames, size).frames for s in seeds])


# ---------------------------------------------------------------- command line


def default_out_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("kinema")) / "train" / "vae"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt = parser.add_argument
    opt("--out", type=Path, help="checkpoint and log folder (default: the user cache)")
    opt(
        "--resume",
        action="store_true",
        help="continue the run in --out exactly (options given again override, e.g. --steps)",
    )
    opt(
        "--export", type=Path, metavar="DIR", help="when done, write DIR/vae.safetensors + vae.json"
    )
    opt("--device", default="auto", help="cpu, cuda or auto (default)")
    opt("--model-size", choices=list(PRESETS), default="builtin", help="size of a new model")
    opt("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    opt("--workers", type=int, help="world render processes (default: 4 on cuda, 0 on cpu)")
    opt("--log-every", type=int, default=10, help="steps between log lines (10)")
    opt("--eval-every", type=int, default=500, help="steps between held-out PSNR (500)")
    opt("--eval-clips", type=int, default=16, help="held-out clips per evaluation (16)")
    opt("--save-every", type=int, default=500, help="steps between checkpoints (500)")
    opt("--scaling-clips", type=int, default=64, help="clips to measure latent scaling (64)")
    # training options: None keeps the saved value on --resume, else the default
    add_option_arguments(parser, TrainOptions)


def run(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out) if args.out else default_out_dir()
    ckpt = out / CHECKPOINT
    given = given_options(args, TrainOptions)
    export_only = ckpt.exists() and not args.resume and args.export is not None
    if ckpt.exists() and (args.resume or export_only):
        trainer = VAETrainer.load(ckpt, device, given)
        print(f"{'Exporting' if export_only else 'Resuming'} {ckpt} at step {trainer.step}.")
    elif ckpt.exists():
        raise InvalidRequest(
            f"{out} already holds a training run; pass --resume to continue it, --export DIR "
            "to export it, or choose another --out."
        )
    else:
        if args.resume:
            print(f"No checkpoint in {out}; starting a new run.")
        opts = TrainOptions(**given)
        if (opts.frames - 1) % 4 or opts.size % 8:
            raise InvalidRequest("Training clips need 1 + 4k frames and a size divisible by 8.")
        trainer = VAETrainer(preset(args.model_size), opts, device)
    out.mkdir(parents=True, exist_ok=True)
    _trim_log(out / LOG, trainer.step)
    code = 0 if export_only else train(trainer, out, args)
    if code == 0 and args.export is not None:
        export(trainer, Path(args.export), args.scaling_clips, args.eval_clips)
    return code


def train(trainer: VAETrainer, out: Path, args: argparse.Namespace) -> int:
    """The loop: steps until `opts.steps` (or `opts.minutes`), logging, held-out PSNR, checkpoints; 0 when done,
    130 after Ctrl-C, 143 after SIGTERM (a checkpoint is written either way)."""
    opts = trainer.opts
    if trainer.done():
        return 0
    workers = args.workers if args.workers is not None else 4 * (trainer.device.type == "cuda")
    heldout = world_clips(HELDOUT_SEEDS[: args.eval_clips], opts.frames, opts.size)
    stop = _Stop()
    data = world_batches(opts, trainer.step, workers)
    saved, code, last = trainer.step, 0, time.perf_counter()
    params = sum(p.numel() for p in trainer.model.parameters())
    print(f"Training the VAE ({params / 1e6:.2f} M parameters) on {trainer.device}, to {out}")
    try:
        with stop, open(out / LOG, "a") as log:
            while not trainer.done() and not stop.signal:
                tick = time.perf_counter()
                stats = trainer.train_step(next(data))
                trainer.wall_time += time.perf_counter() - tick
                step = trainer.step
                final = trainer.done()
                if step % args.log_every == 0 or final:
                    now = time.perf_counter()
                    stats.update(step=step, sec_per_step=(now - last) / args.log_every)
                    last = now
                    log.write(json.dumps(stats) + "\n")
                    log.flush()
                    print(
                        f"step {step:6d}/{opts.steps}  loss {stats['loss']:.4f}  "
                        f"psnr {stats['psnr']:5.2f} dB  lr {stats['lr']:.2e}  "
                        f"{stats['sec_per_step']:.2f} s/step"
                    )
                if step % args.eval_every == 0 or final:
                    value = trainer.evaluate(heldout)
                    log.write(json.dumps({"step": step, "heldout_psnr": value}) + "\n")
                    log.flush()
                    print(f"step {step:6d}  held-out PSNR {value:.2f} dB")
                if step % args.save_every == 0:
                    trainer.save(out / CHECKPOINT)
                    saved = step
    except KeyboardInterrupt:
        code = 130
    finally:
        data.close()
        if trainer.step != saved or not (out / CHECKPOINT).exists():
            trainer.save(out / CHECKPOINT)
    if stop.signal:
        code = 143
    if code:
        print(f"Stopped at step {trainer.step}; checkpoint saved. Continue with --resume.")
    return code


def export(trainer: VAETrainer, folder: Path, scaling_clips: int, eval_clips: int) -> Path:
    """Measure latent scaling and held-out PSNR, write folder/vae.safetensors + vae.json."""
    opts = trainer.opts
    seeds = range(TRAIN_SEED, TRAIN_SEED + scaling_clips)
    trainer.measure_scaling(world_clips(seeds, opts.frames, opts.size))
    value = trainer.evaluate(world_clips(HELDOUT_SEEDS[:eval_clips], opts.frames, opts.size))
    path = folder / "vae.safetensors"
    trainer.model.save(
        path,
        training={
            "steps": trainer.step,
            "batch": opts.batch,
            "clip": f"{opts.frames}x{opts.size}x{opts.size}",
            "data": f"procedural world, seeds >= {TRAIN_SEED}",
            "heldout_psnr_db": round(value, 2),
            "heldout_clips": eval_clips,
            "train_hours": round(trainer.wall_time / 3600, 2),
        },
    )
    print(f"Exported {path} (held-out PSNR {value:.2f} dB on {eval_clips} clips).")
    return path


class _Stop:
    """Turns SIGTERM into a flag the loop checks between steps (main thread only)."""

    def __init__(self):
        self.signal = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._on_signal)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)

    def _on_signal(self, signum, frame):
        self.signal = True


def _trim_log(path: Path, step: int) -> None:
    """Drop log lines past `step` (written after the checkpoint a run resumes from)."""
    if not path.exists():
        return
    lines = path.read_text().splitlines()
    kept = [line for line in lines if line and json.loads(line).get("step", 0) <= step]
    if len(kept) != len(lines):
        path.write_text("".join(line + "\n" for line in kept))
