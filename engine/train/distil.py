"""Fold classifier-free guidance into the built-in generator: one branch a step, not two.

    kinema train distil --minutes 60 --out runs/distil --export out/folded
    kinema train distil --resume --out runs/distil --minutes 30   # continue

The shipped generator (the teacher) needs two passes a step, one with the prompt and
controls and one without, blended by the guidance scale; on a CPU that is most of a clip's
cost. The student is the teacher with one more input, the guidance scale (`DiTConfig.
folded_guidance`, read through the adaptive norms like the noise level), taught to give the
teacher's guided velocity in one pass: at every noise level and in every mode the teacher
was trained on (diffusion forcing, image-to-video, extension, dropped prompts and controls),
at scales drawn over the taught range, a share of them at the studio's default of 3. Half
the examples take their noise level where a sampler steps (`sampler_levels`), pure noise
included, which the teacher's own training levels almost never reach.

The target is local, the velocity of one step, so the student keeps working wherever the
teacher's sampler does: any step count, passes that start from a guide, held regions and
streaming with a key-value cache. It starts as the teacher's conditional branch (the scale's
input layer starts at zero) and is fine-tuned from there. A world clip buffer is rendered
once (`--min-buffer` clips) and reused: the targets come from the teacher, not the clips, so
the clips only need to cover what the sampler will meet.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch

from ..assets import BUILTIN_WEIGHTS
from ..errors import InvalidRequest
from ..models.dit import TextContext, VideoDiT
from ..models.vae import CausalVideoVAE
from ..weights import read_header
from . import add_option_arguments, given_options, resolve_device
from .dit import CHECKPOINT, DEFAULT_VAE, DiTTrainer, TrainOptions, train, weighted_mse

#: guidance scales the student learns (the studio's default, 3, lies inside)
FOLDED_RANGE = (1.0, 6.0)
#: share of examples at the default scale, where nearly every clip is made
AT_DEFAULT = 0.4
DEFAULT_SCALE = 3.0
#: share of examples at the noise levels a sampler steps through (see `sampler_levels`)
AT_SAMPLER_LEVELS = 0.5


def sampler_levels(batch: int, generator: torch.Generator, shift: float = 2.0) -> torch.Tensor:
    """(B,) levels spread as a shifted sampler spends its steps (`engine.models.flow.
    schedule`'s map of evenly spaced steps), a tenth of them exactly at pure noise."""
    s = torch.rand(batch, generator=generator)
    s = torch.where(torch.rand(batch, generator=generator) < 0.1, torch.ones_like(s), s)
    return shift * s / (1 + (shift - 1) * s)


class GuidanceDistiller(DiTTrainer):
    """A `DiTTrainer` whose targets are the frozen teacher's guided velocities."""

    teacher: VideoDiT
    teacher_path: str = ""

    def student_from(self, teacher: VideoDiT) -> None:
        """Start student and moving average as the teacher (the scale's input at zero)."""
        state = teacher.state_dict()
        for module in (self.model, self.ema):
            own = module.state_dict()
            own.update(state)
            module.load_state_dict(own)
        self.ema.load_state_dict(self.model.state_dict())

    def levels(self, batch: int, frames: int) -> torch.Tensor:
        """The teacher's training levels, half of them moved to where samplers step.

        The teacher learnt on logit-normal levels, which almost never come near pure noise,
        yet a pass's first steps (1.0, 0.93, 0.86 at 8 steps) are where the clip's layout
        and the camera's motion are decided; a student copying the teacher there must be
        shown those levels."""
        t = super().levels(batch, frames)
        moved = torch.rand(batch, 1, generator=self.generator) < AT_SAMPLER_LEVELS
        level = sampler_levels(batch, self.generator)[:, None].expand_as(t)
        return torch.where(moved & (t > 0), level, t)

    def scales(self, batch: int) -> torch.Tensor:
        low, high = self.model.cfg.folded_guidance
        g = self.generator
        drawn = low + (high - low) * torch.rand(batch, generator=g)
        default = torch.rand(batch, generator=g) < AT_DEFAULT
        return torch.where(default, torch.full_like(drawn, DEFAULT_SCALE), drawn).to(self.device)

    @torch.no_grad()
    def target(self, batch: dict, scale: torch.Tensor) -> torch.Tensor:
        """The teacher's guided velocity, exactly as its sampler computes it
        (`engine.models.flow.guided_velocity`: empty prompt, controls dropped)."""
        xt, t, controls, prompts = batch["xt"], batch["t"], batch["controls"], batch["prompts"]
        text = self.teacher.encode_text(prompts)
        null = self.teacher.encode_text([""] * len(prompts))
        both = self.teacher(
            torch.cat([xt, xt]),
            torch.cat([t, t]),
            torch.cat([controls, torch.zeros_like(controls)]),
            TextContext.cat([text, null]),
        )
        cond, uncond = both.float().chunk(2)
        return uncond + scale[:, None, None, None, None] * (cond - uncond)

    def train_step(self, buffer) -> dict[str, float]:
        batch = self.draw(buffer)
        scale = self.scales(len(batch["prompts"]))
        with torch.autocast("cuda", torch.bfloat16, enabled=self.device.type == "cuda"):
            target = self.target(batch, scale)
            self.set_lr()
            text = self.model.encode_text(batch["prompts"])
            v = self.model(batch["xt"], batch["t"], batch["controls"], text, guidance=scale)
        return self.optimise(weighted_mse(v, target, batch["weight"]))

    def save(self, path: Path) -> None:
        # the checkpoint names its teacher in the run's facts, so a resume finds it again
        self.earlier = [e for e in self.earlier if "teacher" not in e]
        self.earlier.append({"teacher": self.teacher_path})
        super().save(path)


def export(trainer: GuidanceDistiller, folder: Path, args: argparse.Namespace) -> Path:
    o = trainer.opts
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dit.safetensors"
    teacher_info = dict(getattr(trainer.teacher, "training_info", {}))
    trainer.ema.save(
        path,
        training={
            "distilled": "classifier-free guidance folded in (one branch a step)",
            "steps": trainer.step,
            "batch": o.batch,
            "lr": o.lr,
            "ema": o.ema,
            "clips": trainer.clips_seen,
            "clip": f"{o.frames}x{o.size}x{o.size}",
            "folded_guidance": list(trainer.model.cfg.folded_guidance),
            "train_minutes": round(trainer.wall_time / 60, 1),
            "device": torch.cuda.get_device_name() if trainer.device.type == "cuda" else "cpu",
            "teacher": teacher_info,
        },
    )
    print(f"Exported {path}.")
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt = parser.add_argument
    opt("--teacher", type=Path, default=BUILTIN_WEIGHTS / "dit.safetensors",
        help="the generator to distil (default: the shipped one)")  # fmt: skip
    opt("--out", type=Path, required=True, help="checkpoint and log folder")
    opt("--init", type=Path, metavar="STUDENT",
        help="start a new run from a student exported earlier (its folded range kept)")  # fmt: skip
    opt("--resume", action="store_true", help="continue the run in --out")
    opt("--export", type=Path, metavar="DIR", help="write DIR/dit.safetensors + dit.json")
    opt("--vae", type=Path, default=DEFAULT_VAE, help="the VAE weights (default: the shipped ones)")
    opt("--device", default="auto", help="cpu, cuda or auto (default)")
    opt("--threads", type=int, help="CPU threads for torch")
    opt("--workers", type=int, default=2, help="world render processes (2)")
    opt("--log-every", type=int, default=10, help="steps between log lines (10)")
    opt("--save-every", type=int, default=100, help="steps between checkpoints (100)")
    opt("--min-buffer", type=int, default=1536, help="world clips rendered before training")
    opt("--fresh", type=float, default=0.0,
        help="new clips per step (0: train on the first buffer; renderers would steal the CPU)")  # fmt: skip
    add_option_arguments(parser, TrainOptions)


#: fine-tuning, not training from scratch: a gentler rate, a short average
DISTIL_DEFAULTS = dict(lr=1e-4, warmup=50, batch=8, ema=0.995, buffer=4096)


def _teacher(path: str, device) -> VideoDiT:
    teacher = VideoDiT.load(path, device).requires_grad_(False)
    if teacher.cfg.folded_guidance:  # e.g. a student exported over the teacher's file
        raise InvalidRequest(
            f"The teacher {path} has its guidance folded in: a student cannot learn "
            "two-branch guidance from it. Name the original generator with --teacher."
        )
    return teacher


def run(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    ckpt = out / CHECKPOINT
    vae = CausalVideoVAE.load(args.vae)
    given = given_options(args, TrainOptions)
    teacher = None
    if ckpt.exists() and args.resume:
        teacher_path = next(
            (e["teacher"] for e in read_header(ckpt).get("earlier", []) if "teacher" in e),
            str(args.teacher),
        )
        trainer = GuidanceDistiller.load(ckpt, vae, device, given)
        print(f"Resuming {ckpt} at step {trainer.step}.")
    elif ckpt.exists():
        raise InvalidRequest(
            f"{out} already holds a training run; pass --resume or choose another --out."
        )
    else:
        teacher_path = str(args.teacher)
        teacher = _teacher(teacher_path, device)
        opts = TrainOptions(**{**DISTIL_DEFAULTS, **given})
        if args.init is not None:
            student = VideoDiT.load(args.init, device)
            if not student.cfg.folded_guidance:
                raise InvalidRequest(f"{args.init} is not a student: its guidance is not folded.")
            trainer = GuidanceDistiller(student.cfg, opts, vae, device)
            trainer.student_from(student)
            trainer.earlier = [dict(getattr(student, "training_info", {}))]
        else:
            cfg = dataclasses.replace(teacher.cfg, folded_guidance=FOLDED_RANGE)
            trainer = GuidanceDistiller(cfg, opts, vae, device)
            trainer.student_from(teacher)
    trainer.teacher = teacher if teacher is not None else _teacher(teacher_path, device)
    trainer.teacher_path = teacher_path
    out.mkdir(parents=True, exist_ok=True)
    code = train(trainer, out, args, export_to=export)
    if code == 0 and args.export is not None:
        export(trainer, Path(args.export), args)
    trainer.save(out / CHECKPOINT)
    return code
