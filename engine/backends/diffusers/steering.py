"""Steer a stock model with the shot's camera path and strokes, training-free.

This is Time-to-Move's dual-clock denoising (Singer et al., 2025) on stock diffusers
pipelines, through a start latent and the step callback:

- The guide is the previs (`ShotControls.guide`: the keyframe carried by the camera path and
  the strokes) at the model's native plan, encoded by the model's own VAE.
- Sampling starts late: the schedule's first steps are dropped (`StartAt`) and the start
  latent is the guide noised to that level, so the whole clip inherits the guide's layout
  and motion while the model is free to redraw detail.
- Brushed regions keep a second, later clock: after every step until `move_release`, the
  latents inside the strokes' masks are replaced by the guide noised to the new level, so a
  moving object follows its path more tightly than the background.
- Static regions (pinned in the scene, so carried by the camera) are held the same way until
  the still later `static_release`.
- Holes (where the camera has moved past the keyframe's edge) are left free: the start
  latent there carries only the guide's mean colour plus the noise of a latent at that level.

`guide_strength` s in [0, 1] sets the clocks, as noise levels (1 = pure noise, 0 = clean):

    start          = 1 - 0.5 s          s = 0.6: 0.70
    move_release   = start (1 - 0.8 s)  s = 0.6: 0.36
    static_release = 0.15 (1 - s) + 0.05   s = 0.6: 0.11

s = 0 steers nothing and samples exactly as the plain pipeline does.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Clocks:
    start: float  # noise level sampling starts at
    move_release: float  # brushed regions follow the guide while the level is above this
    static_release: float  # static regions are held while the level is above this


def clocks_for(strength: float) -> Clocks:
    s = float(min(max(strength, 0.0), 1.0))
    start = 1.0 - 0.5 * s
    return Clocks(start, start * (1.0 - 0.8 * s), 0.15 * (1.0 - s) + 0.05)


# ------------------------------------------------------------------ schedules and levels


def levels(scheduler) -> np.ndarray:
    """Noise level (0 clean .. 1 noise) of the sample *entering* each step, plus the end."""
    alpha, sigma = alphas_sigmas(scheduler)
    return (sigma / (alpha + sigma)).numpy() if _is_ddpm(scheduler) else sigma.numpy()


def _is_ddpm(scheduler) -> bool:
    return not (hasattr(scheduler, "sigmas") and _is_flow(scheduler))


def _is_flow(scheduler) -> bool:
    config = scheduler.config
    return (
        "FlowMatch" in type(scheduler).__name__
        or bool(config.get("use_flow_sigmas"))
        or config.get("prediction_type") == "flow_prediction"
    )


def alphas_sigmas(scheduler) -> tuple[torch.Tensor, torch.Tensor]:
    """x_i = alpha_i x0 + sigma_i noise for each step's input i = 0..N (the last: the end)."""
    if not _is_ddpm(scheduler):
        sigmas = scheduler.sigmas.detach().float().cpu()
        return 1.0 - sigmas, sigmas
    bar = scheduler.alphas_cumprod.float().cpu()
    steps = [int(t) for t in scheduler.timesteps]
    a = torch.stack([bar[t] for t in steps] + [torch.tensor(1.0)])
    return a.sqrt(), (1 - a).sqrt()


def start_index(scheduler, start_level: float) -> int:
    """The first step whose input is at or below `start_level` (never the very last)."""
    lv = levels(scheduler)
    steps = len(scheduler.timesteps)
    for i in range(steps):
        if lv[i] <= start_level + 1e-6:
            return min(i, steps - 1)
    return steps - 1


class StartAt:
    """While active, the scheduler's `set_timesteps` drops the first `skip` steps.

    The pipeline then loops over the rest as if it had asked for them, from the start latent
    it was given.
    """

    def __init__(self, scheduler, skip: int) -> None:
        self.scheduler = scheduler
        self.skip = skip

    def __enter__(self) -> StartAt:
        if self.skip <= 0:
            return self
        original = self.scheduler.set_timesteps
        skip = self.skip

        @functools.wraps(original)  # pipelines inspect its signature for sigmas / timesteps
        def set_timesteps(*args, **kwargs):
            out = original(*args, **kwargs)
            truncate(self.scheduler, skip)
            return out

        self.scheduler.set_timesteps = set_timesteps
        return self

    def __exit__(self, *exc) -> None:
        self.scheduler.__dict__.pop("set_timesteps", None)


def truncate(scheduler, skip: int) -> None:
    scheduler.timesteps = scheduler.timesteps[skip:]
    # DDIM-style schedulers derive the previous timestep from the step count: it stays whole
    if not _is_ddpm(scheduler):
        scheduler.sigmas = scheduler.sigmas[skip:]
        if hasattr(scheduler, "num_inference_steps"):
            scheduler.num_inference_steps = len(scheduler.timesteps)


def scheduled_copy(scheduler, steps: int, **kwargs):
    """A copy of `scheduler` set to `steps` as the pipeline will set it."""
    copied = copy.deepcopy(scheduler)
    copied.__dict__.pop("step", None)
    copied.__dict__.pop("set_timesteps", None)
    copied.set_timesteps(steps, **kwargs)
    return copied


# ------------------------------------------------------------------ the plan of one run


@dataclass
class Steering:
    """Everything the callback needs, at latent resolution, laid out (B, C, T', h, w)."""

    clocks: Clocks
    guide: torch.Tensor  # normalised guide latents
    noise: torch.Tensor  # one fixed noise draw, so re-noising is consistent step to step
    move_mask: torch.Tensor  # (1, 1, T', h, w) in [0, 1]
    static_mask: torch.Tensor  # (1, 1, T', h, w)
    hole_mask: torch.Tensor  # (1, 1, T', h, w), 1 where the camera left the keyframe
    alphas: torch.Tensor  # per step input (after the skip), and the end
    sigmas: torch.Tensor
    levels: np.ndarray
    skip: int
    keep_first: bool  # latent frame 0 is the clean keyframe; never touched

    def start_latents(self) -> torch.Tensor:
        """The guide noised to the start level; holes carry its mean colour only."""
        a, s = float(self.alphas[0]), float(self.sigmas[0])
        start = a * self.guide + s * self.noise
        if float(self.hole_mask.max()) > 0:
            mean = self.guide.mean(dim=(2, 3, 4), keepdim=True)
            spread = self.guide.std(dim=(2, 3, 4), keepdim=True)
            free = a * mean + (a**2 * spread**2 + s**2).sqrt() * self.noise
            start = self.hole_mask * free + (1 - self.hole_mask) * start
        if self.keep_first:
            start[:, :, :1] = self.guide[:, :, :1]
        return start

    def held(self, index: int, latents: torch.Tensor) -> torch.Tensor | None:
        """After step `index` (of the truncated schedule): the latents with brushed and static
        regions set to the guide at the new level, or None when nothing is held any more."""
        level = float(self.levels[index + 1])
        mask = torch.zeros_like(self.move_mask)
        if level > self.clocks.move_release:
            mask = torch.maximum(mask, self.move_mask)
        if level > self.clocks.static_release:
            mask = torch.maximum(mask, self.static_mask)
        if float(mask.max()) == 0:
            return None
        if self.keep_first:
            mask = mask.clone()
            mask[:, :, :1] = 0
        target = (
            float(self.alphas[index + 1]) * self.guide + float(self.sigmas[index + 1]) * self.noise
        )
        target = target.to(latents.device, latents.dtype)
        mask = mask.to(latents.device, latents.dtype)
        return mask * target + (1 - mask) * latents


def forget_history(scheduler) -> None:
    """After the latents were replaced, make the next step a first-order one.

    Multistep solvers (UniPC, DPM-Solver) keep the previous sample and clean estimates; UniPC's
    corrector even rebuilds the current sample from the previous one, which would undo the
    replacement and mix two incompatible states (blotches). Forgetting that history makes the
    next step a plain first-order step from the latents as they now are.
    """
    if hasattr(scheduler, "last_sample"):
        scheduler.last_sample = None
    if hasattr(scheduler, "lower_order_nums"):
        scheduler.lower_order_nums = 0


def latent_masks(controls, plan, traits, frames_kept: int):
    """Move, static and hole masks at latent resolution, each (1, 1, T', h, w) float32.

    A latent frame stands for `temporal_ratio` video frames (the first for one); its mask is
    the largest of theirs, so a stroke is held wherever it passes during that time.
    """
    import cv2

    h, w = plan.height // traits.spatial_ratio, plan.width // traits.spatial_ratio
    latent_frames = (plan.frames - 1) // traits.temporal_ratio + 1
    small = controls.resample(w, h, frames_kept)
    move = np.zeros((latent_frames, h, w), np.float32)
    static = np.zeros((latent_frames, h, w), np.float32)
    holes = np.zeros((latent_frames, h, w), np.float32)
    ones = np.ones((h, w), np.float32)
    for index in range(latent_frames):
        lo = 0 if index == 0 else 1 + (index - 1) * traits.temporal_ratio
        hi = 1 if index == 0 else lo + traits.temporal_ratio
        for t in range(lo, hi):
            t_kept = min(t, frames_kept - 1)
            move[index] = np.maximum(move[index], small.move_mask(t_kept))
            static[index] = np.maximum(static[index], small.static_mask_at(t_kept))
            footprint = cv2.warpPerspective(
                ones, small.homographies[t_kept].astype(np.float64), (w, h),
                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0,
            )  # fmt: skip
            holes[index] = np.maximum(holes[index], (footprint < 0.5).astype(np.float32))
    as_tensor = lambda a: torch.from_numpy(a)[None, None]  # noqa: E731
    return as_tensor(move), as_tensor(static), as_tensor(holes)
