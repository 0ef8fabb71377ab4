"""The one runner every diffusers family shares: plan, sample, preview, decode, recover.

A job goes:
1. **Plan** the shot onto the model's native size, frame rule and frame rate
   (`adapter.plan_request`); the result is brought back to the shot's size and length.
2. **Sample** with the stock pipeline and `output_type="latent"`, so the pipeline never
   decodes: Kinema decodes itself, after checking cancel, and can keep the latents when a
   decode fails. An image-to-video run on a model that takes a last frame ends on the
   shot's last keyframe (`takes_last_frame`).
3. **Preview** every step from the step callback: the clean estimate (`DenoisedTap`) through
   the model's fitted linear latents-to-colours map. Each preview goes through the
   `Reporter`, which raises `Cancelled` once the user cancels, so a cancel lands within one
   step and nothing is decoded after it.
4. **Decode** with the adapter; an out-of-memory error here keeps the latents, so "Decode
   again" (the same request with `tiled_decode`) finishes the clip without sampling again.

The pipeline stays loaded between jobs (warm), whatever the last job did.
"""

from __future__ import annotations

import functools
import gc
import importlib
import json
import logging
from dataclasses import dataclass

import numpy as np

from ...errors import DecodeOutOfMemory, InvalidRequest, ModelLoadError, OutOfMemory
from ...model_library import BUILTIN_VAE_LIBRARY, ModelEntry, component_problem
from . import memory as memory_modes
from .adapter import ModelPlan, adapter_for, plan_request
from .denoised import DenoisedTap
from .preview_map import (
    MIN_PSNR_DB,
    LinearPreviewMap,
    fit_preview_map,
    load_cached,
    save_cached,
    vae_key,
)

log = logging.getLogger(__name__)

#: previews are made at most this many pixels on the long side (the viewer scales them)
PREVIEW_SIDE = 320
#: when a model's colours cannot be fitted, a VAE decode makes a preview this often (steps)
DECODE_PREVIEW_EVERY = 5


def is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError":
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def sampling_key(request) -> str:
    """What decides the latents: the request without its job id and decode-only settings."""
    data = request.to_dict()
    for name in ("job_id", "tiled_decode", "memory"):
        data.pop(name, None)
    return json.dumps(data, sort_keys=True)


@dataclass
class _Kept:
    key: str
    latents: object  # torch.Tensor on the CPU, normalised (B, C, T', h, w)
    plan: ModelPlan
    kind: str


def _free_accelerator_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _dtype_for(device: str):
    import torch

    if str(device).startswith("cuda"):
        return torch.bfloat16
    return torch.float32  # bf16 matmuls are very slow on most CPUs


class DiffusersRunner:
    """One model folder, loaded once, running jobs for its backend entry."""

    def __init__(self, entry: ModelEntry) -> None:
        self.entry = entry
        self.adapter = adapter_for(entry)
        self.traits = self.adapter.traits()
        self.device = "cpu"
        self.mode: str | None = None
        self._pipe = None  # the live pipeline
        self._kind: str | None = None  # "t2v" | "i2v" of the live pipeline
        self._preview: LinearPreviewMap | None = None
        self._preview_checked = False
        self._kept: _Kept | None = None
        self.decodes = 0  # VAE decodes of finished clips and previews (tests read it)
        self.last_latents = None  # the last clip's normalised latents (B, C, T', h, w)

    # ------------------------------------------------------------------ loading

    def load(self, device: str) -> None:
        """Read the model from its folder, strictly offline and safetensors only."""
        problem = component_problem(self.entry)
        if problem:
            raise ModelLoadError(problem)
        self.device = device
        if self._pipe is None:
            self._pipe = self._from_disk()
            self._kind = "base"

    def _from_disk(self):
        import diffusers
        import transformers

        # their console progress bars mean nothing in the studio; progress comes as events
        diffusers.utils.logging.disable_progress_bar()
        transformers.utils.logging.disable_progress_bar()
        from packaging.version import Version

        cls = getattr(diffusers, self.entry.pipeline)
        load = cls.from_pretrained
        if any(lib == BUILTIN_VAE_LIBRARY for lib, _ in self.entry.components().values()):
            # diffusers loads a component of a module only once it is imported, and warns that
            # the VAE is not an AutoencoderKLWan, which is the point of it
            importlib.import_module(BUILTIN_VAE_LIBRARY)
            load = functools.partial(_quietly, cls.from_pretrained)
        dtype = _dtype_for(self.device)
        dtypes = {"default": dtype, "vae": self._vae_dtype(dtype)}
        # diffusers 0.42 renamed torch_dtype to dtype; older releases know only the old name
        dtype_arg = "dtype" if Version(diffusers.__version__) >= Version("0.42") else "torch_dtype"
        try:
            pipe = load(
                str(self.entry.path),
                local_files_only=True,
                use_safetensors=True,
                **{dtype_arg: dtypes},
            )
        except (OSError, ValueError) as error:
            raise ModelLoadError(
                f"The model in {self.entry.path} could not be loaded: {error}".rstrip(".") + "."
            ) from error
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def _vae_dtype(self, dtype):
        import torch

        # Wan's VAE is run in fp32 by its authors; the others hold up in bf16 on a GPU
        return torch.float32 if self.traits.family == "wan" else dtype

    def _ensure_mode(self, mode: str) -> None:
        if self.mode == mode:
            return
        if self.mode is not None and self.mode != "cpu":  # hooks cannot be swapped in place
            self._pipe = None
            _free_accelerator_memory()
            self._pipe = self._from_disk()
            self._kind = "base"
        memory_modes.apply_mode(self._pipe, mode, self.device)
        self.mode = mode

    def pipeline(self, kind: str):
        """The live pipeline for `kind`, made from the loaded components (no second copy)."""
        import diffusers

        wanted = self.adapter.pipeline_class(kind)
        if wanted is None:
            raise InvalidRequest(self._cannot(kind))
        if type(self._pipe).__name__ != wanted:
            cls = getattr(diffusers, wanted)
            if self.mode not in (None, "cpu", "gpu"):
                self._pipe.remove_all_hooks()
            self._pipe = _quietly(cls.from_pipe, self._pipe)
            self._pipe.set_progress_bar_config(disable=True)
            if self.mode not in (None, "cpu", "gpu"):
                memory_modes.apply_mode(self._pipe, self.mode, self.device)
        self._kind = kind
        return self._pipe

    def _cannot(self, kind: str) -> str:
        if kind == "t2v":
            return (
                f"{self.traits.label} is an image-to-video model: give the shot a keyframe, "
                "or choose a text-to-video model."
            )
        return f"{self.traits.label} cannot start from a keyframe."

    # ------------------------------------------------------------------ previews

    def preview_map(self, report=None) -> LinearPreviewMap | None:
        """The model's latents-to-colours map, fitted once per VAE and cached; None if poor."""
        if self._preview_checked:
            return self._preview
        key = vae_key(self.entry.path / "vae")
        preview = load_cached(key)
        if preview is None:
            if report is not None:
                report.notice("Fitting this model's preview colours (once per model)...")
            preview = self.fit_preview()
            save_cached(key, preview)
        self._preview_checked = True
        if preview.psnr_db < MIN_PSNR_DB:
            log.warning(
                "%s: preview map reproduces decoded frames at %.1f dB only; previews use the VAE",
                self.entry.name, preview.psnr_db,
            )  # fmt: skip
            self._preview = None
        else:
            self._preview = preview
        return self._preview

    def fit_preview(self) -> LinearPreviewMap:
        import torch

        pipe = self._pipe
        generator = torch.Generator("cpu")

        @torch.inference_mode()
        def encode(video):
            x = torch.from_numpy(video)[None]
            return self.adapter.encode(pipe, x)[0].float().cpu().numpy()

        @torch.inference_mode()
        def decode(z):
            generator.manual_seed(0)
            x = self.adapter.decode(pipe, torch.from_numpy(z)[None], generator)
            return x[0].float().clamp(-1, 1).cpu().numpy()

        return fit_preview_map(
            encode, decode, stride=self.traits.temporal_ratio, patch=self.traits.spatial_ratio
        )

    # ------------------------------------------------------------------ one job

    def estimate(self, plan: ModelPlan, tiled: bool = False):
        return memory_modes.estimate(self.entry, self.traits, plan, tiled=tiled)

    def generate(self, request, controls, report, cancel) -> np.ndarray:
        import torch

        traits = self.traits
        plan = plan_request(traits, controls.width, controls.height, controls.frames, controls.fps)
        strength = float(request.guide_strength)
        moves = controls.has_camera_motion or controls.has_strokes
        # a text-only model still follows a keyframe loosely, through the guide
        steer = strength > 0 and (moves or (controls.keyframe is not None and not traits.keyframe))
        kind = "i2v" if controls.keyframe is not None and traits.keyframe else "t2v"
        if controls.keyframe is not None and not traits.keyframe:
            report.notice(
                f"{traits.label} takes no keyframe; "
                + ("the guide carries it loosely." if steer else "it follows the prompt alone.")
            )
        if moves and not steer:
            report.notice(
                "Guide strength is 0: the camera path and strokes do not steer this take."
            )
        steps = max(1, int(request.steps))
        key = sampling_key(request)
        kept = self._kept if self._kept is not None and self._kept.key == key else None
        # only an automatic choice on a GPU needs the prediction (it reads the weights' headers)
        wants_estimate = request.memory == "auto" and str(self.device).startswith("cuda")
        estimate = self.estimate(plan, request.tiled_decode) if wants_estimate else None
        mode = memory_modes.resolve_mode(request.memory, self.device, estimate)
        self._ensure_mode(mode)
        generator = torch.Generator("cpu").manual_seed(int(request.seed))
        if kept is not None:
            report.notice("Decoding the kept latents again; sampling is skipped.")
            kind, latents, plan = kept.kind, kept.latents, kept.plan
            pipe = self.pipeline(kind)
        else:
            self._kept = None
            if steer and controls.keyframe is None:
                controls = self._drafted(controls, plan, request, generator, report)
                kind = "i2v" if traits.keyframe else "t2v"
            if self.adapter.pipeline_class(kind) is None:
                raise InvalidRequest(self._cannot(kind))
            plan = self._ending_on_last_frame(plan, controls, kind)
            pipe = self.pipeline(kind)
            steering = (
                self.steering(pipe, plan, controls, strength, steps, generator, kind)
                if steer
                else None
            )
            latents = self._sample(
                pipe, plan, request, controls, kind, generator, report, steps, steering
            )
        self.last_latents = latents
        cancel.raise_if_cancelled()
        report.progress(steps, steps, "decoding")
        video = self._decode(pipe, latents, plan, request, generator, kind)
        frames = _to_frames(video)[: plan.keep]
        frames = _fit_frames(frames, controls.frames, controls.width, controls.height)
        self._kept = None
        report.preview(frames, steps, steps, complete=True)
        return frames

    def takes_last_frame(self, controls, kind: str) -> bool:
        """Whether this run ends on the shot's last keyframe: an image-to-video run of a
        model whose pipeline takes one (Wan FLF2V's and 2.2 I2V's `last_image`)."""
        return controls.last_keyframe is not None and kind == "i2v" and self.traits.last_frame

    def _ending_on_last_frame(self, plan, controls, kind):
        """The plan for a run that ends on the last keyframe: the model puts it on its last
        native frame, so every native frame is kept (the clip is retimed onto the shot's
        length, at most `frame_step - 1` frames slower) and it lands on the shot's last frame
        rather than past its end."""
        import dataclasses

        if kind == "i2v" and self.traits.last_frame_required and controls.last_keyframe is None:
            raise InvalidRequest(
                f"{self.traits.label} makes a clip between two frames: give the shot a last "
                "frame too, or choose an image-to-video model."
            )
        if self.takes_last_frame(controls, kind):
            return dataclasses.replace(plan, keep=plan.frames)
        return plan

    def _drafted(self, controls, plan, request, generator, report):
        """Without a keyframe, a text-to-video draft's first frame becomes one, so the camera
        and strokes have a picture to carry (a one-frame draft where the model makes one)."""
        import dataclasses

        from ...controls import fit_keyframe

        report.notice("No keyframe: drafting the first frame from the prompt, then steering.")
        if self.adapter.pipeline_class("t2v") is None:
            raise InvalidRequest(self._cannot("t2v"))
        pipe = self.pipeline("t2v")
        draft = plan
        if self.traits.frame_step:
            draft = dataclasses.replace(plan, frames=1, keep=1)
        steps = max(1, int(request.steps))
        latents = self._sample(pipe, draft, request, controls, "t2v", generator, None, steps, None)
        first = _to_frames(self._decode_raw(pipe, latents[:, :, :1], generator))[0]
        return dataclasses.replace(
            controls, keyframe=fit_keyframe(first, controls.width, controls.height)
        )

    def steering(self, pipe, plan, controls, strength, steps, generator, kind):
        """The dual-clock plan for this run (see `steering.py`): guide latents, masks, clocks."""
        import torch

        from . import steering as steer

        native = controls.resample(plan.width, plan.height, plan.keep)
        guide = native.guide  # (keep, H, W, 3) uint8
        if plan.frames > plan.keep:  # the native clip runs past the shot: hold its last frame
            guide = np.concatenate([guide, np.repeat(guide[-1:], plan.frames - plan.keep, 0)])
        video = torch.from_numpy(guide.astype(np.float32) / 127.5 - 1.0).permute(3, 0, 1, 2)
        with torch.inference_mode():
            z = self.adapter.encode(pipe, video[None]).float().cpu()
        move, static, holes = steer.latent_masks(controls, plan, self.traits, plan.keep)
        clocks = steer.clocks_for(strength)
        schedule = steer.scheduled_copy(
            pipe.scheduler, steps, **self.adapter.schedule_kwargs(pipe, plan, steps)
        )
        skip = steer.start_index(schedule, clocks.start)
        steer.truncate(schedule, skip)
        alphas, sigmas = steer.alphas_sigmas(schedule)
        noise = torch.randn(z.shape, generator=generator, dtype=torch.float32)
        return steer.Steering(
            clocks=clocks, guide=z, noise=noise, move_mask=move, static_mask=static,
            hole_mask=holes, alphas=alphas, sigmas=sigmas, levels=steer.levels(schedule),
            skip=skip, keep_first=self.adapter.keeps_first_frame(pipe, kind),
        )  # fmt: skip

    def _sample(self, pipe, plan, request, controls, kind, generator, report, steps, steering):
        from PIL import Image

        from ...controls import fit_keyframe
        from . import steering as steer

        preview = self.preview_map(report) if report is not None else None
        size = _preview_size(plan)
        skip = steering.skip if steering is not None else 0
        if report is not None:
            report.progress(skip, steps, "encoding the prompt")

        def on_step_end(pipe_, index, timestep, tensors):
            done = skip + index + 1
            outputs = {}
            if steering is not None:
                current = self.adapter.video_latents(pipe_, tensors["latents"], plan)
                held = steering.held(index, current)
                if held is not None:
                    steer.forget_history(pipe_.scheduler)
                    outputs["latents"] = self.adapter.pipeline_latents(
                        pipe_, held, plan, like=tensors["latents"]
                    )
            if report is None:
                return outputs
            x0 = tap.latest
            frames = None
            if x0 is not None and preview is not None:
                z = self.adapter.denoised_video(pipe_, x0, tensors["latents"], plan)
                frames = preview(z, size)[: plan.keep]
            elif x0 is not None and (done % DECODE_PREVIEW_EVERY == 0):
                z = self.adapter.denoised_video(pipe_, x0, tensors["latents"], plan)
                frames = _resize(_to_frames(self._decode_raw(pipe_, z, generator)), size)
                frames = frames[: plan.keep]
            report.progress(done, steps, "steps")  # raises Cancelled once the user cancels
            if frames is not None:
                report.preview(frames, done, steps, complete=False)
            return outputs

        image = last_image = None
        if kind == "i2v":
            image = Image.fromarray(fit_keyframe(controls.keyframe, plan.width, plan.height))
        if self.takes_last_frame(controls, kind):
            last = fit_keyframe(controls.last_keyframe, plan.width, plan.height)
            last_image = Image.fromarray(last)
        kwargs = self.adapter.call_kwargs(plan, image=image, last_image=last_image)
        kwargs.update(
            prompt=controls.prompt or "",
            negative_prompt=controls.negative_prompt or None,
            num_inference_steps=steps,
            guidance_scale=float(request.guidance),
            generator=generator,
            output_type="latent",
            callback_on_step_end=on_step_end,
            callback_on_step_end_tensor_inputs=["latents"],
        )
        if steering is not None:
            kwargs["latents"] = self.adapter.pipeline_latents(pipe, steering.start_latents(), plan)
        try:
            with DenoisedTap(pipe.scheduler) as tap, steer.StartAt(pipe.scheduler, skip):
                out = pipe(**kwargs)
        except Exception as error:
            if not is_out_of_memory(error):
                raise
            _free_accelerator_memory()
            raise OutOfMemory(self._sampling_advice(plan)) from error
        return self.adapter.video_latents(pipe, out.frames, plan).detach()

    def _sampling_advice(self, plan: ModelPlan) -> str:
        order = memory_modes.MODES[1:]
        leaner = order[order.index(self.mode) + 1 :] if self.mode in order else ()
        where = f"{plan.width}x{plan.height}, {plan.frames} frames"
        if leaner:
            label = memory_modes.MODE_LABELS[leaner[0]]
            fix = (
                f"Choose {label} under Preferences > GPU memory, or lower the resolution or frames."
            )
        else:
            fix = "Lower the resolution or the number of frames, then try again."
        return f"Ran out of memory while sampling {self.traits.label} at {where}. {fix}"

    def _decode_raw(self, pipe, latents, generator):
        import torch

        self.decodes += 1
        with torch.inference_mode():
            return self.adapter.decode(pipe, latents, generator)

    def _decode(self, pipe, latents, plan, request, generator, kind):
        vae = pipe.vae
        if request.tiled_decode and hasattr(vae, "enable_tiling"):
            vae.enable_tiling()
        elif hasattr(vae, "disable_tiling"):
            vae.disable_tiling()
        try:
            return self._decode_raw(pipe, latents, generator)
        except Exception as error:
            if not is_out_of_memory(error):
                raise
            self._kept = _Kept(sampling_key(request), latents.to("cpu"), plan, kind)
            _free_accelerator_memory()
            raise DecodeOutOfMemory(
                "Ran out of memory decoding the finished clip. Its latents are kept: choose "
                "Decode again in the queue to finish it with a tiled decode, without sampling "
                "again."
            ) from error


def _quietly(function, *args, **kwargs):
    """Call with diffusers' warnings off: `from_pipe` re-casts every shared module and warns
    once per module that it keeps no fp32 layers, which says nothing to a user."""
    from diffusers.utils import logging as diffusers_logging

    before = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()
    try:
        return function(*args, **kwargs)
    finally:
        diffusers_logging.set_verbosity(before)


def _preview_size(plan: ModelPlan) -> tuple[int, int]:
    scale = min(1.0, PREVIEW_SIDE / max(plan.width, plan.height))
    return max(16, int(round(plan.width * scale))), max(16, int(round(plan.height * scale)))


def _to_frames(video) -> np.ndarray:
    """(1, 3, T, H, W) in [-1, 1] -> uint8 (T, H, W, 3)."""
    x = video[0].float().clamp(-1, 1).add(1).mul(127.5).round().byte()
    return x.permute(1, 2, 3, 0).cpu().numpy()


def _resize(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    if frames.shape[2] == size[0] and frames.shape[1] == size[1]:
        return frames
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])


def _fit_frames(frames: np.ndarray, count: int, width: int, height: int) -> np.ndarray:
    """Native frames -> the shot's frame count and size (retimed, scaled and cropped to fill)."""
    from ...controls import fit_keyframe
    from ...models.pipeline import retime

    frames = retime(frames, count)
    if frames.shape[1:3] == (height, width):
        return np.ascontiguousarray(frames)
    return np.stack([fit_keyframe(f, width, height) for f in frames])
