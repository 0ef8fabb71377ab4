"""Delivery: a shot or the sequence to one file, a folder of frames, or a timeline with media.

Each shot contributes exactly `shot.duration` frames, as the timeline lays it out, from its
take's frame `shot.head` on (its in-point): a take longer than its (trimmed) shot is cut, a
shorter one holds its last frame, so the frame under the studio's playhead is the frame
written there (`engine.sequence` is that arithmetic). A take of another size than the
sequence is scaled to fit inside it and letterboxed (or pillarboxed), never stretched.
None of that is silent: `take_fit` says, per take, what does not match and what export
does about it, for the takes panel's badge and the Export dialog's list.

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
    head: int = 0  # the take's frame written first (the shot's in-point)


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
    fitted: tuple[str, ...] = ()  # per mismatched take, what export does with it

    @property
    def takes(self) -> tuple[Take, ...]:
        return tuple(item.take for item in self.items)

    @property
    def total_frames(self) -> int:
        return sum(item.length for item in self.items)


@dataclass(frozen=True)
class TakeFit:
    """How a take fits its shot in the sequence: what differs, and what export does."""

    size: str = ""  # "1280x720 take in a 768x432 project", or ""
    length: str = ""  # "take is 2.00 s, shot is 3.00 s", or ""
    rate: str = ""  # "30 fps take in a 24 fps project", or ""
    actions: tuple[str, ...] = ()  # what export does about it, one phrase per difference

    @property
    def matches(self) -> bool:
        return not (self.size or self.length or self.rate)

    @property
    def badge(self) -> str:
        """The differences in one line ("" when the take fits)."""
        return "; ".join(p for p in (self.size, self.length, self.rate) if p)

    @property
    def export_note(self) -> str:
        """What export does with this take, as a clause: "scaled to fit, letterboxed"."""
        return ", ".join(self.actions)


def take_fit(project: Project, shot, take: Take, *, check_size: bool = True) -> TakeFit:
    """Compare a take with its shot and the project (size only when `check_size`: a lone
    shot's export keeps its take's own size)."""
    size = length = rate = ""
    actions: list[str] = []
    fps = project.fps
    if check_size and (take.width, take.height) != (project.width, project.height):
        size = f"{take.width}x{take.height} take in a {project.width}x{project.height} project"
        same_shape = abs(take.width * project.height - take.height * project.width) <= max(
            take.width, take.height
        )
        actions.append("scaled to fit" if same_shape else "scaled to fit, " + _bars(take, project))
    if take.frames != shot.duration:
        length = f"take is {take.frames / fps:.2f} s, shot is {shot.duration / fps:.2f} s"
        extra = abs(shot.duration - take.frames) / fps
        actions.append(
            f"trimmed by {extra:.2f} s"
            if take.frames > shot.duration
            else f"last frame held for {extra:.2f} s"
        )
    if abs(take.fps - fps) > 1e-3:
        rate = f"{take.fps:g} fps take in a {fps:g} fps project"
        actions.append(f"played at {fps:g} fps")
    return TakeFit(size, length, rate, tuple(actions))


def _bars(take: Take, project: Project) -> str:
    wider = take.width * project.height > take.height * project.width
    return "letterboxed" if wider else "pillarboxed"


def fit_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """`frame` scaled to fit inside `width` x `height`, centred on black: never stretched."""
    h, w = frame.shape[:2]
    if (w, h) == (width, height):
        return frame
    scale = min(width / w, height / h)
    fit_w = min(width, max(1, round(w * scale)))
    fit_h = min(height, max(1, round(h * scale)))
    if abs(fit_w - width) <= 1 and abs(fit_h - height) <= 1:  # the same shape: fill it
        fit_w, fit_h = width, height
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    scaled = cv2.resize(frame, (fit_w, fit_h), interpolation=interp)
    if (fit_w, fit_h) == (width, height):
        return scaled
    out = np.zeros((height, width, 3), np.uint8)
    x0, y0 = (width - fit_w) // 2, (height - fit_h) // 2
    out[y0 : y0 + fit_h, x0 : x0 + fit_w] = scaled
    return out


@dataclass(frozen=True)
class ExportReview:
    """What an export of a scope would meet, before anything is asked of the disk."""

    missing: tuple[tuple[str, str], ...] = ()  # (shot id, "Shot 2 'Push in'") without a take
    lost: tuple[str, ...] = ()  # shots whose active take's files are gone
    mismatched: tuple[tuple[str, str], ...] = ()  # (shot id, what export does with its take)


def shots_in_scope(project: Project, shot_id: str | None, scope: str) -> list:
    if scope == "shot":
        shot = project.shot(shot_id) if shot_id else None
        return [shot] if shot is not None else []
    return list(project.shots)


def review_export(project: Project, shot_id: str | None, scope: str) -> ExportReview:
    """Which shots of the scope have no take, and what export does with each mismatched one."""
    missing, lost, mismatched = [], [], []
    for shot in shots_in_scope(project, shot_id, scope):
        label = f"Shot {project.shots.index(shot) + 1} '{shot.name}'"
        take = shot.active()
        if take is None:
            missing.append((shot.id, label))
        elif take.missing:
            lost.append(label)
        else:
            fit = take_fit(project, shot, take, check_size=scope != "shot")
            if not fit.matches:
                mismatched.append((shot.id, f"{label}: {fit.badge}: {fit.export_note}."))
    return ExportReview(tuple(missing), tuple(lost), tuple(mismatched))


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
    items, notes = [], []
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
        items.append(ExportItem(shot.id, shot.name, take, shot.duration, shot.head))
        fit = take_fit(project, shot, take, check_size=options.scope != "shot")
        if not fit.matches:
            notes.append(f"'{shot.name}': {fit.export_note}.")
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
    return ExportPlan(
        options, project.folder, tuple(items), width, height, float(fps), info, tuple(notes)
    )


def _take_frames(plan: ExportPlan, item: ExportItem, check) -> Iterator[np.ndarray]:
    from .takes import load_take_frames

    if check is not None:
        check()
    clip = load_take_frames(plan.project_folder, item.take)
    for t in range(item.length):
        yield fit_frame(clip[min(item.head + t, len(clip) - 1)], plan.width, plan.height)


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
    delivered = deliver(
        options.path,
        pieces,
        plan.fps,
        plan.project,
        codec=options.codec,
        crf=options.crf,
        preset=options.preset,
        progress=progress,
    )
    return replace(delivered, notes=(*plan.fitted, *delivered.notes))


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
    "ExportReview",
    "Piece",
    "TakeFit",
    "deliver",
    "output_codec",
    "fit_frame",
    "plan_export",
    "review_export",
    "run_export",
    "take_fit",
]
