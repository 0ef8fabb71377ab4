"""The document: a `Project` of `Shot`s, each with its camera path, strokes and takes.

A project is a folder `Name.kinema/` holding `project.json`, `media/` (keyframes and
imports) and `takes/` (generated clips). The JSON carries a schema version; loading
validates every field and raises `ProjectError` naming the field and the bad value, so a
hand-edited or damaged file is reported, never half-loaded. Saving is atomic (temp file,
fsync, rename) and keeps the previous file as `project.json.bak`.

Unknown keys are ignored on load (a file from a slightly newer Kinema with an extra
field still opens); a newer schema version is refused, since its meaning may differ.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .camera import CameraPath
from .errors import ProjectError
from .motion import MotionStroke

if TYPE_CHECKING:
    from .storyboard import ScenePlan

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
PROJECT_FILE = "project.json"
BACKUP_FILE = "project.json.bak"
SUFFIX = ".kinema"
MIN_SIDE, MAX_SIDE = 16, 4096


def new_id() -> str:
    return uuid.uuid4().hex[:8]


# ----------------------------------------------------------------------------- field readers


def _get(data: dict, key: str, where: str, default: Any = ...) -> Any:
    if key in data:
        return data[key]
    if default is ...:
        raise ProjectError("is missing", f"{where}.{key}" if where else key)
    return default


def _path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _str(data: dict, key: str, where: str, default: Any = ...) -> str:
    value = _get(data, key, where, default)
    if not isinstance(value, str):
        raise ProjectError(f"must be text, got {value!r}", _path(where, key))
    return value


def _int(
    data: dict, key: str, where: str, lo: int, hi: int, default: Any = ..., what: str = ""
) -> int:
    value = _get(data, key, where, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        what = what or f"a whole number between {lo} and {hi}"
        raise ProjectError(f"must be {what}, got {value!r}", _path(where, key))
    return value


def _float(data: dict, key: str, where: str, lo: float, hi: float, default: Any = ...) -> float:
    value = _get(data, key, where, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProjectError(f"must be a finite number, got {value!r}", _path(where, key))
    if not lo <= value <= hi:
        raise ProjectError(f"must be between {lo:g} and {hi:g}, got {value!r}", _path(where, key))
    return float(value)


def _list(data: dict, key: str, where: str) -> list:
    value = _get(data, key, where, [])
    if not isinstance(value, list):
        raise ProjectError(f"must be a list, got {type(value).__name__}", _path(where, key))
    return value


def _relative(value: str, where: str) -> str:
    """A path inside the project folder, stored with forward slashes."""
    path = PurePosixPath(value.replace("\\", "/"))
    if not value or path.is_absolute() or ".." in path.parts or ":" in path.parts[0]:
        raise ProjectError(f"must be a path inside the project folder, got {value!r}", where)
    return str(path)


# ----------------------------------------------------------------------------- document


@dataclass
class Take:
    """One generated clip of a shot: frames on disk plus the request that made them."""

    id: str
    folder: str  # relative to the project folder, e.g. "takes/<shot>/<take>"
    frames: int
    fps: float
    width: int
    height: int
    backend: str
    seed: int
    created: str  # ISO 8601
    request: dict = field(default_factory=dict)  # GenerationRequest.to_dict()
    metrics: dict[str, float] = field(default_factory=dict)
    label: str = ""
    model: dict = field(default_factory=dict)  # the backend's model identity (engine.recipe)
    missing: bool = field(default=False, compare=False)  # folder gone on load; not saved

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "folder": self.folder,
            "frames": self.frames,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "backend": self.backend,
            "seed": self.seed,
            "created": self.created,
            "request": self.request,
            "metrics": dict(self.metrics),
            "label": self.label,
            "model": dict(self.model),
        }

    @classmethod
    def from_dict(cls, data: object, field: str = "take") -> Take:
        if not isinstance(data, dict):
            raise ProjectError("must be an object", field)
        metrics = _get(data, "metrics", field, {})
        if not isinstance(metrics, dict):
            raise ProjectError("must be an object of numbers", f"{field}.metrics")
        for name, value in metrics.items():
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
            ):
                raise ProjectError(
                    f"must be a finite number, got {value!r}", f"{field}.metrics.{name}"
                )
        request = _get(data, "request", field, {})
        if not isinstance(request, dict):
            raise ProjectError("must be an object", f"{field}.request")
        model = _get(data, "model", field, {})
        if not isinstance(model, dict):
            raise ProjectError("must be an object", f"{field}.model")
        return cls(
            id=_str(data, "id", field),
            folder=_relative(_str(data, "folder", field), f"{field}.folder"),
            frames=_int(data, "frames", field, 1, 10**6),
            fps=_float(data, "fps", field, 1e-3, 240),
            width=_int(data, "width", field, 1, 16384),
            height=_int(data, "height", field, 1, 16384),
            backend=_str(data, "backend", field),
            seed=_int(data, "seed", field, 0, 2**32 - 1),
            created=_str(data, "created", field, ""),
            request=request,
            metrics={k: float(v) for k, v in metrics.items()},
            label=_str(data, "label", field, ""),
            model=model,
        )


@dataclass
class ShotSettings:
    """How the shot is generated: which backend and its knobs."""

    backend: str = "previs"
    steps: int = 20
    guidance: float = 5.0
    guide_strength: float = 0.6

    def to_dict(self) -> dict:
        return {
            "backend": self.backend,
            "steps": self.steps,
            "guidance": self.guidance,
            "guide_strength": self.guide_strength,
        }

    @classmethod
    def from_dict(cls, data: object, field: str = "settings") -> ShotSettings:
        if not isinstance(data, dict):
            raise ProjectError("must be an object", field)
        d = cls()
        backend = _str(data, "backend", field, d.backend)
        if not backend:
            raise ProjectError("must name a backend", f"{field}.backend")
        return cls(
            backend=backend,
            steps=_int(data, "steps", field, 1, 1000, d.steps),
            guidance=_float(data, "guidance", field, 0.0, 50.0, d.guidance),
            guide_strength=_float(data, "guide_strength", field, 0.0, 1.0, d.guide_strength),
        )


@dataclass
class Shot:
    """One shot: what to make (prompt, keyframe, camera, strokes) and what was made (takes)."""

    name: str = "Shot"
    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    duration: int = 48  # frames
    keyframe: str | None = None  # relative to the project folder
    camera: CameraPath = field(default_factory=CameraPath)
    strokes: list[MotionStroke] = field(default_factory=list)
    takes: list[Take] = field(default_factory=list)
    active_take: str | None = None
    settings: ShotSettings = field(default_factory=ShotSettings)
    id: str = field(default_factory=new_id)
    plan: ScenePlan | None = None  # the storyboard staged from the prompt (engine.storyboard)

    def active(self) -> Take | None:
        return next((t for t in self.takes if t.id == self.active_take), None)

    def take(self, take_id: str) -> Take | None:
        return next((t for t in self.takes if t.id == take_id), None)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "seed": self.seed,
            "duration": self.duration,
            "keyframe": self.keyframe,
            "camera": self.camera.to_dict(),
            "strokes": [s.to_dict() for s in self.strokes],
            "takes": [t.to_dict() for t in self.takes],
            "active_take": self.active_take,
            "settings": self.settings.to_dict(),
            "plan": self.plan.to_dict() if self.plan is not None else None,
        }

    @classmethod
    def from_dict(cls, data: object, field: str = "shot") -> Shot:
        if not isinstance(data, dict):
            raise ProjectError("must be an object", field)
        keyframe = _get(data, "keyframe", field, None)
        if keyframe is not None:
            if not isinstance(keyframe, str):
                raise ProjectError(f"must be a path or null, got {keyframe!r}", f"{field}.keyframe")
            keyframe = _relative(keyframe, f"{field}.keyframe")
        takes = [
            Take.from_dict(t, f"{field}.takes[{i}]")
            for i, t in enumerate(_list(data, "takes", field))
        ]
        seen: set[str] = set()
        for i, take in enumerate(takes):
            if take.id in seen:
                raise ProjectError(f"duplicate take id {take.id!r}", f"{field}.takes[{i}].id")
            seen.add(take.id)
        active = _get(data, "active_take", field, None)
        if active is not None and active not in seen:
            raise ProjectError(f"names no take of this shot: {active!r}", f"{field}.active_take")
        shot_id = _str(data, "id", field, None) if data.get("id") is not None else new_id()
        return cls(
            id=shot_id,
            name=_str(data, "name", field, "Shot"),
            prompt=_str(data, "prompt", field, ""),
            negative_prompt=_str(data, "negative_prompt", field, ""),
            seed=_int(data, "seed", field, 0, 2**32 - 1, 0),
            duration=_int(
                data, "duration", field, 1, 100_000, 48, what="a whole number of frames >= 1"
            ),
            keyframe=keyframe,
            camera=CameraPath.from_dict(_get(data, "camera", field, {}), f"{field}.camera"),
            strokes=[
                MotionStroke.from_dict(s, f"{field}.strokes[{i}]")
                for i, s in enumerate(_list(data, "strokes", field))
            ],
            takes=takes,
            active_take=active,
            settings=ShotSettings.from_dict(_get(data, "settings", field, {}), f"{field}.settings"),
            plan=_plan(_get(data, "plan", field, None), f"{field}.plan"),
        )


def _plan(data: object, where: str) -> ScenePlan | None:
    """A shot's storyboard plan, or None (files from before plans existed have none)."""
    if data is None:
        return None
    from .storyboard.plan import ScenePlan  # here: the planner imports the world

    return ScenePlan.from_dict(data, where)


@dataclass
class Project:
    """The whole document; `folder` is where it lives on disk (None until first saved)."""

    name: str = "Untitled"
    fps: float = 24.0
    width: int = 512
    height: int = 512
    shots: list[Shot] = field(default_factory=list)
    folder: Path | None = field(default=None, compare=False)

    # -- queries

    def shot(self, shot_id: str) -> Shot | None:
        return next((s for s in self.shots if s.id == shot_id), None)

    def total_frames(self) -> int:
        return sum(s.duration for s in self.shots)

    def shot_start(self, shot: Shot) -> int:
        """The frame at which `shot` starts in the sequence."""
        start = 0
        for other in self.shots:
            if other is shot or other.id == shot.id:
                return start
            start += other.duration
        raise ValueError(f"shot {shot.id} is not in the project")

    def keyframe_path(self, shot: Shot) -> Path | None:
        if shot.keyframe is None or self.folder is None:
            return None
        return self.folder / shot.keyframe

    def take_folder(self, shot: Shot, take_id: str) -> Path:
        if self.folder is None:
            raise ProjectError("Save the project before generating takes: it has no folder yet.")
        return self.folder / "takes" / shot.id / take_id

    def same_as(self, other: Project) -> bool:
        return self.to_dict() == other.to_dict()

    # -- serialisation

    def to_dict(self) -> dict:
        return {
            "kinema": SCHEMA_VERSION,
            "name": self.name,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "shots": [s.to_dict() for s in self.shots],
        }

    def to_json(self) -> str:
        try:
            return json.dumps(self.to_dict(), indent=2, allow_nan=False, ensure_ascii=False) + "\n"
        except ValueError as error:  # a NaN slipped into the document
            raise ProjectError(
                f"The project holds a value that is not a number: {error}."
            ) from error

    @classmethod
    def from_dict(cls, data: object, folder: Path | None = None) -> Project:
        if not isinstance(data, dict):
            raise ProjectError(
                "The project file does not hold a Kinema project (expected an object)."
            )
        version = data.get("kinema")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ProjectError(f"must be the schema version number, got {version!r}", "kinema")
        if version > SCHEMA_VERSION:
            raise ProjectError(
                f"This project was saved by a newer Kinema (schema {version}; "
                f"this version reads up to {SCHEMA_VERSION}). Update Kinema to open it."
            )
        width = _int(
            data,
            "width",
            "",
            MIN_SIDE,
            MAX_SIDE,
            what=f"an even number of pixels between {MIN_SIDE} and {MAX_SIDE}",
        )
        height = _int(
            data,
            "height",
            "",
            MIN_SIDE,
            MAX_SIDE,
            what=f"an even number of pixels between {MIN_SIDE} and {MAX_SIDE}",
        )
        for key, value in (("width", width), ("height", height)):
            if value % 2:
                raise ProjectError(
                    f"must be an even number of pixels (video needs it), got {value}", key
                )
        shots = [Shot.from_dict(s, f"shots[{i}]") for i, s in enumerate(_list(data, "shots", ""))]
        seen: set[str] = set()
        for i, shot in enumerate(shots):
            if shot.id in seen:
                raise ProjectError(f"duplicate shot id {shot.id!r}", f"shots[{i}].id")
            seen.add(shot.id)
        return cls(
            name=_str(data, "name", "", "Untitled"),
            fps=_float(data, "fps", "", 0.1, 240.0),
            width=width,
            height=height,
            shots=shots,
            folder=folder,
        )

    # -- disk

    @classmethod
    def new(cls, folder: Path | str, name: str | None = None) -> Project:
        """A fresh project in a new folder (the `.kinema` suffix is added when missing)."""
        folder = Path(folder)
        if folder.suffix != SUFFIX:
            folder = folder.with_name(folder.name + SUFFIX)
        if (folder / PROJECT_FILE).exists():
            raise ProjectError(f"A project already exists at '{folder}'.")
        project = cls(name=name or folder.stem, folder=folder)
        project.save()
        return project

    @classmethod
    def load(cls, path: Path | str) -> Project:
        """Open a project folder (or the project.json inside it), validating everything."""
        path = Path(path)
        folder = path.parent if path.name == PROJECT_FILE else path
        file = folder / PROJECT_FILE
        if not folder.exists():
            raise ProjectError(f"There is no project at '{folder}'.")
        if not folder.is_dir():
            raise ProjectError(f"'{folder}' is not a project folder (a .kinema folder).")
        if not file.is_file():
            raise ProjectError(
                f"'{folder.name}' holds no {PROJECT_FILE}: it is not a Kinema project."
            )
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ProjectError(
                f"Could not read '{file.name}' in '{folder.name}': {error}."
            ) from error
        try:
            data = json.loads(text, parse_constant=_reject_constant)
        except json.JSONDecodeError as error:
            raise ProjectError(
                f"'{folder.name}/{PROJECT_FILE}' is damaged: {error.msg} at line {error.lineno}, "
                f"column {error.colno}. The previous version may be in {BACKUP_FILE}."
            ) from error
        project = cls.from_dict(data, folder=folder)
        project._check_files()
        return project

    def _check_files(self) -> None:
        assert self.folder is not None
        for i, shot in enumerate(self.shots):
            if shot.keyframe and not (self.folder / shot.keyframe).is_file():
                raise ProjectError(
                    f"file '{shot.keyframe}' is missing from the project folder",
                    f"shots[{i}].keyframe",
                )
            for take in shot.takes:
                take.missing = not (self.folder / take.folder).is_dir()
                if take.missing:
                    log.warning(
                        "take %s of shot %s is missing its folder %s", take.id, shot.id, take.folder
                    )

    def save(self, folder: Path | str | None = None) -> Path:
        """Write atomically to `folder` (default: where it lives); returns the project.json path.

        Saving to a new folder (Save As) copies the media and takes along.
        """
        target = Path(folder) if folder is not None else self.folder
        if target is None:
            raise ProjectError("The project has no folder yet: choose where to save it.")
        if target.suffix != SUFFIX:
            target = target.with_name(target.name + SUFFIX)
        text = self.to_json()
        target.mkdir(parents=True, exist_ok=True)
        for sub in ("media", "takes"):
            if self.folder is not None and self.folder != target and (self.folder / sub).is_dir():
                shutil.copytree(self.folder / sub, target / sub, dirs_exist_ok=True)
            (target / sub).mkdir(exist_ok=True)
        file = target / PROJECT_FILE
        _atomic_write(file, text, backup=target / BACKUP_FILE)
        self.folder = target
        return file

    def import_media(self, source: Path | str) -> str:
        """Copy a file into `media/` under a free name; returns its project-relative path."""
        if self.folder is None:
            raise ProjectError("Save the project before importing media: it has no folder yet.")
        source = Path(source)
        if not source.is_file():
            raise ProjectError(f"Cannot import '{source.name}': the file does not exist.")
        media = self.folder / "media"
        media.mkdir(parents=True, exist_ok=True)
        stem, suffix = source.stem, source.suffix.lower()
        candidate, n = media / f"{stem}{suffix}", 1
        while candidate.exists():
            n += 1
            candidate = media / f"{stem}-{n}{suffix}"
        shutil.copy2(source, candidate)
        return f"media/{candidate.name}"


def _reject_constant(name: str):
    raise ProjectError(f"The project file holds {name}, which is not a number Kinema accepts.")


def _atomic_write(file: Path, text: str, backup: Path | None = None) -> None:
    """temp file + fsync + rename; the old file becomes the backup without a moment of absence."""
    tmp = file.with_name(file.name + ".tmp")
    backup_tmp = backup.with_name(backup.name + ".tmp") if backup is not None else None
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if backup is not None and backup_tmp is not None and file.exists():
            shutil.copy2(file, backup_tmp)
            os.replace(backup_tmp, backup)
        os.replace(tmp, file)
    except BaseException:
        tmp.unlink(missing_ok=True)
        if backup_tmp is not None:
            backup_tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(file.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # not possible on every OS; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
