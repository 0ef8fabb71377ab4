"""Real video models through diffusers: Wan 2.1/2.2, LTX-Video and CogVideoX.

Each model folder found by `engine.model_library` is one backend, `diffusers:<name>`, with
the capabilities its configs declare. The backend is thin: `capabilities` reads JSON only
(the studio asks on the GUI thread), `load` and `generate` hand over to the shared
`DiffusersRunner`, which a per-family adapter (`wan.py`, `ltx.py`, `cogvideox.py`) tells
what differs. diffusers and transformers are the optional `kinema[models]` extra; without
them every model is listed with the sentence saying how to install it.
"""

from __future__ import annotations

import importlib.util

from ...errors import ModelLoadError
from ...model_library import ModelEntry
from .. import Capabilities

INSTALL_HINT = "Real models need the models extra: pip install 'kinema[models]'."


def models_extra_missing() -> str:
    """Why the diffusers stack cannot be imported here, or ""."""
    missing = [
        name
        for name in ("diffusers", "transformers", "accelerate")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        return f"{', '.join(missing)} not installed. {INSTALL_HINT}"
    return ""


class DiffusersBackend:
    """The backend of one discovered model folder."""

    def __init__(self, entry: ModelEntry) -> None:
        self.entry = entry
        self.name = entry.backend
        self._runner = None

    def _traits(self):
        from .adapter import adapter_for

        return adapter_for(self.entry).traits() if self.entry.family else None

    def capabilities(self) -> Capabilities:
        entry = self.entry
        traits = None
        problem = entry.problem
        if not problem:
            try:
                traits = self._traits()
            except (KeyError, TypeError, ValueError) as error:
                problem = f"{entry.name}: its configs cannot be read ({error})."
        problem = problem or models_extra_missing()
        if traits is None:
            return Capabilities(
                name=self.name,
                label=f"{entry.name} (cannot run)",
                description=problem,
                text=True,
                uses_steps=True,
                uses_device=True,
                unavailable=problem,
            )
        extras = []
        if traits.keyframe:
            last = " and a last frame" if traits.last_frame else ""
            last += " (both needed)" if traits.last_frame_required else ""
            extras.append("a keyframe" + last)
        follows = "the prompt" + (f", {extras[0]}" if extras else "")
        follows += ", the camera path and the strokes (through the guide)"
        return Capabilities(
            name=self.name,
            label=traits.label,
            description=(
                f"{traits.label}, from {entry.path}: follows {follows}; makes {traits.frame_rule}."
            ),
            text=True,
            keyframe=traits.keyframe,
            last_frame=traits.last_frame,
            camera=True,  # all three through the guide video (steering.py), no training
            motion_brush=True,
            static_brush=True,
            uses_steps=True,
            uses_device=True,
            unavailable=problem,
            max_frames=4096,  # the native plan says when a shot is too long, in seconds
            size_multiple=2,  # made at the native size, then scaled to the shot's
            default_steps=traits.default_steps,
            default_guidance=traits.default_guidance,
            family=traits.family,
            frame_rule=traits.frame_rule,
            native_fps=traits.native_fps,
        )

    def load(self, device: str) -> None:
        problem = self.entry.problem or models_extra_missing()
        if problem:
            raise ModelLoadError(problem)
        from .runner import DiffusersRunner

        if self._runner is None:
            self._runner = DiffusersRunner(self.entry)
        self._runner.load(device)

    @property
    def runner(self):
        return self._runner

    def generate(self, request, controls, report, cancel):
        if self._runner is None:
            from ...worker import resolve_device

            self.load(resolve_device(request.device))
        return self._runner.generate(request, controls, report, cancel)


def memory_advice(
    backend: str, width: int, height: int, frames: int, fps: float, mode: str = "auto"
) -> str:
    """The inspector's line for a shot on a real model: what it needs and whether it fits.

    Reads configs and weight headers only; "" for a backend that is not a real model or
    cannot run. A shot too long for the model gets the sentence saying so.
    """
    from ...errors import KinemaError
    from ...model_library import PREFIX, find_model
    from . import memory
    from .adapter import adapter_for, plan_request

    if not backend.startswith(PREFIX):
        return ""
    try:
        entry = find_model(backend)
        if entry.problem:
            return ""
        traits = adapter_for(entry).traits()
        plan = plan_request(traits, width, height, frames, fps)
        estimate = memory.estimate(entry, traits, plan)
    except KinemaError as error:
        return str(error)
    except (OSError, ValueError, KeyError) as error:
        return f"The model's files cannot be read to predict its memory ({error})."
    native = f"Made at {plan.width}x{plan.height}, {plan.frames} frames at {plan.fps:g} fps. "
    return native + memory.advice(estimate, memory.gpu_memory(), mode)
