"""The request inside the file: every export and take says exactly how it was made.

A `Recipe` lists, for each shot in a file, the frames it covers and the request that made
them: the shot as it was when Generate was pressed (prompt, camera path, strokes), the
backend and model (the built-in model's weights by hash), steps, guidance, seed, size,
the keyframe's name and SHA-256, the take, and the Kinema version. It travels as JSON
under the key "kinema" in the container's tags (MP4, MOV, WebM, MKV: `ffprobe -show_format`
prints it), in a text chunk of every PNG frame and in the image description of every TIFF
frame (`ffprobe -show_frames`). A one-line summary goes in the "comment" tag players show.

`read_recipe` reads it back from any of these (`kinema inspect`), and `import_shots`
recreates the shots in a project (`kinema import-shot`), so a re-render with the same
backend and device gives the same frames. Client paths (the project folder) are left
out: a file handed to an editor names no folder on the maker's disk.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .errors import InvalidRequest, MediaError, ProjectError
from .lock import holding

RECIPE_KEY = "kinema"
SCHEMA = 1
#: request fields that say where or under which id a job ran, not what it made
_CLIENT_FIELDS = ("job_id", "project_dir")
#: shot fields that record results rather than the request
_RESULT_FIELDS = ("takes", "active_take")


@dataclass(frozen=True)
class ShotRecipe:
    """One shot's part of a file: frames `start` .. `start + frames - 1`, and what made them."""

    name: str
    shot_id: str
    start: int  # first frame of this shot in the file
    frames: int  # how many frames of the file it covers
    request: dict[str, Any] | None  # the GenerationRequest, less client fields; None: unknown
    model: dict[str, Any] = field(default_factory=dict)  # backend and weights identity
    keyframe: dict[str, str] | None = None  # {"file": ..., "sha256": ...}
    take: dict[str, str] | None = None  # {"id", "label", "created"}; None: rendered directly


@dataclass(frozen=True)
class Recipe:
    """What a file holds: the project it came from and its shots in order."""

    project: dict[str, Any]  # name, width, height, fps
    shots: tuple[ShotRecipe, ...]
    version: str = __version__  # the Kinema that wrote the file
    schema: int = SCHEMA

    def to_json(self) -> str:
        data = {"kinema_version": self.version, "schema": self.schema, "project": self.project}
        data["shots"] = [asdict(shot) for shot in self.shots]
        return json.dumps(data, ensure_ascii=True, allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, where: str = "the file") -> Recipe:
        from .limits import parse_json

        try:
            data, _ = parse_json(text, where)  # a file from anywhere: depth, size, numbers
            if not isinstance(data, dict) or data.get("schema", 0) > SCHEMA:
                raise ValueError("a newer or unknown layout")
            shots = tuple(ShotRecipe(**shot) for shot in data["shots"])
            return cls(
                project=dict(data.get("project") or {}),
                shots=shots,
                version=str(data.get("kinema_version", "")),
                schema=int(data.get("schema", SCHEMA)),
            )
        except (ValueError, KeyError, TypeError, ProjectError) as error:
            raise InvalidRequest(
                f"The Kinema request in {where} cannot be read ({error}); it may come from a "
                "newer Kinema."
            ) from error

    def metadata(self) -> dict[str, str]:
        """Container tags: the recipe, a one-line comment, and a title."""
        title = self.shots[0].name if len(self.shots) == 1 else self.project.get("name", "")
        return {RECIPE_KEY: self.to_json(), "comment": self.summary(), "title": title}

    def summary(self) -> str:
        parts = []
        for shot in self.shots:
            request = shot.request or {}
            prompt = (request.get("shot") or {}).get("prompt", "")
            parts.append(
                f"'{shot.name}': {request.get('backend', '?')}, seed {request.get('seed', '?')}"
                + (f', "{prompt[:60]}"' if prompt else "")
            )
        return f"Made with Kinema {self.version}. " + "; ".join(parts)

    def describe(self) -> str:
        """The recipe as `kinema inspect` prints it."""
        project = self.project
        lines = [f"Made with Kinema {self.version}"]
        if project:
            lines.append(
                f"Project '{project.get('name', '')}', {project.get('width')}x"
                f"{project.get('height')} at {project.get('fps', 0):g} fps"
            )
        for number, shot in enumerate(self.shots, 1):
            lines.append("")
            take = f", take {shot.take['id']}" if shot.take else ", rendered directly"
            if shot.take and shot.take.get("label"):
                take += f" ('{shot.take['label']}')"
            lines.append(
                f"Shot {number} of {len(self.shots)}: '{shot.name}' — frames {shot.start}"
                f"-{shot.start + shot.frames - 1} of the file{take}"
            )
            lines.extend("  " + line for line in _describe_request(shot))
        return "\n".join(lines)


def _describe_request(shot: ShotRecipe) -> list[str]:
    request = shot.request
    if request is None:
        return ["the take does not record the request that made it"]
    snapshot = request.get("shot") or {}
    model = shot.model or {}
    backend = request.get("backend", "?")
    if model.get("weights"):
        backend += f" (weights {model['weights']})"
    elif model.get("model"):
        backend += f" ({model['model']})"
    lines = [
        f"prompt:      {snapshot.get('prompt', '')!r}",
        f"negative:    {snapshot.get('negative_prompt', '')!r}",
        f"backend:     {backend}",
        f"seed:        {request.get('seed')}",
        f"steps:       {request.get('steps')}   guidance: {request.get('guidance'):g}   "
        f"guide strength: {request.get('guide_strength'):g}",
        f"size:        {request.get('width')}x{request.get('height')}, "
        f"{request.get('frames')} frames at {request.get('fps'):g} fps, "
        f"device {request.get('device')}",
    ]
    if shot.keyframe:
        lines.append(f"keyframe:    {shot.keyframe['file']} (sha256 {shot.keyframe['sha256']})")
    else:
        lines.append("keyframe:    none")
    keys = (snapshot.get("camera") or {}).get("keyframes") or []
    if keys:
        poses = []
        for key in keys:
            pose = key.get("pose") or {}
            moved = ", ".join(
                f"{name} {value:g}"
                for name, value in pose.items()
                if value != (1.0 if name == "zoom" else 0.0)
            )
            poses.append(f"frame {key.get('frame')}: {moved or 'rest'} ({key.get('easing')})")
        lines.append(f"camera:      {len(keys)} keyframes")
        lines.extend(f"             {pose}" for pose in poses)
    else:
        lines.append("camera:      still")
    strokes = snapshot.get("strokes") or []
    lines.append(f"strokes:     {len(strokes) or 'none'}")
    for stroke in strokes:
        points = stroke.get("trajectory") or []
        lines.append(
            f"             '{stroke.get('name')}' {stroke.get('kind')}, strength "
            f"{stroke.get('strength'):g}, {len(points)} points"
        )
    return lines


# ---------------------------------------------------------------- building


def clean_request(request: dict[str, Any]) -> dict[str, Any]:
    """A request's dict as stored in files: no job id or folder, the shot without results."""
    clean = {k: v for k, v in request.items() if k not in _CLIENT_FIELDS}
    shot = clean.get("shot")
    if isinstance(shot, dict):
        clean["shot"] = {k: v for k, v in shot.items() if k not in _RESULT_FIELDS}
    return clean


def shot_recipe(
    request: dict[str, Any] | None,
    *,
    name: str,
    shot_id: str,
    start: int,
    frames: int,
    take=None,
    model: dict[str, Any] | None = None,
    project_dir: str | os.PathLike | None = None,
) -> ShotRecipe:
    """One shot's recipe from the request that made it (`GenerationRequest.to_dict()`).

    `take` is the `Take` record the frames come from (None when rendered directly); the
    keyframe is hashed from `project_dir` (or the request's own folder).
    """
    keyframe = None
    if request is not None:
        folder = project_dir or request.get("project_dir")
        relative = (request.get("shot") or {}).get("keyframe")
        if isinstance(relative, str) and relative:
            keyframe = {"file": relative, "sha256": _hash_inside(Path(folder or "."), relative)}
        if model is None:
            model = model_identity(request.get("backend", ""))
        request = clean_request(request)
    take_info = None
    if take is not None:
        take_info = {"id": take.id, "label": take.label, "created": take.created}
    return ShotRecipe(
        name=name,
        shot_id=shot_id,
        start=int(start),
        frames=int(frames),
        request=request,
        model=dict(model or {}),
        keyframe=keyframe,
        take=take_info,
    )


def project_info(project) -> dict[str, Any]:
    return {
        "name": project.name,
        "width": project.width,
        "height": project.height,
        "fps": project.fps,
    }


_HASHES: dict[tuple[str, int, int], str] = {}


def _hash_inside(folder: Path, relative: str) -> str:
    """`_file_hash` of a project's file, "" when the path leads outside the project."""
    from .paths import inside

    try:
        return _file_hash(inside(folder, relative, "The keyframe"))
    except ProjectError:
        return ""


def _file_hash(path: Path) -> str:
    """SHA-256 of a file (cached by path, size and modification time); "" if unreadable."""
    try:
        stat = path.stat()
    except OSError:
        return ""
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError:
            return ""
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


def model_identity(backend: str) -> dict[str, Any]:
    """Which model a backend runs: the built-in model's weights by hash, a real model by name."""
    from .model_library import PREFIX

    identity: dict[str, Any] = {"backend": backend}
    if backend == "builtin":
        from .assets import BUILTIN_WEIGHTS

        digest = hashlib.sha256()
        for part in ("dit", "vae"):
            digest.update(_file_hash(BUILTIN_WEIGHTS / f"{part}.safetensors").encode())
        identity["model"] = "Kinema built-in"
        identity["weights"] = digest.hexdigest()[:16]
    elif backend.startswith(PREFIX):
        identity["model"] = backend[len(PREFIX) :]
    return identity


# ---------------------------------------------------------------- reading


def read_recipe(path: str | os.PathLike) -> Recipe:
    """The recipe a file (a video, a PNG or TIFF frame, or a folder of frames) carries.

    `MediaError` when the file cannot be read; `InvalidRequest` when it carries no recipe.
    """
    from .media import IMAGE_EXTS, _readable_file, _reading, read_image_text

    path = Path(path)
    if path.is_dir():
        frames = sorted(p for p in path.iterdir() if p.suffix.lower() in (".png", ".tif"))
        if not frames:
            raise InvalidRequest(f"'{path.name}' holds no PNG or TIFF frames to inspect.")
        path = frames[0]
    path = _readable_file(path)
    if path.suffix.lower() in IMAGE_EXTS:
        text = read_image_text(path)
        value = text.get(RECIPE_KEY) or text.get("ImageDescription")
    else:
        import av

        with _reading(path), av.open(str(path)) as container:
            tags = {k.lower(): v for k, v in container.metadata.items()}
        value = tags.get(RECIPE_KEY)
    if not value or not value.lstrip().startswith("{"):
        raise InvalidRequest(
            f"'{path.name}' carries no Kinema request: it was not made by Kinema, or it was "
            "re-encoded without its metadata."
        )
    return Recipe.from_json(value, f"'{path.name}'")


# ---------------------------------------------------------------- importing


@dataclass
class ImportResult:
    project: Any  # the Project the shots were added to (saved)
    shots: list  # the new Shot records, in order
    notes: list[str]  # what the user should know (a missing keyframe, another size)


def import_shots(
    source: str | os.PathLike,
    project_path: str | os.PathLike,
    which: str | None = None,
    keyframe: str | os.PathLike | None = None,
) -> ImportResult:
    """Recreate the shots a file carries in a project (created when it does not exist).

    `which` picks one shot of a sequence file ("2", or its name); the default is all. The
    keyframe is found by its SHA-256: `keyframe` if given, else the project's media, else
    the file's folder, a `media/` beside it or the media of a project beside it; a shot
    whose keyframe is nowhere is added without one, with a note.
    """
    from .project import PROJECT_FILE, Project

    source = Path(source)
    recipe = read_recipe(source)
    entries = _pick(recipe, which, source)
    folder = Path(project_path)
    if folder.name == PROJECT_FILE:
        folder = folder.parent
    notes: list[str] = []
    if (folder / PROJECT_FILE).is_file():
        with holding(folder):  # a studio with the project open must not be written under
            project = Project.load(folder)
            shots, more = shots_from_recipe(recipe, entries, project, source, keyframe)
            project.shots.extend(shots)
            project.save()
        return ImportResult(project, shots, notes + more)
    first = entries[0].request
    try:  # the size comes from a file of anywhere: the project's own rules apply
        size = Project.from_dict(
            {"kinema": 1, "width": first["width"], "height": first["height"], "fps": first["fps"]}
        )
    except (KeyError, TypeError) as error:
        raise InvalidRequest(f"'{source.name}' does not record its frame size.") from error
    except ProjectError as error:
        raise InvalidRequest(
            f"'{source.name}' records a frame size Kinema refuses: {error}"
        ) from error
    project = Project.new(folder)
    with holding(project.folder):
        project.width, project.height, project.fps = size.width, size.height, size.fps
        notes.append(
            f"Created the project '{project.folder.name}' at {project.width}x{project.height}, "
            f"{project.fps:g} fps, as the shot was made."
        )
        shots, more = shots_from_recipe(recipe, entries, project, source, keyframe)
        project.shots.extend(shots)
        project.save()
    return ImportResult(project, shots, notes + more)


def shots_from_file(
    source: str | os.PathLike, project, which: str | None = None
) -> tuple[list, list[str]]:
    """New `Shot`s for what `source` carries, not yet in `project` (a drop on the timeline:
    the studio adds them with an undoable command); keyframes found are copied into its
    media. Returns the shots and the notes."""
    source = Path(source)
    recipe = read_recipe(source)
    return shots_from_recipe(recipe, _pick(recipe, which, source), project, source, None)


_SETTING_FIELDS = ("backend", "steps", "guidance", "guide_strength")


def shots_from_recipe(recipe: Recipe, entries, project, source: Path, keyframe):
    """The shots `entries` describe, for `project`; returns them and the notes."""
    from .project import Shot

    notes: list[str] = []
    shots = []
    for entry in entries:
        request = entry.request
        snapshot = {k: v for k, v in request["shot"].items() if k not in (*_RESULT_FIELDS, "id")}
        try:
            shot = Shot.from_dict(snapshot, field="shot")
        except ProjectError as error:
            raise InvalidRequest(f"The shot '{entry.name}' in '{source.name}': {error}") from error
        try:  # the request comes from a file of anywhere: the document's own readers
            checked = Shot.from_dict(
                {
                    **snapshot,
                    "seed": request["seed"],
                    "duration": request["frames"],
                    "settings": {k: request[k] for k in _SETTING_FIELDS},
                },
                field="request",
            )
        except KeyError as error:
            raise InvalidRequest(
                f"The shot '{entry.name}' in '{source.name}' does not record its {error}."
            ) from error
        except ProjectError as error:
            raise InvalidRequest(f"The shot '{entry.name}' in '{source.name}': {error}") from error
        shot.seed, shot.duration, shot.settings = checked.seed, checked.duration, checked.settings
        shot.keyframe = _find_keyframe(entry, project, source, keyframe, notes)
        if shot.last_keyframe is not None:  # a path in the project it came from, no more
            shot.last_keyframe = None
            notes.append(
                f"'{entry.name}' ended on a last frame, which the file does not carry: choose "
                "it again in the inspector."
            )
        size = (int(request["width"]), int(request["height"]), float(request["fps"]))
        if size != (project.width, project.height, project.fps):
            notes.append(
                f"'{entry.name}' was made at {size[0]}x{size[1]}, {size[2]:g} fps; this project "
                f"is {project.width}x{project.height}, {project.fps:g} fps, so a re-render here "
                "gives other frames."
            )
        shots.append(shot)
    return shots, notes


def _pick(recipe: Recipe, which: str | None, source: Path) -> list[ShotRecipe]:
    entries = list(recipe.shots)
    if which is not None:
        if which.isdigit() and 1 <= int(which) <= len(entries):
            entries = [entries[int(which) - 1]]
        else:
            entries = [e for e in entries if which in (e.name, e.shot_id)]
        if not entries:
            raise InvalidRequest(
                f"'{source.name}' holds {len(recipe.shots)} shot(s); none is '{which}'."
            )
    missing = [e.name for e in entries if e.request is None]
    if missing:
        raise InvalidRequest(
            f"'{source.name}' does not record the request of {', '.join(map(repr, missing))}: "
            "that take was made before Kinema kept its requests."
        )
    return entries


def _find_keyframe(entry: ShotRecipe, project, source: Path, given, notes: list[str]) -> str | None:
    """The project-relative keyframe for `entry`, copied into the project when needed."""
    if not entry.keyframe:
        return None
    wanted, name = entry.keyframe["sha256"], Path(entry.keyframe["file"]).name
    if given is not None:
        given = Path(given)
        if not given.is_file():
            raise InvalidRequest(f"The keyframe '{given}' does not exist.")
        if _file_hash(given) != wanted:
            notes.append(
                f"'{given.name}' is not the keyframe '{entry.name}' was made with "
                "(its SHA-256 differs): a re-render will differ."
            )
        return project.import_media(given)
    if project.folder is None:
        notes.append(
            f"'{entry.name}' was added without its keyframe: save the project, then set it."
        )
        return None
    media = project.folder / "media"
    for candidate in sorted(media.iterdir()) if media.is_dir() else []:
        if candidate.is_file() and _file_hash(candidate) == wanted:
            return f"media/{candidate.name}"
    base = source.parent if source.is_file() else source
    places = [base, base / "media", base.parent, base.parent / "media"]
    places += sorted(base.glob("*.kinema/media"))  # a project beside the file
    for place in places:
        candidate = place / name
        if candidate.is_file() and _file_hash(candidate) == wanted:
            return project.import_media(candidate)
    notes.append(
        f"The keyframe of '{entry.name}' ({name}, sha256 {wanted[:12]}…) was not found: the "
        "shot was added without it. Set it (or give it with --keyframe) before re-rendering."
    )
    return None


def reads_recipe(path: str | os.PathLike) -> bool:
    """True if `path` carries a Kinema recipe (for a drop on the timeline)."""
    try:
        read_recipe(path)
    except (InvalidRequest, MediaError):
        return False
    return True
