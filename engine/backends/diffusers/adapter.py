"""What differs between model families, behind one small interface the runner uses.

A family adapter answers two kinds of question. From the folder's JSON alone (cheap, no
torch, asked on the GUI thread): what can this model do, and at what native size, frame
rule and frame rate (`traits`). At run time: which diffusers pipeline class makes text-to-
video and which image-to-video, how its latents are laid out and normalised, how to decode
and encode them. Everything else (planning, previews, cancel, memory, out-of-memory
recovery) is the shared runner's.

Latents in the runner are always the model's *normalised* latents laid out
`(B, C, T', h, w)`; adapters convert from and to whatever their pipeline holds (LTX-Video
packs them into tokens, CogVideoX puts time before channels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...errors import InvalidRequest
from ...model_library import ModelEntry


@dataclass(frozen=True)
class ModelTraits:
    """A model's capabilities and native constraints, read from its configs."""

    family: str  # "wan" | "ltx" | "cogvideox"
    label: str  # what the backend menu shows
    keyframe: bool  # has an image-to-video pipeline
    last_frame: bool  # the pipeline takes a last keyframe too
    frame_step: int  # frames are 1 + k * frame_step (0: only `fixed_frames`)
    fixed_frames: tuple[int, ...]  # the only frame counts it makes, when frame_step is 0
    max_frames: int  # most native frames per clip
    size_multiple: int  # native width and height are multiples of this
    fixed_size: tuple[int, int] | None  # (w, h) when the model makes one size only
    native_area: int  # pixels per frame it was trained at (larger requests are scaled down)
    native_fps: float
    default_steps: int
    default_guidance: float
    latent_channels: int
    spatial_ratio: int  # pixels per latent pixel, each way
    temporal_ratio: int  # frames per latent frame after the first
    two_experts: bool = False  # Wan 2.2: a high-noise and a low-noise transformer
    last_frame_required: bool = False  # makes clips between two frames only (Wan FLF2V)

    @property
    def frame_rule(self) -> str:
        if self.frame_step:
            return f"{self.frame_step}k+1 frames at {self.native_fps:g} fps"
        counts = " or ".join(str(n) for n in self.fixed_frames)
        return f"{counts} frames at {self.native_fps:g} fps"


@dataclass(frozen=True)
class ModelPlan:
    """A request mapped onto the model's native size, frame rule and frame rate."""

    width: int
    height: int
    frames: int  # native frames the model makes
    fps: float
    keep: int  # native frames that cover the shot's duration (the rest is dropped)

    @property
    def seconds(self) -> float:
        return self.keep / self.fps


def plan_request(
    traits: ModelTraits, width: int, height: int, frames: int, fps: float
) -> ModelPlan:
    """The native plan for a `width` x `height` x `frames` shot at `fps`.

    Size: the shot's aspect at no more than the model's native area, rounded to its size
    multiple (a model that makes one size makes that size; the result is cropped to fill).
    Time: the shot's duration at the model's frame rate, rounded up to its frame rule; the
    frames past the shot's end are dropped, so motion keeps its native speed.
    """
    m = traits.size_multiple
    if traits.fixed_size is not None:
        w, h = traits.fixed_size
    else:
        scale = min(1.0, math.sqrt(traits.native_area / float(width * height)))
        w = max(m, int(round(width * scale / m)) * m)
        h = max(m, int(round(height * scale / m)) * m)
    seconds = frames / float(fps)
    needed = max(1, math.ceil(seconds * traits.native_fps - 1e-6))
    if traits.frame_step:
        k = max(0, math.ceil((needed - 1) / traits.frame_step))
        native = 1 + k * traits.frame_step
    else:
        fitting = [n for n in traits.fixed_frames if n >= needed]
        native = min(fitting) if fitting else max(traits.fixed_frames) + 1
    if native > traits.max_frames:
        longest = traits.max_frames / traits.native_fps
        raise InvalidRequest(
            f"{traits.label} makes clips of up to {longest:.1f} seconds; this shot is "
            f"{seconds:.1f} s. Shorten the shot or split it in two."
        )
    return ModelPlan(w, h, native, traits.native_fps, min(needed, native))


class FamilyAdapter:
    """Base of the per-family adapters; see the module docstring for the split."""

    family = ""
    #: max_sequence_length passed to the pipeline's text encoder
    max_sequence_length = 226

    def __init__(self, entry: ModelEntry) -> None:
        self.entry = entry

    # --------------------------------------------------------------- from configs only

    def traits(self) -> ModelTraits:
        raise NotImplementedError

    def pipeline_class(self, kind: str) -> str | None:
        """The diffusers class for `kind` ("t2v" | "i2v"), or None if the model has none."""
        raise NotImplementedError

    # --------------------------------------------------------------- at run time

    def call_kwargs(self, plan: ModelPlan, image=None, last_image=None) -> dict:
        """Pipeline arguments beyond prompt, steps, guidance and generator."""
        kwargs = dict(height=plan.height, width=plan.width, num_frames=plan.frames)
        if image is not None:
            kwargs["image"] = image
        if last_image is not None:
            kwargs["last_image"] = last_image
        return kwargs

    def video_latents(self, pipe, latents, plan: ModelPlan):
        """The pipeline's latents (as `output_type="latent"` returns them) -> (B, C, T', h, w)."""
        return latents

    def denoised_video(self, pipe, x0, latents, plan: ModelPlan):
        """The tap's x0 (in the layout the scheduler saw) -> normalised (B, C, T', h, w)."""
        return self.video_latents(pipe, x0, plan)

    def pipeline_latents(self, pipe, latents, plan: ModelPlan, like=None):
        """Normalised (B, C, T', h, w) -> the pipeline's own layout (the reverse of
        `video_latents`); `like` is the pipeline's current latents, for anything they hold
        beyond the clip (CogVideoX 1.5's padding frames)."""
        return latents

    def schedule_kwargs(self, pipe, plan: ModelPlan, steps: int) -> dict:
        """What the pipeline passes its scheduler's `set_timesteps` besides the step count."""
        return {}

    def keeps_first_frame(self, pipe, kind: str) -> bool:
        """Whether the pipeline holds latent frame 0 clean as the keyframe (never stepped)."""
        return False

    def decode(self, pipe, latents, generator=None):
        """Normalised (B, C, T', h, w) latents -> video (B, 3, T, H, W) in [-1, 1]."""
        raise NotImplementedError

    def encode(self, pipe, video):
        """Video (B, 3, T, H, W) in [-1, 1] -> normalised (B, C, T', h, w) latents."""
        raise NotImplementedError


def adapter_for(entry: ModelEntry) -> FamilyAdapter:
    from .cogvideox import CogVideoXAdapter
    from .ltx import LTXAdapter
    from .wan import WanAdapter

    adapters = {"wan": WanAdapter, "ltx": LTXAdapter, "cogvideox": CogVideoXAdapter}
    return adapters[entry.family](entry)
