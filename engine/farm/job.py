"""`FarmJob`: a request packed with everything a node needs, the keyframes' bytes included.

A request names its keyframe (and its last keyframe) by a path relative to the client's
project folder. A node cannot read that folder, so the client reads each file's bytes once
(`pack`) and the node decodes them exactly as `engine.media.read_image` decodes the file
(`compile_job`), so the same request gives the same controls, and the same frames, on
either side.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidRequest, MediaError
from ..jobs import GenerationRequest


@dataclass(frozen=True)
class FarmJob:
    request: GenerationRequest  # `project_dir` cleared: a node never reads the client's disk
    keyframe: bytes | None = None  # the keyframe file's bytes, as they are on the client's disk
    keyframe_name: str = ""  # the file's name: its extension guides the decoder
    last_keyframe: bytes | None = None  # the last keyframe's bytes, the same way
    last_keyframe_name: str = ""

    @property
    def job_id(self) -> str:
        return self.request.job_id

    @property
    def size(self) -> int:
        """Bytes of media the job carries (what goes over the network besides the shot)."""
        return len(self.keyframe or b"") + len(self.last_keyframe or b"")


def pack(request: GenerationRequest) -> FarmJob:
    """The request with its keyframes read into bytes; `MediaError` if a file is gone."""
    shot = request.shot if isinstance(request.shot, dict) else {}
    remote = dataclasses.replace(request, project_dir=None)
    keyframe, keyframe_name = _read(request, shot.get("keyframe"), "keyframe")
    last, last_name = _read(request, shot.get("last_keyframe"), "last keyframe")
    return FarmJob(remote, keyframe, keyframe_name, last, last_name)


def _read(request: GenerationRequest, relative, what: str) -> tuple[bytes | None, str]:
    """The bytes and name of the file the shot names as its `what`, or (None, "")."""
    if not relative:
        return None, ""
    if request.project_dir is None:
        raise InvalidRequest(f"The shot has a {what} but the request names no project folder.")
    from ..errors import ProjectError
    from ..paths import inside

    if not isinstance(relative, str):
        raise InvalidRequest(f"The shot's {what} is not a path.")
    try:  # only a file inside the project is ever sent
        path = inside(Path(request.project_dir), relative, f"The {what}")
    except ProjectError as error:
        raise InvalidRequest(str(error)) from error
    try:
        data = path.read_bytes()
    except OSError as error:
        raise MediaError(
            f"Could not send the {what} '{relative}' to the farm: {error.strerror or error}."
        ) from error
    return data, path.name


def compile_job(job: FarmJob):
    """The job's `ShotControls`, its keyframes decoded from the bytes it carries."""
    from ..controls import compile_request

    keyframe = _decode(job.keyframe, job.keyframe_name, "keyframe.png")
    last = _decode(job.last_keyframe, job.last_keyframe_name, "last-keyframe.png")
    return compile_request(job.request, keyframe=keyframe, last_keyframe=last)


def _decode(data: bytes | None, name: str, fallback: str):
    from ..media import read_keyframe

    if data is None:
        return None
    # read_image decodes from a file (its FFmpeg fallback needs one): a private temporary
    # copy on the node, gone as soon as the image is in memory
    name = Path(name).name or fallback  # its messages name the file
    with tempfile.TemporaryDirectory(prefix="kinema-keyframe-") as folder:
        path = os.path.join(folder, name)
        with open(path, "wb") as file:
            file.write(data)
        return read_keyframe(path)  # the pixel budget and aspect, as on the client
