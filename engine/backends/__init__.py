"""Backends turn a compiled shot into frames, behind one small protocol.

A backend declares what it can honour (`capabilities`), loads its weights once
(`load`, kept warm by the engine), and generates (`generate`), reporting progress and
previews through a `Reporter` and checking a `CancelToken` between steps. Adding a
backend means adding a file here and a line to `BACKENDS`; nothing else changes.

Real models are backends too, one per model folder the user has (`diffusers:<name>`,
found by `engine.model_library`): `backend_names` lists them after the built-in ones and
`create_backend` makes them, so the engine and the studio treat them like any other.
"""

from __future__ import annotations

import dataclasses
import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from ..errors import Cancelled, InvalidRequest

if TYPE_CHECKING:
    from ..controls import ShotControls
    from ..jobs import GenerationRequest


@dataclass(frozen=True)
class Capabilities:
    """What a backend can honour; the studio disables controls a backend ignores."""

    name: str
    label: str
    description: str
    text: bool = False  # follows the prompt
    keyframe: bool = False  # starts from the keyframe image
    last_frame: bool = False  # also ends on a last keyframe
    camera: bool = False  # follows the camera path
    motion_brush: bool = False  # follows move strokes
    static_brush: bool = False  # keeps static regions fixed
    extension: bool = False  # continues an existing clip
    streaming: bool = False  # yields finished frames chunk by chunk
    uses_steps: bool = False  # the steps / guidance settings mean something
    uses_device: bool = False  # runs a model on a torch device (cpu / cuda); 'auto' resolves
    unavailable: str = ""  # why the backend cannot run here (e.g. weights not installed), or ""
    storyboard: bool = False  # paints a storyboard plan's layout: Generate plans a bare shot
    max_frames: int = 1024
    size_multiple: int = 2  # width and height must be multiples of this
    max_side: int = 4096
    default_steps: int = 20  # what a shot's steps and guidance start at with this backend
    default_guidance: float = 5.0
    family: str = ""  # a real model's family ("wan", "ltx", "cogvideox"), else ""
    frame_rule: str = ""  # a real model's native frames, e.g. "4k+1 frames at 16 fps"
    native_fps: float = 0.0  # the frame rate a real model makes; shots are retimed from it


class CancelToken:
    """Set by the engine when the user cancels; checked by backends between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


class Reporter:
    """A backend's channel back to the client: progress, previews and notices.

    Every call also checks the cancel token, so a backend that reports at each step is
    cancellable at each step without extra code.
    """

    def __init__(
        self,
        on_progress: Callable[[int, int, str], None],
        on_preview: Callable[[np.ndarray, int, int, bool], None],
        on_notice: Callable[[str, str], None],
        cancel: CancelToken,
    ) -> None:
        self._on_progress = on_progress
        self._on_preview = on_preview
        self._on_notice = on_notice
        self._cancel = cancel

    def progress(self, step: int, total: int, message: str = "") -> None:
        self._cancel.raise_if_cancelled()
        self._on_progress(step, total, message)

    def preview(self, frames: np.ndarray, step: int, total: int, complete: bool = False) -> None:
        self._cancel.raise_if_cancelled()
        self._on_preview(frames, step, total, complete)

    def notice(self, message: str, level: str = "info") -> None:
        self._on_notice(message, level)


@runtime_checkable
class Backend(Protocol):
    name: str

    def capabilities(self) -> Capabilities: ...

    def load(self, device: str) -> None:
        """Load weights onto `device`; called once, before the first `generate`."""

    def generate(
        self,
        request: GenerationRequest,
        controls: ShotControls,
        report: Reporter,
        cancel: CancelToken,
    ) -> np.ndarray:
        """Return uint8 frames (T, H, W, 3); raise `Cancelled` when `cancel` is set."""


#: backend name -> "module:Class", imported only when first used
BACKENDS: dict[str, str] = {
    "previs": "engine.backends.previs:PrevisBackend",
    "builtin": "engine.backends.builtin:BuiltinBackend",
}


def backend_names() -> list[str]:
    """The built-in backends, then one `diffusers:<name>` per model folder found."""
    from ..model_library import discover_models

    return [*BACKENDS, *(entry.backend for entry in discover_models())]


def create_backend(name: str) -> Backend:
    """Instantiate a backend by name; `InvalidRequest` names the known ones otherwise."""
    from ..model_library import PREFIX

    if name.startswith(PREFIX):
        from ..errors import ModelLoadError
        from ..model_library import find_model
        from .diffusers import DiffusersBackend

        try:
            return DiffusersBackend(find_model(name))
        except ModelLoadError as error:
            raise InvalidRequest(str(error)) from error
    if name not in BACKENDS:
        raise InvalidRequest(
            f"Unknown backend '{name}'. Available backends: {', '.join(backend_names())}."
        )
    module_name, class_name = BACKENDS[name].split(":")
    module = importlib.import_module(module_name)
    return getattr(module, class_name)()


def switched_settings(settings, old: Capabilities | None, new: Capabilities):
    """`settings` (a shot's `ShotSettings`) moved to backend `new`.

    Steps and guidance mean different things to different models: a few-step model run at
    another model's 20 steps is slow for nothing. What the user left at the old backend's
    defaults takes the new backend's; what they chose themselves stays.
    """
    old_steps = old.default_steps if old else Capabilities.default_steps
    old_guidance = old.default_guidance if old else Capabilities.default_guidance
    return dataclasses.replace(
        settings,
        backend=new.name,
        steps=new.default_steps if settings.steps == old_steps else settings.steps,
        guidance=new.default_guidance if settings.guidance == old_guidance else settings.guidance,
    )


def check_request(caps: Capabilities, request: GenerationRequest) -> None:
    """Reject a request the backend cannot honour, with a sentence naming the setting."""
    if request.frames > caps.max_frames:
        raise InvalidRequest(
            f"{caps.label} makes at most {caps.max_frames} frames per shot; "
            f"this shot asks for {request.frames}. Shorten the shot."
        )
    for side_name, side in (("width", request.width), ("height", request.height)):
        if side % caps.size_multiple:
            raise InvalidRequest(
                f"{caps.label} needs a {side_name} that is a multiple of "
                f"{caps.size_multiple}; got {side}."
            )
        if side > caps.max_side:
            raise InvalidRequest(
                f"{caps.label} makes frames at most {caps.max_side} pixels wide or high; "
                f"the {side_name} is {side}."
            )
