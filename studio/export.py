"""Export a shot or the whole sequence to MP4 or a PNG sequence, in the background.

Each shot contributes exactly `shot.duration` frames, as the timeline lays it out: a
take longer than its (trimmed) shot is cut, a shorter one holds its last frame, so the
frame under the timeline's playhead is the frame written there.

What to export is decided on the GUI thread (`plan_export`: which takes, in which order,
at which size), so a later edit cannot change a running export; the frames are then read,
resized if a take was made at another size, and encoded on a worker thread one take at a
time, never holding the whole sequence in memory. Progress comes back throttled, and
cancelling leaves no file behind (the engine's writers are atomic).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.errors import Cancelled, InvalidRequest
from engine.project import Project, Take
from engine.takes import load_take_frames

from .tasks import Task, TaskContext, TaskRunner


@dataclass(frozen=True)
class ExportOptions:
    path: Path
    scope: str = "shot"  # "shot" | "sequence"
    format: str = "mp4"  # "mp4" | "png" (a folder of frames)
    crf: int = 18  # H.264 quality: 0 lossless, 18 visually lossless, 23 default
    fps: float | None = None  # None: the project's frame rate


@dataclass(frozen=True)
class ExportPlan:
    """Everything the worker needs, copied from the document at the moment of export."""

    options: ExportOptions
    project_folder: Path
    takes: tuple[Take, ...] = field(repr=False)
    width: int = 0
    height: int = 0
    fps: float = 24.0
    lengths: tuple[int, ...] = ()  # frames written per take (the shot's duration); () = all

    def length(self, index: int) -> int:
        return self.lengths[index] if self.lengths else self.takes[index].frames

    @property
    def total_frames(self) -> int:
        return sum(self.length(i) for i in range(len(self.takes)))


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
    takes = []
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
        takes.append(take)
    if options.format == "mp4" and options.path.suffix.lower() not in (".mp4", ".m4v", ".mov"):
        options = replace(options, path=options.path.with_suffix(".mp4"))
    if options.format == "png" and options.path.suffix:
        raise InvalidRequest(
            f"A PNG sequence is written into a folder; '{options.path.name}' looks like a file."
        )
    if not options.path.parent.is_dir():
        raise InvalidRequest(f"The folder '{options.path.parent}' does not exist.")
    if options.scope == "shot":
        width, height = takes[0].width, takes[0].height
    else:
        width, height = project.width, project.height
    fps = options.fps or (takes[0].fps if options.scope == "shot" else project.fps)
    lengths = tuple(shot.duration for shot in shots)
    return ExportPlan(options, project.folder, tuple(takes), width, height, float(fps), lengths)


def _frames(plan: ExportPlan, context: TaskContext | None) -> Iterator[np.ndarray]:
    for index, take in enumerate(plan.takes):
        if context is not None:
            context.check()
        clip = load_take_frames(plan.project_folder, take)
        length = plan.length(index)
        for t in range(length):
            frame = clip[min(t, len(clip) - 1)]
            if frame.shape[:2] != (plan.height, plan.width):
                frame = cv2.resize(frame, (plan.width, plan.height), interpolation=cv2.INTER_AREA)
            yield frame


def run_export(plan: ExportPlan, context: TaskContext | None = None) -> Path:
    """Encode the plan (on a worker thread); returns the file or folder written."""
    from engine.media import write_mp4, write_png_sequence

    progress = context.progress if context is not None else None
    options = plan.options
    if options.format == "mp4":
        write_mp4(
            options.path,
            _frames(plan, context),
            plan.fps,
            crf=options.crf,
            progress=progress,
            total=plan.total_frames,
        )
    else:
        frames = _frames(plan, context)
        total = plan.total_frames

        def report(done: int, _total: int) -> None:
            if progress is not None:
                progress(done, total)

        write_png_sequence(options.path, frames, progress=report)
    return options.path


class ExportController(QObject):
    started = Signal(str)  # what is being exported, for the status bar
    progress = Signal(int, int)
    finished = Signal(str)  # the path written
    failed = Signal(str)  # the sentence to show
    cancelled = Signal()

    def __init__(self, tasks: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._task: Task | None = None

    @property
    def busy(self) -> bool:
        return self._task is not None

    def start(self, plan: ExportPlan) -> None:
        if self._task is not None:
            raise InvalidRequest("An export is already running: wait for it or cancel it.")
        self.started.emit(str(plan.options.path))
        self._task = self._tasks.submit(
            lambda ctx: run_export(plan, ctx),
            on_done=self._on_done,
            on_error=self._on_error,
            on_progress=self.progress.emit,
            name="export",
        )

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def _on_done(self, path: Path) -> None:
        self._task = None
        self.finished.emit(str(path))

    def _on_error(self, error: BaseException) -> None:
        self._task = None
        if isinstance(error, Cancelled):
            self.cancelled.emit()
        else:
            self.failed.emit(str(error))
