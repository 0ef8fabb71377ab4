"""Delivery: a shot or the sequence to one file, a folder of frames, or a timeline with media.

Each shot contributes exactly `shot.duration` frames, as the timeline lays it out: a take
longer than its (trimmed) shot is cut, a shorter one holds its last frame, so the frame
under the studio's playhead is the frame written there.

`plan_export` decides what to write from the document (which takes, in which order, at
which size) and freezes it, so a later edit cannot change a running export; `run_export`
then reads, resizes and encodes one take at a time, never holding the sequence in memory.
`deliver` is the writing half, shared with `kinema render`: one file holding every piece
(its recipe lists each shot's frames), or, for a `.otio`, `.edl` or `.xml` path, one media
file per shot in `<name>_media/` and the timeline referencing them. Every output carries
its recipe (`engine.recipe`) and is written atomically.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from .codecs import Codec, codec_for_path, get_codec
from .errors import InvalidRequest
from .project import Project, Take
from .recipe import Recipe, ShotRecipe, project_info, shot_recipe
from .timelines import (
    TIMELINE_FORMATS,
    TimelineClip,
    build_timeline,
    is_timeline,
    media_folder,
    write_timeline,
)

ProgressFn = Callable[[int, int], None]
#: the media codec of a timeline when none is chosen: the editor's intermediate
TIMELINE_CODEC = "prores-hq"


@dataclass(frozen=True)
class ExportOptions:
    path: Path  # a file; a folder for an image sequence; a .otio/.edl/.xml for a timeline
    scope: str = "shot"  # "shot" | "sequence"
    codec: str = "h264"  # a name in engine.codecs.CODECS (a timeline's media codec)
    crf: int | None = None  # None: the codec's default
    preset: str | None = None  # None: the codec's default
    fps: float | None = None  # None: the project's frame rate


@dataclass(frozen=True)
class Piece:
    """One shot's part of an output: its recipe and a way to produce its frames."""

    recipe: ShotRecipe  # start 0; `deliver` places it in the file
    frames: Callable[[], Iterator[np.ndarray]] = field(repr=False)


@dataclass(frozen=True)
class Delivered:
    path: Path  # the file, folder or timeline written
    media: tuple[Path, ...] = ()  # a timeline's per-shot media
    notes: tuple[str, ...] = ()  # sizes the codec changed, and the like


@dataclass(frozen=True)
class ExportItem:
    shot_id: str
    name: str
    take: Take = field(repr=False)
    length: int  # frames written (the shot's duration)


@dataclass(frozen=True)
class ExportPlan:
    """Everything the worker needs, copied from the document at the moment of export."""

    options: ExportOptions
    project_folder: Path
    items: tuple[ExportItem, ...]
    width: int = 0
    height: int = 0
    fps: float = 24.0
    project: dict = field(default_factory=dict)  # name, size and rate, for the recipe

    @property
    def takes(self) -> tuple[Take, ...]:
        return tuple(item.take for item in self.items)

    @property
    def total_frames(self) -> int:
        return sum(item.length for item in self.items)


def output_codec(path: Path, codec: str | None) -> Codec:
    """The codec an output gets: a timeline's media codec (ProRes 422 HQ unless chosen), or
    the one `codec_for_path` gives; `InvalidRequest` with the sentence otherwise."""
    from .errors import MediaError

    codec = codec or None
    try:
        if is_timeline(path):
            chosen = get_codec(codec or TIMELINE_CODEC)
            if chosen.sequence:
                raise InvalidRequest(
                    f"A timeline references one media file per shot: choose a video codec "
                    f"for its media, not a {chosen.label}."
                )
            return chosen
        return codec_for_path(path, codec)
    except MediaError as error:
        raise InvalidRequest(str(error)) from error


def plan_export(project: Project, shot_id: str | None, options: ExportOptions) -> ExportPlan:
    """Check there is something to export and freeze it; `InvalidRequest` says what is missing."""
    if project.folder is None:
        raise InvalidRequest("Save the project before exporting.")
    if options.scope == "shot":
        shot = project.shot(shot_id) if shot_id else None
        if shot is None:
            raise InvalidRequest("Select a shot to export.")
        shots = [shot]
    else:
        shots = list(project.shots)
        if not shots:
            raise InvalidRequest("The project has no shots to export.")
    items = []
    for shot in shots:
        take = shot.active()
        if take is None:
            raise InvalidRequest(
                f"Shot {project.shots.index(shot) + 1} ('{shot.name}') has no take yet: "
                "generate it before exporting."
            )
        if take.missing:
            raise InvalidRequest(
                f"The active take of shot '{shot.name}' is missing from the project folder."
            )
        items.append(ExportItem(shot.id, shot.name, take, shot.duration))
    codec = get_codec(options.codec) if options.codec else None
    path = options.path
    if codec is not None and not is_timeline(path):
        if codec.sequence and path.suffix:
            raise InvalidRequest(
                f"A {codec.label} is written into a folder; '{path.name}' looks like a file."
            )
        if not codec.sequence and path.suffix.lower() not in codec.extensions:
            path = path.with_suffix(codec.extensions[0])
    options = replace(options, path=path)
    output_codec(path, options.codec)  # refuse a bad combination before any work
    if not path.parent.is_dir():
        raise InvalidRequest(f"The folder '{path.parent}' does not exist.")
    if options.scope == "shot":
        width, height = items[0].take.width, items[0].take.height
    else:
        width, height = project.width, project.height
    fps = options.fps or (items[0].take.fps if options.scope == "shot" else project.fps)
    info = {**project_info(project), "width": width, "height": height, "fps": float(fps)}
    return ExportPlan(options, project.folder, tuple(items), width, height, float(fps), info)


def _take_frames(plan: ExportPlan, item: ExportItem, check) -> Iterator[np.ndarray]:
    from .takes import load_take_frames

    if check is not None:
        check()
    clip = load_take_frames(plan.project_folder, item.take)
    for t in range(item.length):
        frame = clip[min(t, len(clip) - 1)]
        if frame.shape[:2] != (plan.height, plan.width):
            frame = cv2.resize(frame, (plan.width, plan.height), interpolation=cv2.INTER_AREA)
        yield frame


def run_export(
    plan: ExportPlan, progress: ProgressFn | None = None, check: Callable[[], None] | None = None
) -> Delivered:
    """Encode the plan (on a worker thread); `check` raises to cancel between takes."""
    pieces = []
    for item in plan.items:
        take = item.take
        recipe = shot_recipe(
            take.request or None,
            name=item.name,
            shot_id=item.shot_id,
            start=0,
            frames=item.length,
            take=take,
            model=take.model or None,
            project_dir=plan.project_folder,
        )
        pieces.append(Piece(recipe, lambda item=item: _take_frames(plan, item, check)))
    options = plan.options
    return deliver(
        options.path,
        pieces,
        plan.fps,
        plan.project,
        codec=options.codec,
        crf=options.crf,
        preset=options.preset,
        progress=progress,
    )


def deliver(
    path: Path,
    pieces: list[Piece],
    fps: float,
    project: dict,
    *,
    codec: str | None = None,
    crf: int | None = None,
    preset: str | None = None,
    progress: ProgressFn | None = None,
) -> Delivered:
    """Write the pieces to `path`: one file or folder, or a timeline and its media."""
    from .media import write_image_sequence, write_video

    path = Path(path)
    spec = output_codec(path, codec)
    total = sum(piece.recipe.frames for piece in pieces)
    done = [0]

    def counted(frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        for frame in frames:
            yield frame
            done[0] += 1
            if progress is not None:
                progress(done[0], total)

    def write(target: Path, frames: Iterator[np.ndarray], recipe: Recipe) -> list[str]:
        if spec.sequence:
            write_image_sequence(target, frames, spec.name, metadata=recipe.metadata(), total=total)
            return []
        return write_video(
            target, frames, fps, spec.name, crf=crf, preset=preset, metadata=recipe.metadata()
        )

    if not is_timeline(path):
        placed, start = [], 0
        for piece in pieces:
            placed.append(replace(piece.recipe, start=start))
            start += piece.recipe.frames
        frames = (f for piece in pieces for f in piece.frames())
        notes = write(path, counted(frames), Recipe(project, tuple(placed)))
        return Delivered(path, notes=tuple(notes))

    folder = media_folder(path)
    folder.mkdir(exist_ok=True)
    clips, media, notes = [], [], []
    for number, piece in enumerate(pieces, 1):
        recipe = piece.recipe
        target = folder / f"{number:02d}_{_slug(recipe.name)}{spec.extensions[0]}"
        for note in write(target, counted(piece.frames()), Recipe(project, (recipe,))):
            if note not in notes:
                notes.append(note)
        request = recipe.request or {}
        clips.append(
            TimelineClip(
                recipe.name,
                target,
                recipe.frames,
                {
                    "shot_id": recipe.shot_id,
                    "take": recipe.take,
                    "backend": request.get("backend"),
                    "seed": request.get("seed"),
                },
            )
        )
        media.append(target)
    write_timeline(path, build_timeline(project.get("name") or path.stem, fps, clips))
    return Delivered(path, tuple(media), tuple(notes))


def _slug(name: str) -> str:
    """A shot name as a file name any NLE and file system take."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return slug[:60] or "shot"


__all__ = [
    "TIMELINE_FORMATS",
    "Delivered",
    "ExportItem",
    "ExportOptions",
    "ExportPlan",
    "Piece",
    "deliver",
    "output_codec",
    "plan_export",
    "run_export",
]
