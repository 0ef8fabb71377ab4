"""The engine's whole public face to a client: one request in, a stream of events out.

Requests and events are frozen, picklable dataclasses, so the engine could move into
its own process without the studio noticing. A request carries everything a job needs
(a snapshot of the shot, the output size, the backend and its settings); the engine never
reads GUI state. Every event carries the job id so a client can drop events for jobs
it no longer tracks.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from .errors import InvalidRequest

#: GPU memory modes a request may ask for (see engine.backends.diffusers.memory)
MEMORY_MODES = ("auto", "gpu", "model-offload", "group-offload", "sequential-offload")


def new_job_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class GenerationRequest:
    """Everything one generation job needs, frozen at the moment the user pressed Generate.

    `shot` is the shot's JSON snapshot (`Shot.to_dict()`), so a take can store the exact
    request that made it and re-run it later even if the document has changed since.
    `project_dir` resolves the shot's relative keyframe path.
    """

    shot: dict[str, Any]
    width: int = 512
    height: int = 512
    frames: int = 48
    fps: float = 24.0
    backend: str = "previs"
    steps: int = 20
    guidance: float = 5.0
    guide_strength: float = 0.6
    seed: int = 0
    project_dir: str | None = None
    device: str = "auto"
    memory: str = "auto"  # a real model's GPU memory mode (engine.backends.diffusers.memory)
    tiled_decode: bool = False  # decode in tiles (after a decode ran out of memory)
    job_id: str = field(default_factory=new_job_id)

    def validate(self) -> None:
        """Raise `InvalidRequest` with the sentence a user reads for a malformed request."""
        if not isinstance(self.shot, dict):
            raise InvalidRequest("The request carries no shot to generate.")
        for name in ("width", "height", "frames", "steps", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidRequest(f"{name} must be a whole number, got {_show(value)}.")
        for name in ("fps", "guidance", "guide_strength"):
            value = getattr(self, name)
            if not _real(value):
                raise InvalidRequest(f"{name} must be a finite number, got {_show(value)}.")
        for name in ("backend", "device", "memory"):
            if not isinstance(getattr(self, name), str):
                raise InvalidRequest(f"{name} must be text, got {_show(getattr(self, name))}.")
        if self.project_dir is not None and not isinstance(self.project_dir, str):
            raise InvalidRequest(f"project_dir must be a folder, got {_show(self.project_dir)}.")
        if not (16 <= self.width <= 4096 and 16 <= self.height <= 4096):
            raise InvalidRequest(
                f"Output size {_show(self.width)}x{_show(self.height)} is out of range: "
                "width and height must be between 16 and 4096 pixels."
            )
        if not 1 <= self.frames <= 100_000:
            raise InvalidRequest(f"A clip needs 1 to 100000 frames, got {_show(self.frames)}.")
        if not (0 < float(self.fps) <= 240):
            raise InvalidRequest(f"Frame rate must be between 0 and 240 fps, got {self.fps}.")
        if not 1 <= self.steps <= 1000:
            raise InvalidRequest(f"Steps must be between 1 and 1000, got {_show(self.steps)}.")
        if not 0 <= self.guidance <= 100:
            raise InvalidRequest(f"Guidance must be a number from 0 to 100, got {self.guidance}.")
        if not 0 <= self.guide_strength <= 1:
            raise InvalidRequest(
                f"Guide strength must be between 0 and 1, got {self.guide_strength}."
            )
        if self.memory not in MEMORY_MODES:
            raise InvalidRequest(
                f"Unknown memory mode '{_show(self.memory)}'; choose one of "
                f"{', '.join(MEMORY_MODES)}."
            )
        if not 0 <= self.seed < 2**32:
            raise InvalidRequest(f"Seed must be between 0 and 4294967295, got {_show(self.seed)}.")

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationRequest:
        """A request from its JSON (a take's record): checked, so a hand-edited one is
        refused with a sentence rather than failing somewhere inside a backend."""
        if not isinstance(data, dict):
            raise InvalidRequest("The recorded request is not an object.")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise InvalidRequest(
                f"Unknown request fields: {_show(', '.join(sorted(map(str, unknown))))}."
            )
        if "shot" not in data:
            raise InvalidRequest("The recorded request carries no shot to generate.")
        request = cls(**data)
        request.validate()
        return request

    def rerun(self) -> GenerationRequest:
        """The same request under a new job id (re-running a take exactly)."""
        return GenerationRequest(**{**asdict(self), "job_id": new_job_id()})


def _real(value: object) -> bool:
    """A finite real number (not a bool), without float() overflowing on a huge integer."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, int):
        return value.bit_length() <= 1000
    return bool(np.isfinite(value))


def _show(value: object) -> str:
    from .fields import show

    return show(value, 40)


# ----------------------------------------------------------------------------- events


@dataclass(frozen=True)
class JobEvent:
    job_id: str


@dataclass(frozen=True)
class JobQueued(JobEvent):
    position: int  # jobs ahead of this one, the running one included


@dataclass(frozen=True)
class JobStarted(JobEvent):
    backend: str
    total_steps: int
    node: str = ""  # the farm node running the job ("" on this machine's own engine)


@dataclass(frozen=True)
class JobProgress(JobEvent):
    """`elapsed_s` is the job's own clock on the machine that runs it (seconds since it
    started, loading included): a client measures time per step from the gaps between
    these, free of delivery delays; None where nothing timed it."""

    step: int
    total: int
    message: str = ""
    elapsed_s: float | None = None


@dataclass(frozen=True)
class JobPreview(JobEvent):
    """The model's current estimate of the clip, or the frames finished so far when streaming.

    `frames` is uint8 (T, H, W, 3); `complete` is True when every frame is final.
    """

    frames: np.ndarray
    step: int
    total: int
    complete: bool = False


@dataclass(frozen=True)
class JobFinished(JobEvent):
    frames: np.ndarray  # uint8 (T, H, W, 3)
    fps: float
    elapsed_s: float
    request: GenerationRequest
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobCancelled(JobEvent):
    pass


#: `JobFailed.kind` of a job whose farm node went away: submitting it again is safe
NODE_LOST = "node-lost"


@dataclass(frozen=True)
class JobFailed(JobEvent):
    message: str  # the sentence the user reads
    kind: str = "error"  # KinemaError.kind, or "internal" for a bug
    detail: str = ""  # traceback, for the log file


@dataclass(frozen=True)
class JobNotice(JobEvent):
    message: str
    level: str = "info"  # "info" | "warning"
