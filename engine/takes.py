"""Takes on disk: a generated clip's frames plus the exact request that made it.

A take lives in `takes/<shot id>/<take id>/` inside the project folder:

    frames/frame_00000.png ...   the clip, lossless, one PNG per frame
    request.json                 the `GenerationRequest` (re-run it to get the same frames)

Every frame also carries the request inside it (a PNG text chunk, see `engine.recipe`), so
a frame copied out of the project still says how it was made.

The folder is written under a hidden temporary name and renamed into place only once
complete, so a crash or a full disk never leaves a half take that looks whole. The
document (`Take` in `project.py`) records the take; this module only reads and writes
files, so the CLI, a render node and the studio share it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .errors import InvalidRequest, MediaError
from .jobs import GenerationRequest
from .project import Project, Take

FRAMES_DIR = "frames"
REQUEST_FILE = "request.json"
FRAME_PREFIX = "frame_"
_FRAME_RE = re.compile(re.escape(FRAME_PREFIX) + r"(\d+)\.png")
_TAKE_LABEL_RE = re.compile(r"Take (\d+)$")

ProgressFn = Callable[[int, int], None]


def new_take_id() -> str:
    return uuid.uuid4().hex[:8]


def next_take_label(takes) -> str:
    """The label of a shot's next take: "Take N", one past the highest N among `takes`."""
    numbers = [int(m.group(1)) for t in takes if (m := _TAKE_LABEL_RE.match(t.label))]
    return f"Take {max(numbers, default=0) + 1}"


def take_folder(shot_id: str, take_id: str) -> str:
    """The take's folder relative to the project folder (forward slashes, as stored)."""
    return f"takes/{shot_id}/{take_id}"


def save_take(
    project_folder: Path | str,
    shot_id: str,
    frames: np.ndarray,
    request: GenerationRequest,
    *,
    fps: float | None = None,
    take_id: str | None = None,
    label: str = "",
    progress: ProgressFn | None = None,
) -> Take:
    """Write `frames` (uint8 T H W 3) and `request` as a new take; returns its `Take` record.

    The returned record is not added to any document: the caller does that (the studio
    through an undoable command), so that writing files never races an edit.
    """
    from .media import write_png_sequence
    from .recipe import Recipe, model_identity, shot_recipe

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or not len(frames):
        raise InvalidRequest(
            f"A take needs uint8 frames shaped (T, H, W, 3); got {frames.dtype} {frames.shape}."
        )
    take_id = take_id or new_take_id()
    relative = take_folder(shot_id, take_id)
    final = Path(project_folder) / relative
    if final.exists():
        raise MediaError(f"Could not save the take: '{relative}' already exists.")
    partial = final.with_name(f".{take_id}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    count, height, width = frames.shape[:3]
    record = Take(
        id=take_id,
        folder=relative,
        frames=int(count),
        fps=float(request.fps if fps is None else fps),
        width=int(width),
        height=int(height),
        backend=request.backend,
        seed=int(request.seed),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        request=request.to_dict(),
        label=label,
        model=model_identity(request.backend),
    )
    snapshot = request.shot if isinstance(request.shot, dict) else {}
    recipe = Recipe(
        project={"width": request.width, "height": request.height, "fps": request.fps},
        shots=(
            shot_recipe(
                record.request,
                name=str(snapshot.get("name", "")),
                shot_id=shot_id,
                start=0,
                frames=int(count),
                take=record,
                model=record.model,
                project_dir=project_folder,
            ),
        ),
    )
    try:
        partial.mkdir(parents=True)
        write_png_sequence(
            partial / FRAMES_DIR,
            frames,
            progress=progress,
            prefix=FRAME_PREFIX,
            metadata=recipe.metadata(),
        )
        text = json.dumps(request.to_dict(), indent=2, allow_nan=False) + "\n"
        (partial / REQUEST_FILE).write_text(text, encoding="utf-8")
        os.replace(partial, final)
    except OSError as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise MediaError(f"Could not save the take in '{relative}': {error.strerror}.") from error
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return record


def frame_paths(project_folder: Path | str, take: Take) -> list[Path]:
    """The take's frame files in order; `MediaError` if the folder or any frame is missing."""
    folder = Path(project_folder) / take.folder / FRAMES_DIR
    if not folder.is_dir():
        raise MediaError(f"The frames of take '{take.label or take.id}' are missing ({folder}).")
    numbered = sorted(
        (int(m.group(1)), p) for p in folder.iterdir() if (m := _FRAME_RE.fullmatch(p.name))
    )
    if len(numbered) != take.frames or any(i != n for i, (n, _) in enumerate(numbered)):
        raise MediaError(
            f"Take '{take.label or take.id}' should hold {take.frames} frames but its folder has "
            f"{len(numbered)}: it was damaged or edited by hand."
        )
    return [p for _, p in numbered]


def load_take_frames(
    project_folder: Path | str, take: Take, progress: ProgressFn | None = None
) -> np.ndarray:
    """Read a take's frames back as uint8 (T, H, W, 3), read-only."""
    from .media import read_image

    paths = frame_paths(project_folder, take)
    out = np.empty((len(paths), take.height, take.width, 3), np.uint8)
    for index, path in enumerate(paths):
        frame = read_image(path)
        if frame.shape != out.shape[1:]:
            raise MediaError(
                f"Frame {index} of take '{take.label or take.id}' is {frame.shape[1]}x"
                f"{frame.shape[0]}, not {take.width}x{take.height}."
            )
        out[index] = frame
        if progress is not None:
            progress(index + 1, len(paths))
    out.flags.writeable = False
    return out


def take_request(take: Take) -> GenerationRequest:
    """The request that made `take`, under a new job id, ready to submit again."""
    if not take.request:
        raise InvalidRequest(f"Take '{take.label or take.id}' does not record its request.")
    return GenerationRequest.from_dict(take.request).rerun()


def unused_take_folders(project: Project) -> list[Path]:
    """Take folders under `takes/` that no shot refers to (deleted or undone takes)."""
    if project.folder is None:
        return []
    root = project.folder / "takes"
    if not root.is_dir():
        return []
    used = {take.folder for shot in project.shots for take in shot.takes}
    unused = []
    for shot_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for take_dir in sorted(p for p in shot_dir.iterdir() if p.is_dir()):
            if f"takes/{shot_dir.name}/{take_dir.name}" not in used:
                unused.append(take_dir)
    return unused


def purge_unused_takes(project: Project) -> list[Path]:
    """Delete the folders `unused_take_folders` names (after a save); returns what went."""
    removed = []
    for folder in unused_take_folders(project):
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
        parent = folder.parent
        if parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
    return removed
