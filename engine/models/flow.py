"""Rectified-flow sampling for the built-in generator: Euler steps with guidance and previews.

Noise levels run from 1 (pure noise) to 0 on a shifted schedule that spends more steps at
high noise, where the layout of a clip is decided. Every step the model's clean estimate
x_0 = x_t - t v is available; `on_step` receives it so the caller can decode a preview.
Frames given clean (image-to-video, extension) are held at noise level 0 and never change.
Cancellation is checked between steps; a seed fixes the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .dit import KVCache, TextContext, VideoDiT


def schedule(steps: int, shift: float = 2.0) -> list[float]:
    """steps + 1 noise levels from 1 down to 0; shift > 1 lingers at high noise (SD3)."""
    levels = []
    for i in range(steps + 1):
        s = 1.0 - i / steps
        levels.append(shift * s / (1 + (shift - 1) * s))
    return levels


@dataclass
class Guidance:
    """Classifier-free guidance: `scale` on the prompt and controls together (1 = off)."""

    scale: float = 3.0
    #: the unconditional branch: empty prompt, and controls kept (True) or dropped (False)
    keep_controls: bool = False


def guided_velocity(
    model: VideoDiT,
    x: torch.Tensor,
    t: torch.Tensor,
    controls: torch.Tensor,
    text: TextContext,
    null: TextContext | None,
    guidance: Guidance,
    cache: KVCache | None = None,
) -> torch.Tensor:
    if model.cfg.folded_guidance and not guidance.keep_controls:
        return folded_velocity(model, x, t, controls, text, guidance.scale, cache)
    if null is None or guidance.scale == 1.0:
        return model(x, t, controls, text, cache)
    free = controls if guidance.keep_controls else torch.zeros_like(controls)
    both = model(
        torch.cat([x, x]),
        torch.cat([t, t]),
        torch.cat([controls, free]),
        TextContext.cat([text, null]),
        cache,
    )
    cond, uncond = both.chunk(2)
    return uncond + guidance.scale * (cond - uncond)


def folded_velocity(
    model: VideoDiT,
    x: torch.Tensor,
    t: torch.Tensor,
    controls: torch.Tensor,
    text: TextContext,
    scale: float,
    cache: KVCache | None = None,
    write_cache: bool = False,
) -> torch.Tensor:
    """A guidance-distilled model's guided velocity: one branch, the scale an input.

    Guidance is affine in its scale, so a scale outside the taught range is reached from
    the range's two ends (two calls), where the student is exact, instead of asking it for
    an input it never saw."""
    low, high = model.cfg.folded_guidance
    if low <= scale <= high:
        return model(x, t, controls, text, cache, write_cache, guidance=scale)
    pair = model(
        torch.cat([x, x]),
        torch.cat([t, t]),
        torch.cat([controls, controls]),
        TextContext.cat([text, text]),
        cache,
        write_cache,
        guidance=torch.tensor([low, high], device=x.device),
    )
    at_low, at_high = pair.chunk(2)
    return at_low + (scale - low) / (high - low) * (at_high - at_low)


def _guided(null: TextContext | None, guidance: Guidance) -> bool:
    return null is not None and guidance.scale != 1.0


def remember(
    model: VideoDiT,
    clean: torch.Tensor,  # (1, C, t, h, w) finished latent frames
    controls: torch.Tensor,  # (1, control_channels, t, h, w)
    text: TextContext,
    null: TextContext | None,
    guidance: Guidance,
    cache: KVCache,
    window: int | None = None,
) -> None:
    """Append finished frames to `cache` (both guidance branches when guided: the unguided
    branch's keys differ, since they saw another prompt; a folded model's one or two rows,
    as its steps run them), keeping the last `window` frames."""
    t = torch.zeros(clean.shape[0], clean.shape[2], device=clean.device)
    if model.cfg.folded_guidance and not guidance.keep_controls:
        folded_velocity(model, clean, t, controls, text, guidance.scale, cache, write_cache=True)
    elif _guided(null, guidance):
        free = controls if guidance.keep_controls else torch.zeros_like(controls)
        model(
            torch.cat([clean, clean]),
            torch.cat([t, t]),
            torch.cat([controls, free]),
            TextContext.cat([text, null]),
            cache,
            write_cache=True,
        )
    else:
        model(clean, t, controls, text, cache, write_cache=True)
    if window is not None:
        cache.keep_last(window, clean.shape[3] * clean.shape[4] // model.cfg.patch**2)


@torch.no_grad()
def sample(
    model: VideoDiT,
    noise: torch.Tensor,  # (1, C, T, h, w) standard normal
    controls: torch.Tensor,  # (1, control_channels, T, h, w)
    text: TextContext,
    null: TextContext | None,
    steps: int = 8,
    guidance: Guidance | None = None,
    given: torch.Tensor | None = None,  # (1, C, T, h, w) clean latents where `given_frames`
    given_frames: torch.Tensor | None = None,  # (T,) bool
    hold: tuple[torch.Tensor, torch.Tensor] | None = None,  # (latents, mask (h, w) or (T, h, w))
    cache: KVCache | None = None,
    on_step: Callable[[int, int, torch.Tensor], None] | None = None,
    check_cancel: Callable[[], None] | None = None,
    shift: float = 2.0,
    init: torch.Tensor | None = None,  # (1, C, T, h, w) latents to start from (a guide video)
    start: float = 1.0,  # noise level to start at when `init` is given (1 = ignore it)
) -> torch.Tensor:
    """Denoise `noise` to normalised latents; frames in `given_frames` are taken from `given`.

    With `init` (a guide video's latents, e.g. the previs), sampling starts from it noised
    to level `start` instead of from pure noise: the guide's layout and motion survive
    below that level, the model repaints the rest. `hold` keeps a region (a static brush)
    equal to the given latents re-noised to the current level, so the model paints around it
    (latent masking); its mask is one region for every latent frame (h, w) or one per frame
    (T, h, w), for a region the camera carries. `on_step(i, steps, x0)` sees the clean
    estimate after each step.
    """
    guidance = guidance or Guidance()
    frames = noise.shape[2]
    device = noise.device
    clean = torch.zeros(frames, dtype=torch.bool, device=device)
    if given is not None and given_frames is not None:
        clean = given_frames.to(device)
    start = float(min(max(start, 0.0), 1.0)) if init is not None else 1.0
    x = noise.clone() if init is None else (1 - start) * init + start * noise
    if clean.any():
        x[:, :, clean] = given[:, :, clean].to(x.dtype)
    levels = [start * level for level in schedule(steps, shift)]
    x0 = x
    for i in range(steps):
        if check_cancel is not None:
            check_cancel()
        t_now, t_next = levels[i], levels[i + 1]
        t = torch.full((1, frames), t_now, device=device)
        t[:, clean] = 0.0
        v = guided_velocity(model, x, t, controls, text, null, guidance, cache)
        x0 = x - t_now * v
        x = x + (t_next - t_now) * v
        if clean.any():
            x[:, :, clean] = given[:, :, clean].to(x.dtype)
            x0[:, :, clean] = given[:, :, clean].to(x.dtype)
        if hold is not None:
            target, mask = hold
            renoised = (1 - t_next) * target + t_next * noise
            x = torch.lerp(x, renoised, mask.to(x.dtype))
            x0 = torch.lerp(x0, target, mask.to(x.dtype))
        if on_step is not None:
            on_step(i + 1, steps, x0)
    return x0 if steps else x


@torch.no_grad()
def sample_stream(
    model: VideoDiT,
    noise: torch.Tensor,  # (1, C, T, h, w)
    controls: torch.Tensor,  # (1, control_channels, T, h, w)
    text: TextContext,
    null: TextContext | None,
    steps: int = 8,
    guidance: Guidance | None = None,
    chunk: int = 2,
    given: torch.Tensor | None = None,  # (1, C, g, h, w) clean first frames (keyframe, context)
    window: int = 6,
    check_cancel: Callable[[], None] | None = None,
    shift: float = 2.0,
):
    """Generate latent frames `chunk` at a time (frame 0 alone when nothing is given), each
    finished chunk yielded at once.

    Finished frames become cached keys and values (`remember`) that later chunks attend to,
    so a frame is final as soon as it is yielded and the clip can be far longer than the
    model's training clips: only the last `window` latent frames stay in the cache (rotary
    positions make attention depend on distance alone, and distances stay as in training).
    Yields (start, latents) with latents (1, C, n, h, w), given frames first.
    """
    guidance = guidance or Guidance()
    frames = noise.shape[2]
    cache = KVCache.empty(model.cfg.depth)
    start = 0
    if given is not None and given.shape[2]:
        start = min(given.shape[2], frames)
        clean = given[:, :, :start].to(noise.dtype)
        remember(model, clean, controls[:, :, :start], text, null, guidance, cache, window)
        yield 0, clean
    levels = schedule(steps, shift)
    while start < frames:
        # with nothing given, frame 0 comes alone: the first finished frames reach the viewer
        # in half the time, and frame 1 on is made as image-to-video from it, which the
        # model is trained for (block-causal attention: frame 0 alone is frame 0 of any chunk)
        end = min(frames, start + (1 if start == 0 else chunk))
        x = noise[:, :, start:end].clone()
        part = controls[:, :, start:end]
        for i in range(steps):
            if check_cancel is not None:
                check_cancel()
            t = torch.full((1, end - start), levels[i], device=noise.device)
            v = guided_velocity(model, x, t, part, text, null, guidance, cache)
            x = x + (levels[i + 1] - levels[i]) * v
        if end < frames:
            remember(model, x, part, text, null, guidance, cache, window)
        yield start, x
        start = end
