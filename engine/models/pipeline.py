"""The built-in model end to end: prompt + controls (+ keyframe) -> frames, with previews.

The generator works at its native scale (128 pixels on the long side, 12 frames per second,
1 + 4k frames), which is what keeps it faster than real time on a laptop CPU. A request at
another size or frame rate is generated at native scale over the same duration and aspect,
then resized and retimed to what the shot asks for, so a shot's length and framing never
depend on the backend.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ..assets import BUILTIN_WEIGHTS
from ..errors import InvalidRequest, ModelLoadError
from ..previs import previs_video
from ..threads import compute_threads
from .conditioning import controls_from_shot, static_mask_at, static_masks_at
from .dit import VideoDiT
from .flow import Guidance, sample, sample_stream
from .preview import LatentPreview, fit_preview, load_preview
from .vae import CausalVideoVAE, frames_to_tensor, tensor_to_frames

WEIGHTS = BUILTIN_WEIGHTS
NATIVE_SIDE = 128
NATIVE_FPS = 12.0
WHOLE_FRAMES = 49  # up to 4 s at 12 fps a clip is made whole, previewing every step
MAX_NATIVE_FRAMES = 241  # longer clips stream chunk by chunk, up to 20 s


@dataclass(frozen=True)
class NativePlan:
    """How a request maps onto the model's native scale."""

    width: int
    height: int
    frames: int  # 1 + 4k
    fps: float


def native_plan(width: int, height: int, frames: int, fps: float) -> NativePlan:
    """Long side 128, short side the same aspect rounded to 16 (the latent patch), and the
    request's duration at 12 fps rounded up to 1 + 4k frames."""
    scale = NATIVE_SIDE / max(width, height)
    w = max(16, math.floor(width * scale / 16 + 0.5) * 16)
    h = max(16, math.floor(height * scale / 16 + 0.5) * 16)
    seconds = frames / fps
    k = max(1, math.ceil((seconds * NATIVE_FPS - 1) / 4))
    n = 1 + 4 * k
    if n > MAX_NATIVE_FRAMES:
        limit = MAX_NATIVE_FRAMES / NATIVE_FPS
        raise InvalidRequest(
            f"The built-in model makes shots of up to {limit:.0f} seconds; this one is "
            f"{seconds:.1f} s. Shorten the shot or split it in two."
        )
    return NativePlan(w, h, n, NATIVE_FPS)


def retime(frames: np.ndarray, count: int) -> np.ndarray:
    """Resample (T, H, W, 3) uint8 to `count` frames over the same duration (linear blend)."""
    t = frames.shape[0]
    if t == count:
        return frames
    positions = np.linspace(0, t - 1, count)
    lo = np.floor(positions).astype(int)
    hi = np.minimum(lo + 1, t - 1)
    w = (positions - lo)[:, None, None, None].astype(np.float32)
    out = frames[lo].astype(np.float32) * (1 - w) + frames[hi].astype(np.float32) * w
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def resize_frames(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    if frames.shape[1:3] == (height, width):
        return frames
    return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_CUBIC) for f in frames])


def guide_start(strength: float) -> float:
    """The noise level a guided clip starts at: 1 ignores the guide, 0.3 keeps it nearly whole."""
    return 1.0 - 0.7 * float(min(max(strength, 0.0), 1.0))


def refine_steps(steps: int, strength: float) -> int:
    """Steps of a pass that starts from a guide: the share of the schedule left to run, so a
    guided pass steps as finely as a whole one (and costs that share of it)."""
    if strength <= 0:
        return steps
    return max(2, math.ceil(steps * guide_start(strength)))


def carried(frame: np.ndarray, controls) -> np.ndarray:
    """`frame` carried along the shot's camera path and strokes: the previs with it as keyframe."""
    return dataclasses.replace(controls, keyframe=frame).guide


class BuiltinModel:
    """The VAE and the generator, loaded once and kept warm."""

    def __init__(
        self,
        vae: CausalVideoVAE,
        dit: VideoDiT,
        device: str | torch.device = "cpu",
        preview: LatentPreview | None = None,
    ):
        self.vae, self.dit, self.device = vae.eval(), dit.eval(), torch.device(device)
        self._preview = preview
        #: CPU threads a generation computes with; None: the cores other programs leave free,
        #: measured at the start of each generation (`engine.threads`)
        self.threads: int | None = None
        self._texts: dict[str, object] = {}  # prompt -> its encoding (`_text`)

    @property
    def preview(self) -> LatentPreview:
        """The instant latents-to-colours map for the first preview (fitted once if the weights
        folder has none for this VAE)."""
        if self._preview is None:
            self._preview = fit_preview(self.vae)
        return self._preview

    @classmethod
    def load(cls, folder: str | Path = WEIGHTS, device: str = "cpu") -> BuiltinModel:
        folder = Path(folder)
        dit_path = folder / "dit.safetensors"
        if not dit_path.is_file():
            raise ModelLoadError(
                f"The built-in generator's weights are missing ({dit_path}). Reinstall Kinema, "
                "or train them with 'kinema train dit'."
            )
        vae = CausalVideoVAE.load(folder / "vae.safetensors", device)
        dit = VideoDiT.load(dit_path, device)
        if dit.cfg.latent_channels != vae.cfg.latent_channels:
            raise ModelLoadError(
                f"The generator in {folder} expects {dit.cfg.latent_channels} latent channels but "
                f"the VAE beside it makes {vae.cfg.latent_channels}: the two files come from "
                "different models."
            )
        return cls(vae, dit, device, load_preview(folder))

    @torch.no_grad()
    def generate(
        self,
        prompt: str,
        controls,  # ShotControls at the model's native size (see native_plan)
        steps: int = 8,
        guidance: float = 3.0,
        seed: int = 0,
        keyframe: np.ndarray | None = None,  # (h, w, 3) uint8 at native size, frame 0 given
        context: np.ndarray | None = None,  # (t, h, w, 3) uint8 frames to continue from
        guide: np.ndarray | None = None,  # (T, h, w, 3) uint8 guide video (the previs)
        guide_strength: float = 0.0,  # 0: ignore the guide; 1: keep its layout and motion
        on_preview: Callable[[np.ndarray, int, int], None] | None = None,
        preview_every: int = 1,
        check_cancel: Callable[[], None] | None = None,
        sketch: bool = False,
        layout: np.ndarray | None = None,  # (LAYOUT_CHANNELS, T', h/8, w/8) a plan's layout
        on_progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """uint8 (T, h, w, 3) at native size; `on_preview(frames, step, steps)` as it forms.

        `on_progress(done, total)` comes at every step, first with `done = 0` just before
        sampling starts (the prompt encoded, the guide made), and `total` is the whole job's
        from that first call: with a guide it is the steps actually run, and in two passes
        it counts both, so a queue's step total and time per step never change mid-job.

        `layout` (`engine.models.layout`) is a storyboard plan's objects, sky and ground per
        latent frame; a generator trained without layouts ignores it.

        With `sketch` and a guide strength but no keyframe, context or guide, a shot with a
        camera move or strokes is made in two passes: the first frame alone (the sketch), then
        that frame carried along the camera path and strokes (`carried`) guides a second pass
        that starts from it, as a keyframe's previs would. The model alone is steered by
        the controls too; the second pass makes it hold to them the way the previs does.
        """
        with compute_threads(self.threads) as watch:
            check = watch.checking(check_cancel)  # the thread count revised at every step
            return self._generate_or_draft(
                prompt, controls, steps, guidance, seed, keyframe, context, guide,
                guide_strength, on_preview, preview_every, check, sketch, layout,
                on_progress,
            )  # fmt: skip

    def _generate_or_draft(
        self, prompt, controls, steps, guidance, seed, keyframe, context, guide, guide_strength,
        on_preview, preview_every, check_cancel, sketch, layout, on_progress=None,
    ) -> np.ndarray:  # fmt: skip
        moves = controls.has_camera_motion or controls.has_strokes
        if not (sketch and guide_strength > 0 and moves and keyframe is None and context is None):
            return self._generate(
                prompt, controls, steps, guidance, seed, keyframe, context, guide,
                guide_strength, on_preview, preview_every, check_cancel, layout, on_progress,
            )  # fmt: skip
        second = refine_steps(steps, guide_strength)
        total = steps + second

        def progress(offset: int):
            if on_progress is None:
                return None
            return lambda done, _: on_progress(offset + done, total)

        def still(frame: np.ndarray) -> np.ndarray:
            return np.repeat(frame[-1:], controls.frames, axis=0)

        def first_preview(frames: np.ndarray, done: int, _: int) -> None:
            on_preview(still(frames), done, total)

        def second_preview(frames: np.ndarray, done: int, _: int) -> None:
            on_preview(frames, steps + done, total)

        # attention is block-causal, so frame 0 alone is what the whole clip's frame 0 would
        # be: drafting one latent frame costs a seventh of a 25-frame clip
        opening = controls.resample(controls.width, controls.height, frames=1)
        draft = self._generate(
            prompt, opening, steps, guidance, seed, None, None, None, 0.0,
            first_preview if on_preview else None, preview_every, check_cancel,
            None if layout is None else layout[:, :1], progress(0),
        )  # fmt: skip
        if on_preview is not None:
            on_preview(still(draft), steps, total)
        first = draft[0]
        return self._generate(
            prompt, controls, steps, guidance, seed + 1, first, None, carried(first, controls),
            guide_strength, second_preview if on_preview else None, preview_every, check_cancel,
            layout, progress(steps),
        )  # fmt: skip

    def _generate(
        self,
        prompt: str,
        controls,
        steps: int,
        guidance: float,
        seed: int,
        keyframe: np.ndarray | None,
        context: np.ndarray | None,
        guide: np.ndarray | None,
        guide_strength: float,
        on_preview: Callable[[np.ndarray, int, int], None] | None,
        preview_every: int,
        check_cancel: Callable[[], None] | None,
        layout: np.ndarray | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        h, w = controls.height // 8, controls.width // 8
        cond, noise, text, null = self._start(prompt, controls, seed, layout)
        latent_frames = noise.shape[2]

        given, given_frames, hold = None, None, None
        if context is not None:
            given, given_frames = self._context(context, latent_frames)
        elif keyframe is not None:
            latent = self._latents(keyframe[None])
            given = torch.zeros_like(noise)
            given[:, :, :1] = latent
            given_frames = torch.zeros(latent_frames, dtype=torch.bool)
            given_frames[0] = True
            hold = self._hold_static(controls, keyframe, w, h)

        init, start = None, 1.0
        if guide is not None and guide_strength > 0:
            if on_preview is not None:  # the guide is what the clip starts from: show it now,
                # before its encode (a planned shot's animatic: a few hundred ms sooner)
                on_preview(np.ascontiguousarray(guide), 0, refine_steps(steps, guide_strength))
            init = self._latents(guide)
            start = guide_start(guide_strength)
            # the share of the schedule below the guide's level, at the steps' own spacing
            steps = refine_steps(steps, guide_strength)

        def decode(x0: torch.Tensor) -> np.ndarray:
            if check_cancel is not None:  # a decode is the longest wait: never one after cancel
                check_cancel()
            return tensor_to_frames(self.vae.decode(self.vae.denormalize(x0)))

        def on_step(i: int, total: int, x0: torch.Tensor) -> None:
            # every look while the clip forms is the linear map (milliseconds, soft); a VAE
            # decode costs about two steps, so the only one is the finished clip's
            if on_preview is not None and i < total and (i == 1 or i % preview_every == 0):
                on_preview(self.preview(x0), i, total)
            if on_progress is not None:  # a step is done once its preview is out
                on_progress(i, total)

        if on_progress is not None:
            on_progress(0, steps)

        x0 = sample(
            self.dit,
            noise,
            cond,
            text,
            null,
            steps=steps,
            guidance=Guidance(guidance),
            given=given,
            given_frames=given_frames,
            hold=hold,
            on_step=on_step,
            check_cancel=check_cancel,
            init=init,
            start=start,
        )
        return decode(x0)

    @torch.no_grad()
    def stream(
        self,
        prompt: str,
        controls,
        steps: int = 8,
        guidance: float = 3.0,
        seed: int = 0,
        keyframe: np.ndarray | None = None,
        on_frames: Callable[[np.ndarray, int, int], None] | None = None,
        check_cancel: Callable[[], None] | None = None,
        chunk: int = 2,
        layout: np.ndarray | None = None,
    ) -> np.ndarray:
        """Like `generate`, but chunk by chunk: `on_frames(frames_so_far, done, total)` sees
        finished frames as soon as they exist. Makes clips longer than the training clips."""
        with compute_threads(self.threads) as watch:
            check = watch.checking(check_cancel)  # the thread count revised at every step
            return self._stream(
                prompt, controls, steps, guidance, seed, keyframe, on_frames, check,
                chunk, layout,
            )  # fmt: skip

    def _stream(
        self, prompt, controls, steps, guidance, seed, keyframe, on_frames, check_cancel, chunk,
        layout,
    ) -> np.ndarray:  # fmt: skip
        cond, noise, text, null = self._start(prompt, controls, seed, layout)
        latent_frames = noise.shape[2]
        given = None
        if keyframe is not None:
            given = self._latents(keyframe[None])
        decoder = self.vae.decoder_stream()
        finished: list[np.ndarray] = []
        chunks = sample_stream(
            self.dit, noise, cond, text, null, steps, Guidance(guidance), chunk, given,
            check_cancel=check_cancel,
        )  # fmt: skip
        for start, latents in chunks:
            finished.append(tensor_to_frames(decoder.push(self.vae.denormalize(latents))))
            if on_frames is not None:
                done = start + latents.shape[2]
                on_frames(np.concatenate(finished), done, latent_frames)
        return np.concatenate(finished)

    def _start(self, prompt: str, controls, seed: int, layout: np.ndarray | None = None):
        """What every generation begins with: control channels at latent size (a plan's
        layout after them), the seed's noise, and the prompt and the empty prompt (for
        guidance) encoded once."""
        h, w = controls.height // 8, controls.width // 8
        channels = controls_from_shot(controls, w, h)
        if layout is not None and self.dit.cfg.layout_channels:
            if layout.shape[1:] != channels.shape[1:]:
                raise InvalidRequest(
                    f"The plan's layout is {layout.shape[1]} latent frames of "
                    f"{layout.shape[3]}x{layout.shape[2]}, but the shot needs "
                    f"{channels.shape[1]} of {w}x{h}."
                )
            channels = np.concatenate([channels, layout.astype(np.float32)])
        cond = torch.from_numpy(channels)[None].to(self.device)
        shape = (1, self.dit.cfg.latent_channels, 1 + (controls.frames - 1) // 4, h, w)
        generator = torch.Generator().manual_seed(int(seed) & 0x7FFFFFFF)
        noise = torch.randn(shape, generator=generator).to(self.device)
        return cond, noise, self._text(prompt), self._text("")

    def _text(self, prompt: str):
        """The prompt's encoding, kept for the last few prompts: Generate again, variations
        and the two passes of a drafted shot read the same words."""
        cache = self._texts
        if prompt not in cache:
            if len(cache) >= 8:
                cache.pop(next(iter(cache)))
            cache[prompt] = self.dit.encode_text([prompt])
        return cache[prompt]

    def _hold_static(self, controls, keyframe: np.ndarray, w: int, h: int):
        """What latent masking holds for the static strokes: (latents, mask), or None.

        A static region is still in the scene. With the camera at rest it is the keyframe's
        still picture in every latent frame (later latents summarise four frames and differ
        from frame 0's, encoded alone) under the keyframe's mask. Under a camera move it is
        the keyframe carried by the camera, under the region carried the same way
        (`static_masks_at`), so the region moves with the scene instead of staying on screen.
        """
        if not controls.has_camera_motion:
            static = static_mask_at(controls, w, h)  # (h, w)
            if not static.any():
                return None
            scene = np.repeat(keyframe[None], controls.frames, axis=0)
        else:
            static = static_masks_at(controls, w, h)  # (T', h, w)
            if not static.any():
                return None
            scene = previs_video(keyframe, controls.homographies)
        return self._latents(scene), torch.from_numpy(static).to(self.device)

    def _latents(self, frames_u8: np.ndarray) -> torch.Tensor:
        """uint8 (T, h, w, 3) -> the generator's normalised latents (1, C, T', h/8, w/8)."""
        return self.vae.normalize(self.vae.encode(frames_to_tensor(frames_u8).to(self.device)))

    def _context(self, context: np.ndarray, latent_frames: int):
        """Latents of frames to continue from: the clip's last 1 + 4j frames become the first
        latent frames, held clean, and the rest is generated after them (extension)."""
        usable = 1 + 4 * ((len(context) - 1) // 4)
        latents = self._latents(context[-usable:])
        count = min(latents.shape[2], latent_frames - 1)
        given = torch.zeros(
            (1, latents.shape[1], latent_frames, *latents.shape[3:]), device=self.device
        )
        given[:, :, :count] = latents[:, :, -count:]
        mask = torch.zeros(latent_frames, dtype=torch.bool)
        mask[:count] = True
        return given, mask
