"""Train the built-in generator on the procedural world, through the frozen VAE.

    kinema train dit --device cuda --minutes 9 --export assets/models/builtin
    kinema train dit --resume --minutes 20           # continue a run (the buffer refills)

World clips are rendered by worker processes (seeds >= TRAIN_SEED; evaluation uses seeds
below it), each with its exact labels turned into the controls a user would paint
(`example`): the camera's homography field, and for one object a rough brushed region (its
first-frame mask, dilated) with its path. The main process encodes clips with the VAE into a
replay buffer on the device and trains on batches drawn from it, so a fast GPU is not held
back by the renderer (each clip is seen several times, at different noise levels).

Diffusion forcing: each example's latent frames get noise levels drawn one of four ways:
shared by all frames, independent per frame, frame 0 clean (image-to-video), or the first
frames clean (extension). Clean frames carry no loss, and latent pixels the world's objects
cover carry `object_weight` more (`object_cover`). Prompt, camera and brush are dropped
independently (and all together) so guidance can be applied. Weights are kept as an
exponential moving average, which is what is exported.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..assets import BUILTIN_WEIGHTS
from ..errors import InvalidRequest, ModelLoadError
from ..models.conditioning import camera_displacement, control_channels, latent_frame_sources
from ..models.dit import PRESETS, DiTConfig, VideoDiT, preset
from ..models.layout import OBJECT_CHANNELS, SCENE_CHANNELS, layout_from_clip
from ..models.vae import CausalVideoVAE
from ..weights import load_state, load_tensors, read_header, save_tensors
from . import add_option_arguments, given_options, option, resolve_device

TRAIN_SEED = 1_000_000
CHECKPOINT = "checkpoint.safetensors"
LOG = "log.jsonl"
DEFAULT_VAE = BUILTIN_WEIGHTS / "vae.safetensors"


@dataclass
class TrainOptions:
    steps: int = option(100_000, "optimizer steps at most")
    minutes: float = option(0.0, "train for this many minutes; the schedule follows time")
    batch: int = option(64, "examples per step")
    lr: float = option(6e-4, "peak AdamW learning rate")
    warmup: int = option(300, "linear warm-up steps")
    weight_decay: float = option(0.02, "AdamW weight decay")
    grad_clip: float = option(1.0, "max gradient norm")
    ema: float = option(0.998, "decay of the exported moving average of the weights")
    frames: int = option(25, "video frames per clip (1 + 4k)")
    size: int = option(128, "clip width and height")
    buffer: int = option(60_000, "clips kept in the replay buffer")
    drop_text: float = option(0.1, "probability of dropping the prompt")
    drop_camera: float = option(0.1, "probability of dropping the camera control")
    drop_brush: float = option(0.25, "probability of dropping the strokes")
    drop_all: float = option(0.05, "probability of dropping prompt and controls together")
    layout: bool = option(
        True, "condition on the scene's layout (engine.models.layout), as a plan gives it"
    )
    drop_layout: float = option(0.25, "probability of dropping the layout (a shot with no plan)")
    object_weight: float = option(
        4.0, "extra loss weight on latent pixels the world's objects cover (0: none)"
    )
    seed: int = option(0, "torch seed")


# ----------------------------------------------------------------------------- examples


def example(seed: int, frames: int = 25, size: int = 128, layout: bool = True) -> dict:
    """One world clip with its caption and control channels, as a user would have drawn them,
    followed (with `layout`) by the clip's exact layout, as a plan would give it."""
    import cv2

    from ..camera import Pose
    from ..camera import pose_to_homography as homography
    from ..motion import MotionStroke, TrajectoryPoint, compile_strokes
    from ..synth import FOV_DEG, render_clip

    clip = render_clip(int(seed), frames, size)
    rng = np.random.default_rng([int(seed), 7])
    lat = size // 8
    sources = latent_frame_sources(frames)
    homs = np.stack([homography(Pose(*clip.pose_array[f]), size, size, FOV_DEG) for f in sources])
    camera = camera_displacement(homs, lat, lat, size, size)
    controls = control_channels(camera)
    candidates = []
    for obj in clip.objects:
        area = obj.masks[0].sum()
        travel = float(np.linalg.norm(obj.trajectory[-1] - obj.trajectory[0]))
        if area >= 12 and np.isfinite(obj.trajectory).all():
            candidates.append((obj, travel))
    if candidates and rng.random() < 0.9:
        moving = [c for c in candidates if c[1] > 2.0]
        pool = moving if moving and rng.random() < 0.8 else candidates
        obj = pool[rng.integers(len(pool))][0]
        radius = int(rng.integers(1, 6))
        region = cv2.dilate(obj.masks[0].astype(np.uint8), np.ones((2 * radius + 1,) * 2, np.uint8))
        region = cv2.GaussianBlur(region.astype(np.float32), (0, 0), 1.0)
        jitter = rng.normal(0, 0.8, (len(sources), 2))
        points = [
            TrajectoryPoint(
                float(np.clip((obj.trajectory[f, 0] + j[0] * (k > 0)) / size, 0, 1)),
                float(np.clip((obj.trajectory[f, 1] + j[1] * (k > 0)) / size, 0, 1)),
                float(f),
            )
            for k, (f, j) in enumerate(zip(sources, jitter))
        ]
        fields_ = compile_strokes([MotionStroke(mask=region, trajectory=points)], lat, lat, frames)
        flows = fields_.flows[sources] / np.float32(lat)
        moved = fields_.move_masks[sources]
        controls = control_channels(camera, flows, moved[0], moved)
    if layout:
        controls = np.concatenate([controls, layout_from_clip(clip, lat, lat)])
    return {
        "frames": clip.frames,
        "caption": clip.caption,
        "controls": controls.astype(np.float16),
        "objects": object_cover(clip.objects, frames, size),
        "seed": int(seed),
    }


def object_cover(objects, frames: int, size: int) -> np.ndarray:
    """(T', size/8, size/8) uint8: latent pixels any object touches within each latent frame's
    group of video frames.

    Objects are what a prompt names and a stroke moves, yet they cover a few percent of the
    frame: without extra weight the loss is nearly all sky and ground, and the model learns
    the scene long before it learns the things in it.
    """
    lat = size // 8
    union = np.zeros((frames, size, size), bool)
    for obj in objects:
        union |= np.asarray(obj.masks[:frames], bool)
    cells = union.reshape(frames, lat, 8, lat, 8).any(axis=(2, 4))
    groups = [cells[:1]] + [cells[f - 3 : f + 1] for f in latent_frame_sources(frames)[1:]]
    return np.stack([g.any(axis=0) for g in groups]).astype(np.uint8)


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _example_star(args):
    return example(*args)


def _quiet_worker() -> None:
    """Workers report failures through the pool; silence the pipe errors of a pool shutdown."""
    import os
    import sys

    import cv2

    cv2.setNumThreads(1)  # one core per worker: library threads would only fight each other
    torch.set_num_threads(1)
    os.nice(10)  # the trainer comes first: rendering fills the gaps it leaves
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115


class ExampleStream:
    """Examples for seeds start, start + 1, ... from worker processes, read on a thread."""

    def __init__(
        self, start: int, frames: int, size: int, workers: int, depth: int = 512, layout=True
    ):
        import multiprocessing

        self.queue: queue.Queue = queue.Queue(depth)
        self._stop = threading.Event()
        # spawned workers read these at start: one BLAS / OpenMP thread each, or 16 workers
        # each start 16 threads and the trainer's own process starves
        saved = {k: os.environ.get(k) for k in _THREAD_VARS}
        os.environ.update(dict.fromkeys(_THREAD_VARS, "1"))
        try:
            self._pool = multiprocessing.get_context("spawn").Pool(max(1, workers), _quiet_worker)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        seeds = ((s, frames, size, layout) for s in range(start, start + 10**9))
        self._iter = self._pool.imap(_example_star, seeds, chunksize=4)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for item in self._iter:
            while not self._stop.is_set():
                try:
                    self.queue.put(item, timeout=0.5)
                    break
                except queue.Full:
                    continue
            if self._stop.is_set():
                return

    def take(self, most: int) -> list[dict]:
        items = []
        while len(items) < most:
            try:
                items.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return items

    def close(self) -> None:
        """Stop the workers without waiting on a renderer mid-clip."""
        self._stop.set()
        self._pool.terminate()


# ----------------------------------------------------------------------------- the trainer


class ReplayBuffer:
    """Latents, controls and captions of the most recent `capacity` clips, on the device."""

    def __init__(self, capacity: int):
        self.capacity, self.size, self.next = capacity, 0, 0
        self.latents: torch.Tensor | None = None
        self.controls: torch.Tensor | None = None
        self.objects: torch.Tensor | None = None
        self.captions: list[str] = [""] * capacity

    def add(
        self,
        latents: torch.Tensor,
        controls: torch.Tensor,
        captions: list[str],
        objects: torch.Tensor | None = None,
    ) -> None:
        if objects is None:
            objects = latents.new_zeros((latents.shape[0], *latents.shape[2:]), dtype=torch.uint8)
        if self.latents is None:
            self.latents = latents.new_zeros((self.capacity, *latents.shape[1:]))
            self.controls = controls.new_zeros((self.capacity, *controls.shape[1:]))
            self.objects = objects.new_zeros((self.capacity, *objects.shape[1:]))
        for i in range(len(captions)):
            self.latents[self.next] = latents[i]
            self.controls[self.next] = controls[i]
            self.objects[self.next] = objects[i]
            self.captions[self.next] = captions[i]
            self.next = (self.next + 1) % self.capacity
            self.size = min(self.size + 1, self.capacity)

    def sample(self, n: int, generator: torch.Generator):
        index = torch.randint(0, self.size, (n,), generator=generator, device="cpu")
        rows = index.to(self.latents.device)
        captions = [self.captions[i] for i in index.tolist()]
        return self.latents[rows], self.controls[rows], self.objects[rows], captions


def noise_levels(batch: int, frames: int, generator: torch.Generator) -> torch.Tensor:
    """(B, T) diffusion-forcing noise levels (logit-normal); zeros mark clean, given frames.

    45 % of examples share one level over all frames, 25 % draw one per frame, 20 % share one
    with frame 0 clean (image-to-video), 10 % share one with the first 1..T-2 frames clean
    (extension).
    """
    shared = torch.sigmoid(torch.randn(batch, 1, generator=generator)).expand(batch, frames)
    own = torch.sigmoid(torch.randn(batch, frames, generator=generator))
    mode = torch.rand(batch, 1, generator=generator)
    t = torch.where((mode >= 0.45) & (mode < 0.7), own, shared).clone()
    given = torch.zeros(batch, 1, dtype=torch.long)
    given = torch.where((mode >= 0.7) & (mode < 0.9), torch.ones_like(given), given)
    if frames > 2:
        extend = torch.randint(1, frames - 1, (batch, 1), generator=generator)
        given = torch.where(mode >= 0.9, extend, given)
    clean = torch.arange(frames)[None, :] < given
    return t.masked_fill(clean, 0.0)


def weighted_mse(v: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Squared error per latent value, weighted per latent pixel, averaged over the weight."""
    err = (v.float() - target).pow(2) * weight
    return err.sum() / (weight.sum() * target.shape[1]).clamp_min(1)


class DiTTrainer:
    def __init__(self, cfg: DiTConfig, opts: TrainOptions, vae: CausalVideoVAE, device):
        self.opts, self.device = opts, torch.device(device)
        torch.manual_seed(opts.seed)
        self.model = VideoDiT(cfg).to(self.device).train()
        self.ema = VideoDiT(cfg).to(self.device).eval()
        self.ema.load_state_dict(self.model.state_dict())
        self.ema.requires_grad_(False)
        self.vae = vae.to(self.device).eval().requires_grad_(False)
        decay, plain = [], []
        for name, p in self.model.named_parameters():
            (decay if p.ndim >= 2 and "embed" not in name else plain).append(p)
        self.optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": opts.weight_decay},
                {"params": plain, "weight_decay": 0.0},
            ],
            lr=opts.lr,
            betas=(0.9, 0.98),
            fused=self.device.type == "cuda",
        )
        self.generator = torch.Generator().manual_seed(opts.seed + 1)
        self.noise = torch.Generator(self.device).manual_seed(opts.seed + 2)
        self.step, self.wall_time, self.clips_seen = 0, 0.0, 0
        self.earlier: list[dict] = []  # training facts of the runs this one started from

    def lr_at(self, step: int) -> float:
        o = self.opts
        if step < o.warmup:
            return o.lr * (step + 1) / o.warmup
        progress = min(1.0, (step - o.warmup) / max(1, o.steps - o.warmup))
        if o.minutes > 0:
            progress = max(progress, min(1.0, self.wall_time / (60 * o.minutes)))
        return o.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))

    def done(self) -> bool:
        o = self.opts
        return self.step >= o.steps or (o.minutes > 0 and self.wall_time >= 60 * o.minutes)

    @torch.no_grad()
    def encode(self, frames_u8: np.ndarray) -> torch.Tensor:
        """uint8 (B, T, H, W, 3) -> normalised latents; the uint8 -> float conversion runs on
        the device, since on the host it costs more than the training step."""
        video = torch.from_numpy(frames_u8).to(self.device, non_blocking=True)
        video = video.permute(0, 4, 1, 2, 3).float().div_(127.5).sub_(1.0)
        with torch.autocast("cuda", torch.bfloat16, enabled=self.device.type == "cuda"):
            latents = self.vae.encode(video)
        return self.vae.normalize(latents.float())

    def draw(self, buffer: ReplayBuffer) -> dict:
        """A training batch: clean latents with their controls and prompts dropped as guidance
        needs, noised to diffusion-forcing levels, and the loss weight of each latent pixel."""
        o, g = self.opts, self.generator
        x0, controls, objects, captions = buffer.sample(o.batch, g)
        x0, controls = x0.float(), controls.float()
        b, frames = x0.shape[0], x0.shape[2]
        drop_all = torch.rand(b, generator=g) < o.drop_all
        drop_text = (torch.rand(b, generator=g) < o.drop_text) | drop_all
        drop_cam = ((torch.rand(b, generator=g) < o.drop_camera) | drop_all).to(self.device)
        drop_brush = ((torch.rand(b, generator=g) < o.drop_brush) | drop_all).to(self.device)
        controls[:, 0:3] *= (~drop_cam).float()[:, None, None, None, None]
        controls[:, 3:8] *= (~drop_brush).float()[:, None, None, None, None]
        if controls.shape[1] > 8:  # the layout: dropped as a shot without a plan has none
            drop_layout = ((torch.rand(b, generator=g) < o.drop_layout) | drop_all).to(self.device)
            controls[:, 8:] *= (~drop_layout).float()[:, None, None, None, None]
        prompts = ["" if d else c for c, d in zip(captions, drop_text.tolist())]

        t = self.levels(b, frames).to(self.device)
        noise = torch.randn(x0.shape, generator=self.noise, device=self.device)
        tt = t[:, None, :, None, None]
        weight = (t > 0).float()[:, None, :, None, None] * (1 + o.object_weight * objects.float())[
            :, None
        ]
        return {
            "x0": x0,
            "noise": noise,
            "xt": (1 - tt) * x0 + tt * noise,
            "t": t,
            "controls": controls,
            "prompts": prompts,
            "weight": weight,
        }

    def levels(self, batch: int, frames: int) -> torch.Tensor:
        return noise_levels(batch, frames, self.generator)

    def train_step(self, buffer: ReplayBuffer) -> dict[str, float]:
        batch = self.draw(buffer)
        self.set_lr()
        with torch.autocast("cuda", torch.bfloat16, enabled=self.device.type == "cuda"):
            text = self.model.encode_text(batch["prompts"])
            v = self.model(batch["xt"], batch["t"], batch["controls"], text)
        return self.optimise(weighted_mse(v, batch["noise"] - batch["x0"], batch["weight"]))

    def set_lr(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(self.step)

    def optimise(self, loss: torch.Tensor) -> dict[str, float]:
        """One optimizer step on `loss`, then the moving average."""
        o = self.opts
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), o.grad_clip)
        self.optimizer.step()
        with torch.no_grad():
            decay = min(o.ema, (1 + self.step) / (10 + self.step))
            torch._foreach_lerp_(
                list(self.ema.parameters()), list(self.model.parameters()), 1 - decay
            )
        self.step += 1
        return {
            "loss": loss.detach(),  # tensors: read at log time, so steps do not sync the GPU
            "grad_norm": norm.detach(),
            "lr": self.optimizer.param_groups[0]["lr"],
        }

    # -- checkpoints

    def save(self, path: Path) -> None:
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        tensors |= {f"ema.{k}": v for k, v in self.ema.state_dict().items()}
        optim = self.optimizer.state_dict()
        for index, state in optim["state"].items():
            for key, value in state.items():
                tensors[f"optim.{index}.{key}"] = torch.as_tensor(value)
        header = {
            "step": self.step,
            "wall_time": self.wall_time,
            "clips_seen": self.clips_seen,
            "earlier": self.earlier,
            "config": self.model.cfg.to_dict(),
            "options": dataclasses.asdict(self.opts),
            "param_groups": [dict(g, params=list(g["params"])) for g in optim["param_groups"]],
        }
        save_tensors(path, tensors, metadata=header, header=header)

    @classmethod
    def load(cls, path: Path, vae: CausalVideoVAE, device, overrides: dict | None = None):
        header = read_header(path)
        if "step" not in header or "config" not in header:
            raise ModelLoadError(f"{path} is not a generator training checkpoint.")
        tensors = load_tensors(path)
        opts = TrainOptions(**{**header["options"], **(overrides or {})})
        trainer = cls(DiTConfig.from_dict(header["config"]), opts, vae, device)
        load_state(
            trainer.model,
            {k[6:]: v for k, v in tensors.items() if k.startswith("model.")},
            str(path),
        )
        load_state(
            trainer.ema, {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}, str(path)
        )
        state: dict[int, dict] = {}
        for name, value in tensors.items():
            if name.startswith("optim."):
                _, index, key = name.split(".", 2)
                state.setdefault(int(index), {})[key] = value.to(trainer.device)
        groups = header["param_groups"]
        for group in groups:
            group["betas"] = tuple(group["betas"])
        trainer.optimizer.load_state_dict({"state": state, "param_groups": groups})
        trainer.step, trainer.wall_time = int(header["step"]), float(header["wall_time"])
        trainer.clips_seen = int(header.get("clips_seen", 0))
        trainer.earlier = list(header.get("earlier", []))
        return trainer


# ----------------------------------------------------------------------------- command line


def default_out_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("kinema")) / "train" / "dit"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt = parser.add_argument
    opt("--out", type=Path, help="checkpoint and log folder (default: the user cache)")
    opt("--resume", action="store_true", help="continue the run in --out")
    opt(
        "--export", type=Path, metavar="DIR", help="when done, write DIR/dit.safetensors + dit.json"
    )
    opt("--vae", type=Path, default=DEFAULT_VAE, help="the VAE weights (default: the shipped ones)")
    opt("--device", default="auto", help="cpu, cuda or auto (default)")
    opt("--model-size", choices=list(PRESETS), default="builtin", help="size of a new model")
    opt("--threads", type=int, help="CPU threads for torch")
    opt("--workers", type=int, default=2, help="world render processes (2)")
    opt("--log-every", type=int, default=50, help="steps between log lines (50)")
    opt("--save-every", type=int, default=2000, help="steps between checkpoints (2000)")
    opt("--min-buffer", type=int, default=512, help="clips in the buffer before training starts")
    opt(
        "--fresh",
        type=float,
        default=16,
        help="new clips taken into the buffer per step at most (below 1 on a CPU, where "
        "encoding them costs training time)",
    )
    opt("--init", type=Path, help="start a new run from exported generator weights")
    add_option_arguments(parser, TrainOptions)


def run(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    out = Path(args.out) if args.out else default_out_dir()
    ckpt = out / CHECKPOINT
    vae = CausalVideoVAE.load(args.vae)
    given = given_options(args, TrainOptions)
    if ckpt.exists() and args.resume:
        trainer = DiTTrainer.load(ckpt, vae, device, given)
        print(f"Resuming {ckpt} at step {trainer.step}.")
    elif ckpt.exists():
        raise InvalidRequest(
            f"{out} already holds a training run; pass --resume or choose another --out."
        )
    else:
        opts = TrainOptions(**given)
        if (opts.frames - 1) % 4 or opts.size % 16:
            raise InvalidRequest("Training clips need 1 + 4k frames and a size divisible by 16.")
        if args.init is not None:
            init = VideoDiT.load(args.init)
            cfg = init.cfg
            if opts.layout and not cfg.layout_channels:  # widen: the layout's inputs start at 0
                cfg = dataclasses.replace(
                    cfg, layout_channels=OBJECT_CHANNELS, scene_channels=SCENE_CHANNELS
                )
            trainer = DiTTrainer(cfg, opts, vae, device)
            trainer.model.load_without_layout(init.state_dict())
            trainer.ema.load_without_layout(init.state_dict())
            info = dict(init.training_info)
            trainer.earlier = [*info.pop("earlier_runs", []), info]
            # clips_seen counts the clips of every run so far, so this one renders new seeds
            trainer.clips_seen = int(info.get("clips_seen", 0))
            print(f"Starting from {args.init}.")
        else:
            cfg = preset(args.model_size)
            if opts.layout:
                cfg = dataclasses.replace(
                    cfg, layout_channels=OBJECT_CHANNELS, scene_channels=SCENE_CHANNELS
                )
            trainer = DiTTrainer(cfg, opts, vae, device)
    out.mkdir(parents=True, exist_ok=True)
    code = train(trainer, out, args)
    if code == 0 and args.export is not None:
        export(trainer, Path(args.export), args)
    trainer.save(out / CHECKPOINT)
    return code


def train(trainer: DiTTrainer, out: Path, args: argparse.Namespace, export_to=None) -> int:
    """The training loop; `export_to(trainer, folder, args)` writes the weights at each
    checkpoint when `args.export` is set (`export` by default)."""
    export_to = export_to or export
    o = trainer.opts
    params = sum(p.numel() for p in trainer.model.parameters())
    print(f"Training the generator ({params / 1e6:.2f} M parameters) on {trainer.device}, to {out}")
    stream = ExampleStream(
        TRAIN_SEED + trainer.clips_seen + 7_919 * trainer.step,
        o.frames,
        o.size,
        args.workers,
        layout=bool(trainer.model.cfg.layout_channels),
    )
    buffer = ReplayBuffer(o.buffer)
    pending: list[dict] = []
    last, losses, code, absorbing, credit = time.perf_counter(), [], 0, 0.0, 0.0

    def absorb(most: int) -> None:
        pending.extend(stream.take(most))
        while len(pending) >= 16 or (pending and buffer.size < args.min_buffer):
            chunk, pending[:] = pending[:16], pending[16:]
            latents = trainer.encode(np.stack([c["frames"] for c in chunk]))
            controls = torch.from_numpy(np.stack([c["controls"] for c in chunk])).to(trainer.device)
            dtype = torch.bfloat16 if trainer.device.type == "cuda" else torch.float32
            objects = torch.from_numpy(np.stack([c["objects"] for c in chunk])).to(trainer.device)
            captions = [c["caption"] for c in chunk]
            buffer.add(latents.to(dtype), controls.to(dtype), captions, objects)
            trainer.clips_seen += len(chunk)

    try:
        with open(out / LOG, "a") as log:
            shown = 0
            while buffer.size < args.min_buffer:
                absorb(256)
                if buffer.size >= shown + 256:
                    shown = buffer.size
                    print(f"Filling the buffer: {shown} of {args.min_buffer} clips.", flush=True)
                time.sleep(0.05)
            print(f"Buffer holds {buffer.size} clips; training.")
            if args.fresh <= 0:  # a fixed data set: the renderers would only steal the CPU
                stream.close()
            while not trainer.done():
                tick = time.perf_counter()
                credit += args.fresh
                absorb(int(credit))
                credit -= int(credit)
                absorbing += time.perf_counter() - tick
                stats = trainer.train_step(buffer)
                trainer.wall_time += time.perf_counter() - tick
                losses.append(stats["loss"])
                if trainer.step % args.log_every == 0 or trainer.done():
                    now = time.perf_counter()
                    stats.update(
                        step=trainer.step,
                        loss=torch.stack(losses).mean().item(),
                        grad_norm=stats["grad_norm"].item(),
                        sec_per_step=(now - last) / max(1, len(losses)),
                        absorb_per_step=absorbing / max(1, len(losses)),  # host time on new clips
                        buffer=buffer.size,
                        clips_seen=trainer.clips_seen,
                        minutes=trainer.wall_time / 60,
                    )
                    losses, last, absorbing = [], now, 0.0
                    log.write(json.dumps(stats) + "\n")
                    log.flush()
                    print(
                        f"step {trainer.step:6d}  loss {stats['loss']:.4f}  lr {stats['lr']:.1e}  "
                        f"{stats['sec_per_step'] * 1e3:.0f} ms/step "
                        f"({stats['absorb_per_step'] * 1e3:.0f} on new clips)  buffer {buffer.size}  "
                        f"clips {trainer.clips_seen}  {stats['minutes']:.1f} min",
                        flush=True,
                    )
                if trainer.step % args.save_every == 0:
                    trainer.save(out / CHECKPOINT)
                    if args.export is not None:  # so a long run can be looked at as it goes
                        export_to(trainer, Path(args.export), args)
    except KeyboardInterrupt:
        code = 130
    finally:
        stream.close()
    return code


def export(trainer: DiTTrainer, folder: Path, args: argparse.Namespace) -> Path:
    o = trainer.opts
    path = folder / "dit.safetensors"
    trainer.ema.save(
        path,
        training={
            "steps": trainer.step,
            "batch": o.batch,
            "clips_seen": trainer.clips_seen,
            "clip": f"{o.frames}x{o.size}x{o.size}",
            "data": f"procedural world, seeds >= {TRAIN_SEED}",
            "train_minutes": round(trainer.wall_time / 60, 1),
            "device": torch.cuda.get_device_name() if trainer.device.type == "cuda" else "cpu",
            "ema": o.ema,
            "lr": o.lr,
            "earlier_runs": trainer.earlier,
        },
    )
    print(f"Exported {path}.")
    return path
