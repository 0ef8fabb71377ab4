"""`FarmJob`: a request packed with everything a node needs, the keyframe's bytes included.

A request names its keyframe by a path relative to the client's project folder. A node
cannot read that folder, so the client reads the file's bytes once (`pack`) and the node
decodes them exactly as `engine.media.read_image` decodes the file (`compile_job`), so the
same request gives the same controls, and the same frames, on either side.
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

    @property
    def job_id(self) -> str:
        return self.request.job_id

    @property
    def size(self) -> int:
        """Bytes of media the job carries (what goes over the network besides the shot)."""
        return len(self.keyframe or b"")


def pack(request: GenerationRequest) -> FarmJob:
    """The request with its keyframe read into bytes; `MediaError` if the file is gone."""
    keyframe = request.shot.get("keyframe") if isinstance(request.shot, dict) else None
    remote = dataclasses.replace(request, project_dir=None)
    if not keyframe:
        return FarmJob(remote)
    if request.project_dir is None:
        raise InvalidRequest("The shot has a keyframe but the request names no project folder.")
    from ..errors import ProjectError
    from ..paths import inside

    if not isinstance(keyframe, str):
        raise InvalidRequest("The shot's keyframe is not a path.")
    try:  # only a file inside the project is ever sent
        path = inside(Path(request.project_dir), keyframe, "The keyframe")
    except ProjectError as error:
        raise InvalidRequest(str(error)) from error
    try:
        data = path.read_bytes()
    except OSError as error:
        raise MediaError(
            f"Could not send the keyframe '{keyframe}' to the farm: {error.strerror or error}."
        ) from error
    return FarmJob(remote, data, path.name)


def compile_job(job: FarmJob):
    """The job's `ShotControls`, its keyframe decoded from the bytes it carries."""
    from ..controls import compile_request
    from ..media import read_keyframe

    keyframe = None
    if job.keyframe is not None:
        # read_image decodes from a file (its FFmpeg fallback needs one): a private temporary
        # copy on the node, gone as soon as the image is in memory
        name = Path(job.keyframe_name).name or "keyframe.png"  # its messages name the file
        with tempfile.TemporaryDirectory(prefix="kinema-keyframe-") as folder:
            path = os.path.join(folder, name)
            with open(path, "wb") as file:
                file.write(job.keyframe)
            keyframe = read_keyframe(path)  # the pixel budget and aspect, as on the client
    return compile_request(job.request, keyframe=keyframe)
