"""Takes on disk: a generated clip's frames plus the exact request that made it.

A take lives in `takes/<shot id>/<take id>/` inside the project folder:

    frames/frame_00000.png ...   the clip, lossless, one PNG per frame
    request.json                 the `GenerationRequest` (re-run it to get the same frames)

    take.json                    the take's own record, so a take the document never
                                 listed (Kinema closed first) can be offered back

Every frame also carries the request inside it (a PNG text chunk, see `engine.recipe`), so
a frame copied out of the project still says how it was made.

The folder is written under a hidden temporary name and renamed into place only once
complete, so a crash or a full disk never leaves a half take that looks whole. The
document (`Take` in `project.py`) records the take; this module only reads and writes
files, so the CLI, a render node and the studio share it.

Nothing here deletes a take it was not told to: clean-up takes the folders the caller names
(those the user removed), never "whatever is not listed", since a take another process or a
late job wrote is not listed yet either. Paths are checked inside the project at every
write and delete, and symlinks are never followed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .errors import InvalidRequest, KinemaError, MediaError, ProjectError, storage_error
from .jobs import GenerationRequest
from .paths import SAFE_ID, inside, is_real_dir, real_subdirs
from .paths import take_folder as _take_folder
from .project import Project, Take

log = logging.getLogger(__name__)

FRAMES_DIR = "frames"
REQUEST_FILE = "request.json"
RECORD_FILE = "take.json"
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
    """The take's folder relative to the project folder (forward slashes, as stored); the
    ids are checked, so no id can lead the folder anywhere else."""
    try:
        return _take_folder(shot_id, take_id)
    except ProjectError as error:
        raise InvalidRequest(f"Cannot save a take here: {error}.") from error


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
    root = Path(project_folder)
    try:
        final = _checked_write_path(root, relative)
    except ProjectError as error:
        raise MediaError(f"Could not save the take: {error}") from error
    if final.exists():
        raise MediaError(f"Could not save the take: '{relative}' already exists.")
    partial = final.with_name(f".{take_id}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    count, height, width = frames.shape[:3]
    # the take records paths relative to the project: a re-run reads the project it is in
    stored = dataclasses.replace(request, project_dir=None).to_dict()
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
        request=stored,
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
        text = json.dumps(stored, indent=2, allow_nan=False) + "\n"
        (partial / REQUEST_FILE).write_text(text, encoding="utf-8")
        text = json.dumps(record.to_dict(), indent=2, allow_nan=False) + "\n"
        (partial / RECORD_FILE).write_text(text, encoding="utf-8")
        _checked_write_path(root, relative)  # still inside: nothing was swapped meanwhile
        os.replace(partial, final)
    except (OSError, ProjectError) as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise _save_error(error, relative) from error
    except MediaError as error:
        shutil.rmtree(partial, ignore_errors=True)
        cause = error.__cause__
        if isinstance(cause, OSError) and storage_error(cause, "") is not None:
            raise _save_error(cause, relative) from error
        raise
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return record


def _checked_write_path(root: Path, relative: str) -> Path:
    """`root/relative` for a new take, when `takes/` and the shot's folder are real folders
    inside the project (a symlink there would carry the take elsewhere)."""
    parts = relative.split("/")
    for depth in (1, 2):
        folder = root.joinpath(*parts[:depth])
        if os.path.lexists(folder) and not is_real_dir(folder):
            raise ProjectError(
                f"'{'/'.join(parts[:depth])}' in the project is a link or a file, not a folder; "
                "Kinema writes takes only into the project's own folders."
            )
    return inside(root, relative, "The take folder")


def _save_error(error: BaseException, relative: str) -> KinemaError:
    if isinstance(error, OSError):
        typed = storage_error(error, f"the take '{relative}'", "No other take was touched.")
        if typed is not None:
            return typed
        return MediaError(f"Could not save the take in '{relative}': {error.strerror or error}.")
    return MediaError(f"Could not save the take: {error}")


def frame_paths(project_folder: Path | str, take: Take) -> list[Path]:
    """The take's frame files in order; `MediaError` if the folder or any frame is missing."""
    try:
        folder = inside(Path(project_folder), f"{take.folder}/{FRAMES_DIR}", "The take")
    except ProjectError as error:
        raise MediaError(str(error)) from error
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
    from .image_header import image_size
    from .media import read_image

    paths = frame_paths(project_folder, take)
    with open(paths[0], "rb") as handle:  # before allocating the clip, as the record says
        declared = image_size(handle.read(64))
    if declared != (take.width, take.height):
        raise MediaError(
            f"Take '{take.label or take.id}' should be {take.width}x{take.height} but its first "
            "frame is not: it was damaged or edited by hand."
        )
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


def take_request(take: Take, project_folder: Path | str | None = None) -> GenerationRequest:
    """The request that made `take`, under a new job id, ready to submit again.

    It reads its keyframe from `project_folder`, the project the take is in now, whatever
    folder the record names: a moved project reads its own media, and a hand-edited record
    cannot point the re-run at any other file.
    """
    if not take.request:
        raise InvalidRequest(f"Take '{take.label or take.id}' does not record its request.")
    data = dict(take.request)
    data["project_dir"] = None if project_folder is None else str(project_folder)
    try:
        request = GenerationRequest.from_dict(data)
    except (TypeError, ValueError) as error:
        raise InvalidRequest(
            f"Take '{take.label or take.id}' records a request Kinema cannot read: {error}."
        ) from error
    return request.rerun()


# ----------------------------------------------------------------------------- telling takes apart

#: what of a shot a take's request records, in the words a user reads, in reading order
_SHOT_PARTS = (
    ("prompt", ("prompt", "negative_prompt")),
    ("keyframe", ("keyframe",)),
    ("strokes", ("strokes",)),
    ("camera", ("camera",)),
    ("length", ("duration",)),
)
_REQUEST_PARTS = (
    ("backend", ("backend",)),
    ("steps", ("steps",)),
    ("guidance", ("guidance", "guide_strength")),
    ("size", ("width", "height")),
)


def _stroke_meaning(stroke: object) -> object:
    """A stroke as it steers a take: its region, kind, path and strength (not its name,
    colour or whether it is shown)."""
    if not isinstance(stroke, dict):
        return stroke
    return {k: stroke.get(k) for k in ("kind", "strength", "trajectory", "mask_png")}


def _shot_value(shot: dict, key: str) -> object:
    value = shot.get(key)
    if key == "strokes" and isinstance(value, list):
        return [_stroke_meaning(s) for s in value]
    if key == "camera" and isinstance(value, dict) and not value.get("keyframes"):
        return None  # a path without keys is the locked-off camera, as no path is
    return value


def shot_changes(shot: dict, before: dict) -> list[str]:
    """What a user would call different between two shot snapshots ("prompt", "strokes",
    "camera", "keyframe", "length"); [] when they ask for the same clip."""
    shot = shot if isinstance(shot, dict) else {}
    before = before if isinstance(before, dict) else {}
    return [
        word
        for word, keys in _SHOT_PARTS
        if any(_shot_value(shot, k) != _shot_value(before, k) for k in keys)
    ]


def request_changes(request: dict, before: dict) -> list[str]:
    """What differs between the requests of two takes, shot first, then "seed" and the
    settings; [] when the second is the first made again (the same frames)."""
    request = request if isinstance(request, dict) else {}
    before = before if isinstance(before, dict) else {}
    words = shot_changes(request.get("shot", {}), before.get("shot", {}))
    if request.get("frames") != before.get("frames") and "length" not in words:
        words.append("length")
    if request.get("seed") != before.get("seed"):
        words.append("seed")
    words += [
        word for word, keys in _REQUEST_PARTS if any(request.get(k) != before.get(k) for k in keys)
    ]
    return words


def load_take_frame(project_folder: Path | str, take: Take, index: int) -> np.ndarray:
    """One frame of a take (clamped to the take), uint8 (H, W, 3): a thumbnail's source,
    without decoding the whole clip."""
    from .media import read_image

    paths = frame_paths(project_folder, take)
    return read_image(paths[min(max(int(index), 0), len(paths) - 1)])


# ----------------------------------------------------------------------------- clean-up


def listed_take_folders(project: Project) -> set[str]:
    return {take.folder for shot in project.shots for take in shot.takes}


def take_folders_on_disk(project: Project) -> list[str]:
    """Every complete take folder under `takes/` (relative), symlinks and odd names skipped."""
    if project.folder is None:
        return []
    found = []
    for shot_dir in real_subdirs(project.folder / "takes"):
        if not SAFE_ID.fullmatch(shot_dir.name):
            continue
        for take_dir in real_subdirs(shot_dir):
            if SAFE_ID.fullmatch(take_dir.name):
                found.append(f"takes/{shot_dir.name}/{take_dir.name}")
    return found


def unused_take_folders(project: Project) -> list[Path]:
    """Take folders under `takes/` that no shot refers to: removed takes, and orphans (takes
    finished after their project was closed). Listing only; see `purge_takes`."""
    used = listed_take_folders(project)
    assert project.folder is not None or not used
    return [project.folder / rel for rel in take_folders_on_disk(project) if rel not in used]


def purge_takes(project: Project, folders: set[str] | list[str]) -> list[Path]:
    """Delete the named take folders (relative) that `project`, as saved, does not list.

    Only these: the caller names what the user removed. Each is deleted only when it is a
    real folder inside the project reached through real folders (no symlink anywhere on
    the way), so nothing outside the project can go.
    """
    if project.folder is None:
        return []
    used = listed_take_folders(project)
    root = project.folder
    on_disk = set(take_folders_on_disk(project))
    removed = []
    for relative in sorted(set(folders) - used):
        if relative not in on_disk:
            continue
        folder = root / relative
        try:
            inside(root, relative)
        except ProjectError as error:
            log.warning("kept %s: %s", relative, error)
            continue
        if not (is_real_dir(root / "takes") and is_real_dir(folder.parent) and is_real_dir(folder)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
        parent = folder.parent
        try:
            if is_real_dir(parent) and not any(parent.iterdir()):
                parent.rmdir()
        except OSError:
            pass
    return removed


def purge_unused_takes(project: Project) -> list[Path]:
    """Delete every unlisted take folder, orphans included: only for a caller that knows no
    other process or late job can have written one (a test, a tool run on a closed
    project). The studio uses `purge_takes` with what the user removed."""
    return purge_takes(project, take_folders_on_disk(project))


# ----------------------------------------------------------------------------- orphans


def orphan_takes(project: Project) -> list[tuple[str, Take]]:
    """Complete takes on disk that no shot lists, as (shot id, record), for shots that
    exist; a take made before a crash or after its project was closed is one of these."""
    if project.folder is None:
        return []
    used = listed_take_folders(project)
    shots = {shot.id for shot in project.shots}
    found = []
    for relative in take_folders_on_disk(project):
        shot_id = relative.split("/")[1]
        if relative in used or shot_id not in shots:
            continue
        take = read_take_record(project.folder, relative)
        if take is not None:
            found.append((shot_id, take))
    return found


def read_take_record(project_folder: Path | str, relative: str) -> Take | None:
    """The record a take folder keeps of itself (`take.json`, or for a take saved before
    there was one, what its request and frames say), validated; None when unreadable."""
    from .image_header import image_size
    from .limits import parse_json

    folder = Path(project_folder) / relative
    _, shot_id, take_id = relative.split("/")
    try:
        if (folder / RECORD_FILE).is_file():
            text = (folder / RECORD_FILE).read_text(encoding="utf-8")
            data, _ = parse_json(text, f"{relative}/{RECORD_FILE}")
            take = Take.from_dict(data, f"{relative}/{RECORD_FILE}")
        else:
            text = (folder / REQUEST_FILE).read_text(encoding="utf-8")
            request, _ = parse_json(text, f"{relative}/{REQUEST_FILE}")
            if not isinstance(request, dict):
                return None
            frames = sorted((folder / FRAMES_DIR).glob(f"{FRAME_PREFIX}*.png"))
            if not frames:
                return None
            with open(frames[0], "rb") as handle:
                size = image_size(handle.read(64))
            if size is None:
                return None
            stamp = datetime.fromtimestamp(folder.stat().st_mtime, timezone.utc)
            take = Take.from_dict(
                {
                    "id": take_id,
                    "folder": relative,
                    "frames": len(frames),
                    "fps": request.get("fps", 24.0),
                    "width": size[0],
                    "height": size[1],
                    "backend": request.get("backend", "?"),
                    "seed": request.get("seed", 0),
                    "created": stamp.isoformat(timespec="seconds"),
                    "request": request,
                }
            )
    except (OSError, UnicodeDecodeError, ProjectError, ValueError) as error:
        log.warning("take folder %s cannot be read back: %s", relative, error)
        return None
    if take.id != take_id or take.folder != relative:
        log.warning("take folder %s holds the record of another take", relative)
        return None
    return take
