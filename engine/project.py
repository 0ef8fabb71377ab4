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
import os
import secrets
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import fields, limits
from .camera import CameraPath
from .errors import KinemaError, ProjectError, storage_error
from .fields import show
from .motion import MotionStroke, check_mask_budget
from .paths import check_id, check_take_folder, copy_tree, inside, relative_path, take_folder

if TYPE_CHECKING:
    from .storyboard import ScenePlan

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
PROJECT_FILE = "project.json"
BACKUP_FILE = "project.json.bak"
TRASH = ".trash"  # undone imports wait here until the project closes
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


def _str(
    data: dict, key: str, where: str, default: Any = ..., max_chars: int = limits.MAX_NAME_CHARS
) -> str:
    return fields.text(_get(data, key, where, default), _path(where, key), max_chars)


def _int(
    data: dict, key: str, where: str, lo: int, hi: int, default: Any = ..., what: str = ""
) -> int:
    return fields.whole(_get(data, key, where, default), _path(where, key), lo, hi, what)


def _float(data: dict, key: str, where: str, lo: float, hi: float, default: Any = ...) -> float:
    return fields.number(_get(data, key, where, default), _path(where, key), lo, hi)


def _list(data: dict, key: str, where: str, limit: int, what: str) -> list:
    value = _get(data, key, where, [])
    if not isinstance(value, list):
        raise ProjectError(f"must be a list, got {type(value).__name__}", _path(where, key))
    return fields.count(value, _path(where, key), limit, what)


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
        fields.count(list(metrics), f"{field}.metrics", 1000, "metrics")
        request = _get(data, "request", field, {})
        if not isinstance(request, dict):
            raise ProjectError("must be an object", f"{field}.request")
        shot = request.get("shot")
        if isinstance(shot, dict) and (shot.get("takes") or shot.get("active_take")):
            # Files from before requests left takes out: each request held every earlier
            # take (and its request), doubling the file with every take. Generation never
            # reads them, so they are dropped here.
            request = {**request, "shot": {**shot, "takes": [], "active_take": None}}
        limits.check_depth(request, f"{field}.request")
        model = _get(data, "model", field, {})
        if not isinstance(model, dict):
            raise ProjectError("must be an object", f"{field}.model")
        limits.check_depth(model, f"{field}.model")
        return cls(
            id=check_id(_get(data, "id", field), f"{field}.id"),
            folder=check_take_folder(_str(data, "folder", field), f"{field}.folder"),
            frames=_int(data, "frames", field, 1, 10**6),
            fps=_float(data, "fps", field, 1e-3, 240),
            width=_int(data, "width", field, 1, 16384),
            height=_int(data, "height", field, 1, 16384),
            backend=_str(data, "backend", field),
            seed=_int(data, "seed", field, 0, 2**32 - 1),
            created=_str(data, "created", field, ""),
            request=request,
            metrics={str(k): fields.number(v, f"{field}.metrics.{k}") for k, v in metrics.items()},
            label=_str(data, "label", field, ""),
            model=model,
        )


def default_backend() -> str:
    """The backend a new shot starts on (and a file's shot that names none): the built-in
    model, which follows the prompt, wherever its weights are installed; only without them
    the instant previs, which moves the keyframe and ignores the prompt
    (`default_backend_note` says so)."""
    return "previs" if default_backend_note() else "builtin"


def default_backend_note() -> str:
    """Why new shots use the previs rather than the built-in model, or "" when they do not."""
    from .backends.builtin import BuiltinBackend

    missing = BuiltinBackend().capabilities().unavailable
    return f"New shots use the previs, which ignores the prompt: {missing}" if missing else ""


def backend_defaults(backend: str) -> tuple[int, float]:
    """The steps and guidance a shot starts at on `backend` (what its model was tuned at)."""
    from .backends import BACKENDS, Capabilities, create_backend

    caps = create_backend(backend).capabilities() if backend in BACKENDS else Capabilities
    return caps.default_steps, caps.default_guidance


@dataclass
class ShotSettings:
    """How the shot is generated: which backend and its knobs.

    Left out, the backend is `default_backend()` and steps and guidance are that backend's
    own defaults (a few-step model is not run at another model's step count).
    """

    backend: str = field(default_factory=lambda: default_backend())
    steps: int = None  # type: ignore[assignment]  # None: the backend's default
    guidance: float = None  # type: ignore[assignment]  # None: the backend's default
    guide_strength: float = 0.6

    def __post_init__(self) -> None:
        if self.steps is None or self.guidance is None:
            steps, guidance = backend_defaults(self.backend)
            self.steps = steps if self.steps is None else self.steps
            self.guidance = guidance if self.guidance is None else self.guidance

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
        backend = _str(data, "backend", field) if "backend" in data else default_backend()
        if not backend:
            raise ProjectError("must name a backend", f"{field}.backend")
        steps, guidance = backend_defaults(backend)
        return cls(
            backend=backend,
            steps=_int(data, "steps", field, 1, 1000, steps),
            guidance=_float(data, "guidance", field, 0.0, 50.0, guidance),
            guide_strength=_float(data, "guide_strength", field, 0.0, 1.0, 0.6),
        )


@dataclass
class Shot:
    """One shot: what to make (prompt, keyframe, camera, strokes) and what was made (takes)."""

    name: str = "Shot"
    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    duration: int = 48  # frames it lasts on the timeline
    head: int = 0  # its in-point: frames of its take cut off the start by a head trim
    keyframe: str | None = None  # relative to the project folder
    last_keyframe: str | None = None  # the frame the shot ends on, where a model takes one
    camera: CameraPath = field(default_factory=CameraPath)
    strokes: list[MotionStroke] = field(default_factory=list)
    takes: list[Take] = field(default_factory=list)
    active_take: str | None = None
    settings: ShotSettings = field(default_factory=ShotSettings)
    id: str = field(default_factory=new_id)
    plan: ScenePlan | None = None  # the storyboard staged from the prompt (engine.storyboard)
    keyframe_missing: bool = field(default=False, compare=False)  # file gone on load; not saved
    last_keyframe_missing: bool = field(default=False, compare=False)  # the same, last frame

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
            "head": self.head,
            "keyframe": self.keyframe,
            "last_keyframe": self.last_keyframe,
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
            keyframe = relative_path(keyframe, f"{field}.keyframe")
        last_keyframe = _get(data, "last_keyframe", field, None)  # files before it have none
        if last_keyframe is not None:
            last_keyframe = relative_path(last_keyframe, f"{field}.last_keyframe")
        raw_takes = _list(data, "takes", field, limits.MAX_TAKES, "takes")
        takes = [Take.from_dict(t, f"{field}.takes[{i}]") for i, t in enumerate(raw_takes)]
        seen: set[str] = set()
        for i, take in enumerate(takes):
            if take.id in seen:
                raise ProjectError(f"duplicate take id {take.id!r}", f"{field}.takes[{i}].id")
            seen.add(take.id)
        active = _get(data, "active_take", field, None)
        if active is not None and (not isinstance(active, str) or active not in seen):
            raise ProjectError(
                f"names no take of this shot: {show(active)}", f"{field}.active_take"
            )
        raw_id = data.get("id")
        shot_id = new_id() if raw_id is None else check_id(raw_id, f"{field}.id")
        raw_strokes = _list(data, "strokes", field, limits.MAX_STROKES, "strokes")
        check_mask_budget(
            ((f"{field}.strokes[{i}]", s) for i, s in enumerate(raw_strokes)),
            limits.MAX_MASK_PIXELS,
        )
        return cls(
            id=shot_id,
            name=_str(data, "name", field, "Shot"),
            prompt=_str(data, "prompt", field, "", limits.MAX_PROMPT_CHARS),
            negative_prompt=_str(data, "negative_prompt", field, "", limits.MAX_PROMPT_CHARS),
            seed=_int(data, "seed", field, 0, 2**32 - 1, 0),
            duration=_int(
                data, "duration", field, 1, 100_000, 48, what="a whole number of frames >= 1"
            ),
            # files from before head trims have no "head": the take starts at its frame 0
            head=_int(data, "head", field, 0, 100_000, 0, what="a whole number of frames >= 0"),
            keyframe=keyframe,
            last_keyframe=last_keyframe,
            camera=CameraPath.from_dict(_get(data, "camera", field, {}), f"{field}.camera"),
            strokes=[
                MotionStroke.from_dict(s, f"{field}.strokes[{i}]")
                for i, s in enumerate(raw_strokes)
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
    repaired: list[str] = field(default_factory=list, compare=False)  # fields mended on load

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
        """The keyframe's file, or None when there is none or it would lie outside the project
        (a symlink planted in `media/`): nothing outside the project folder is ever read."""
        return self._media_path(shot.keyframe, "The keyframe")

    def last_keyframe_path(self, shot: Shot) -> Path | None:
        """The last keyframe's file, under the same rule as `keyframe_path`."""
        return self._media_path(shot.last_keyframe, "The last keyframe")

    def _media_path(self, relative: str | None, what: str) -> Path | None:
        if relative is None or self.folder is None:
            return None
        try:
            return inside(self.folder, relative, what)
        except ProjectError as error:
            log.warning("%s", error)
            return None

    def take_folder(self, shot: Shot, take_id: str) -> Path:
        if self.folder is None:
            raise ProjectError("Save the project before generating takes: it has no folder yet.")
        return inside(self.folder, take_folder(shot.id, take_id), "The take folder")

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
        """The file's text; `ProjectError` if the document holds what no file can (a NaN, a
        lone surrogate that slipped past the doors), naming the field, before any write."""
        data = self.to_dict()
        try:
            text = json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
        except ValueError as error:  # a NaN slipped into the document
            raise ProjectError(
                f"The project holds a value that is not a number: {error}."
            ) from error
        if fields.has_lone_surrogate(text):
            _, repaired = limits.parse_json(json.dumps(data), "the project")
            raise ProjectError(
                "holds a character that cannot be saved (half of a UTF-16 pair, from pasted "
                "text); retype that text",
                repaired[0] if repaired else None,
            )
        return text

    @classmethod
    def from_dict(cls, data: object, folder: Path | None = None) -> Project:
        if not isinstance(data, dict):
            raise ProjectError(
                "The project file does not hold a Kinema project (expected an object)."
            )
        version = data.get("kinema")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ProjectError(f"must be the schema version number, got {show(version)}", "kinema")
        if version > SCHEMA_VERSION:
            raise ProjectError(
                f"This project was saved by a newer Kinema (schema {show(version)}; "
                f"this version reads up to {SCHEMA_VERSION}). Update Kinema to open it."
            )
        even = f"an even number of pixels between {MIN_SIDE} and {MAX_SIDE}"
        width = _int(data, "width", "", MIN_SIDE, MAX_SIDE, what=even)
        height = _int(data, "height", "", MIN_SIDE, MAX_SIDE, what=even)
        for key, value in (("width", width), ("height", height)):
            if value % 2:
                raise ProjectError(
                    f"must be an even number of pixels (video needs it), got {value}", key
                )
        raw_shots = _list(data, "shots", "", limits.MAX_SHOTS, "shots")
        limits.check_totals(raw_shots)
        check_mask_budget(  # before a single mask is decoded
            (
                (f"shots[{i}].strokes[{j}]", stroke)
                for i, shot in enumerate(raw_shots)
                if isinstance(shot, dict) and isinstance(shot.get("strokes"), list)
                for j, stroke in enumerate(shot["strokes"])
            ),
            limits.MAX_MASK_PIXELS,
        )
        shots = [Shot.from_dict(s, f"shots[{i}]") for i, s in enumerate(raw_shots)]
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
        """Open a project folder (or the project.json inside it), validating everything.

        A missing keyframe, last keyframe or take folder does not stop it: the shot or take is
        marked (`keyframe_missing`, `last_keyframe_missing`, `missing`) so the user can relink or remove it. Text that no
        file can hold is repaired; `repaired` names the fields.
        """
        path = Path(path)
        folder = path.parent if path.name == PROJECT_FILE else path
        file = folder / PROJECT_FILE
        try:
            if not folder.exists():
                raise ProjectError(f"There is no project at '{folder}'.")
            if not folder.is_dir():
                raise ProjectError(f"'{folder}' is not a project folder (a .kinema folder).")
            if not file.is_file():
                raise ProjectError(
                    f"'{folder.name}' holds no {PROJECT_FILE}: it is not a Kinema project."
                )
        except OSError as error:  # a name too long, a folder we may not enter
            raise ProjectError(f"Could not open '{folder}': {error.strerror or error}.") from error
        label = f"{folder.name}/{PROJECT_FILE}"
        text = limits.read_project_text(file, label)
        hint = f"The previous version may be in {BACKUP_FILE}."
        data, repaired = limits.parse_json(text, label, hint)
        project = cls.from_dict(data, folder=folder)
        project.repaired = repaired
        project.check_files()
        return project

    def check_files(self) -> list[str]:
        """Mark keyframes, last keyframes and takes whose files are gone (or lead outside the project);
        returns a line per missing item, for the user."""
        missing = []
        if self.folder is None:
            return missing
        for number, shot in enumerate(self.shots, 1):
            shot.keyframe_missing = False
            if shot.keyframe:
                path = self.keyframe_path(shot)
                shot.keyframe_missing = path is None or not _is_file(path)
                if shot.keyframe_missing:
                    log.warning("shot %s: keyframe %s is missing", shot.id, shot.keyframe)
                    missing.append(f"Shot {number} ({shot.name}): keyframe '{shot.keyframe}'")
            shot.last_keyframe_missing = False
            if shot.last_keyframe:
                path = self.last_keyframe_path(shot)
                shot.last_keyframe_missing = path is None or not _is_file(path)
                if shot.last_keyframe_missing:
                    log.warning("shot %s: last keyframe %s is missing", shot.id, shot.last_keyframe)
                    missing.append(
                        f"Shot {number} ({shot.name}): last frame '{shot.last_keyframe}'"
                    )
            for take in shot.takes:
                try:
                    take.missing = not inside(self.folder, take.folder).is_dir()
                except ProjectError:
                    take.missing = True
                if take.missing:
                    log.warning("take %s of shot %s is missing %s", take.id, shot.id, take.folder)
                    missing.append(
                        f"Shot {number} ({shot.name}): {take.label or 'take'} ('{take.folder}')"
                    )
        return missing

    def save(self, folder: Path | str | None = None) -> Path:
        """Write atomically to `folder` (default: where it lives); returns the project.json path.

        Saving to a new folder (Save As) copies the media and takes along. A full disk or a
        read-only folder raises a typed error that says the previous file is intact.
        """
        target = Path(folder) if folder is not None else self.folder
        if target is None:
            raise ProjectError("The project has no folder yet: choose where to save it.")
        if target.suffix != SUFFIX:
            target = target.with_name(target.name + SUFFIX)
        text = self.to_json()
        try:
            target.mkdir(parents=True, exist_ok=True)
            for sub in ("media", "takes"):
                if self.folder is not None and self.folder != target:
                    copy_tree(self.folder / sub, target / sub)
                inside(target, sub).mkdir(exist_ok=True)
            file = target / PROJECT_FILE
            _atomic_write(file, text, backup=target / BACKUP_FILE)
        except OSError as error:
            raise _write_error(error, f"'{target.name}/{PROJECT_FILE}'") from error
        self.folder = target
        return file

    def import_media(self, source: Path | str) -> str:
        """Copy a file into `media/` under a free name; returns its project-relative path."""
        if self.folder is None:
            raise ProjectError("Save the project before importing media: it has no folder yet.")
        source = Path(source)
        if not _is_file(source):
            raise ProjectError(f"Cannot import '{source.name}': the file does not exist.")
        stem = source.stem[:100] or "media"  # a name the file system (and the project) holds
        suffix = source.suffix.lower()[:16]
        try:
            media = inside(self.folder, "media", "The media folder")
            media.mkdir(parents=True, exist_ok=True)
            candidate, n = f"media/{stem}{suffix}", 1
            while (self.folder / candidate).exists():
                n += 1
                candidate = f"media/{stem}-{n}{suffix}"
            relative = relative_path(candidate, "media")
            shutil.copy2(source, inside(self.folder, relative, "The imported file"))
        except OSError as error:
            raise _write_error(error, f"'{source.name}' into the project") from error
        return relative

    # -- undone imports: out of media/ at once, gone when the project closes

    def media_in_use(self, relative: str) -> bool:
        """Whether a shot's keyframe or last keyframe is `relative`, or a take was made from
        it (a kept take re-runs from its recorded keyframes, so the file must stay)."""
        for shot in self.shots:
            if relative in (shot.keyframe, shot.last_keyframe):
                return True
            for take in shot.takes:
                recorded = take.request.get("shot") if isinstance(take.request, dict) else None
                if isinstance(recorded, dict) and relative in (
                    recorded.get("keyframe"),
                    recorded.get("last_keyframe"),
                ):
                    return True
        return False

    def trash_media(self, relative: str) -> bool:
        """Move an imported file that nothing uses any more (`media_in_use`) out of `media/`
        into the project's `.trash/` (an undone import), so a redo can bring it back; True
        if moved."""
        if self.folder is None or self.media_in_use(relative):
            return False
        try:
            source = inside(self.folder, relative, "The imported file")
            if not source.is_file() or source.is_symlink():
                return False
            target = inside(self.folder, f"{TRASH}/{relative}", "The trash")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
        except (ProjectError, OSError) as error:
            log.warning("kept %s in media: %s", relative, error)
            return False
        return True

    def restore_media(self, relative: str) -> bool:
        """Bring a file `trash_media` moved back to where it was (a redone import)."""
        if self.folder is None:
            return False
        try:
            source = inside(self.folder, f"{TRASH}/{relative}", "The trash")
            target = inside(self.folder, relative, "The imported file")
            if not source.is_file() or target.exists():
                return False
            os.replace(source, target)
        except (ProjectError, OSError) as error:
            log.warning("could not restore %s: %s", relative, error)
            return False
        return True

    def discard_media(self, relative: str) -> bool:
        """Delete a file just copied into `media/` that no command points at (an import
        cancelled, or whose shot went meanwhile); the trash and what it holds for redo stay."""
        if self.folder is None or self.media_in_use(relative):
            return False
        try:
            path = inside(self.folder, relative, "The imported file")
            if not path.is_file() or path.is_symlink():
                return False
            path.unlink()
        except (ProjectError, OSError) as error:
            log.warning("kept %s in media: %s", relative, error)
            return False
        return True

    def empty_trash(self) -> None:
        """Delete what undone imports left in `.trash/` (on close, or when the project opens
        after a crash): nothing can redo them any more."""
        if self.folder is None:
            return
        trash = self.folder / TRASH
        if trash.is_dir() and not trash.is_symlink():
            shutil.rmtree(trash, ignore_errors=True)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long for this file system counts as absent
        return False


def _write_error(error: OSError, what: str) -> KinemaError:
    typed = storage_error(error, what, "The previous version of the project is intact.")
    if typed is not None:
        return typed
    return ProjectError(f"Could not write {what}: {error.strerror or error}.")


def _atomic_write(file: Path, text: str, backup: Path | None = None) -> None:
    """temp file + fsync + rename; the old file becomes the backup without a moment of absence.

    Temp names are unique (created exclusively), so two writers never share one and a
    third reader never sees a half-written file under the real name.
    """
    data = text.encode("utf-8")
    tmp = _exclusive_temp(file)
    backup_tmp = None
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if backup is not None and file.exists():
            backup_tmp = _exclusive_temp(backup)
            shutil.copyfile(file, backup_tmp)
            os.replace(backup_tmp, backup)
            backup_tmp = None
        os.replace(tmp, file)
    except BaseException:
        tmp.unlink(missing_ok=True)
        if backup_tmp is not None:
            backup_tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(file.parent)


def _exclusive_temp(file: Path) -> Path:
    """A new, empty, hidden file beside `file` that no other writer can be using."""
    while True:
        tmp = file.with_name(f".{file.name}.{secrets.token_hex(6)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


def write_text_atomic(file: Path, text: str) -> None:
    """`_atomic_write` without a backup, for side files (the autosave)."""
    _atomic_write(file, text)


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
