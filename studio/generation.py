"""Generate, variations, cancel, decode again, and turning finished jobs into takes.

The controller builds each request exactly as the CLI does (`request_for_shot`, with the
GPU memory mode from the preferences; a bare shot on the built-in model is planned from its
prompt first, as `kinema render` plans it), submits it through the bridge, keeps the queue's
rows up to date from the bridge's signals, and, when a job finishes, writes its take on a
worker thread and then adds it to the shot with an undoable command. The finished frames
go to the viewer at once, before the PNGs are written, so playback never waits on the disk.

A real model whose final decode ran out of memory keeps its latents: its row offers
"Decode again", which submits the same request with a tiled decode under a new job id, so
the clip is finished without sampling again and its take lands on the same shot.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.errors import DecodeOutOfMemory, KinemaError
from engine.jobs import GenerationRequest, JobFinished, new_job_id
from engine.project import Project, Take
from engine.render import SEED_RANGE, request_for_shot, variation_seeds
from engine.storyboard import needs_plan
from engine.takes import next_take_label, save_take, take_request

from .commands import SetShotField, UseNewTake
from .document import Document
from .engine_bridge import EngineBridge
from .jobs_model import JobListModel, JobRecord
from .storyboard import StoryboardController
from .take_cache import TakeCache
from .tasks import TaskRunner

log = logging.getLogger(__name__)

#: the failure kind of a job whose clip sampled but whose final decode ran out of memory
DECODE_MEMORY = DecodeOutOfMemory.kind


@dataclass
class _Job:
    shot_id: str
    project: Project  # the document the job belongs to; its take goes nowhere else
    request: GenerationRequest


class GenerationController(QObject):
    preview_ready = Signal(str, str, object, int, int)  # shot id, job id, frames, step, total
    clip_finished = Signal(str, str, object, float)  # shot id, job id, frames, fps
    job_ended = Signal(str, str)  # shot id, job id (finished, cancelled or failed)
    take_added = Signal(str, str)  # shot id, take id
    message = Signal(str)  # status bar line
    problem = Signal(str)  # something the user must read (shown in the status bar and queue)

    def __init__(
        self,
        document: Document,
        bridge: EngineBridge,
        tasks: TaskRunner,
        take_cache: TakeCache,
        seed_locked: Callable[[], bool] = lambda: True,
        parent: QObject | None = None,
        memory_mode: Callable[[], str] = lambda: "auto",
        storyboard: StoryboardController | None = None,
        write_refusal: Callable[[], str] = lambda: "",
    ) -> None:
        super().__init__(parent)
        self._write_refusal = write_refusal
        self.document = document
        self.bridge = bridge
        self.storyboard = storyboard
        self.model = JobListModel(self)
        self._tasks = tasks
        self._take_cache = take_cache
        self._seed_locked = seed_locked
        self._memory_mode = memory_mode
        self._jobs: dict[str, _Job] = {}
        self._decodable: dict[str, _Job] = {}  # failed in the decode, latents kept
        bridge.job_started.connect(self._on_bridge_job_started)
        bridge.job_placed.connect(self._on_bridge_job_placed)
        bridge.job_progress.connect(self._on_bridge_job_progress)
        bridge.preview_ready.connect(self._on_bridge_preview_ready)
        bridge.job_finished.connect(self._on_bridge_job_finished)
        bridge.job_cancelled.connect(self._on_bridge_job_cancelled)
        bridge.job_failed.connect(self._on_bridge_job_failed)
        bridge.notice.connect(self._on_bridge_notice)
        self._project = document.project  # whose queue history the rows are
        document.project_replaced.connect(self._on_project_replaced)

    # ------------------------------------------------------------------ starting and stopping

    def generate(self, variations: int = 1, shot_id: str | None = None) -> list[str]:
        """Queue the shot (default: the current one) `variations` times with consecutive seeds.

        The first seed is a fresh one (written into the shot as part of starting the job)
        unless the seed is locked; locked, a single Generate uses the shot's seed and
        variations start one past it.
        """
        shot = self.document.shot(shot_id) if shot_id else self.document.current_shot
        if shot is None:
            self.problem.emit("Select a shot to generate.")
            return []
        if refusal := self._write_refusal():  # its takes would land in another's project
            self.problem.emit(refusal)
            return []
        caps = self.bridge.capabilities().get(shot.settings.backend)
        if self.storyboard is not None and caps is not None and needs_plan(shot, caps):
            # a bare shot on a model that paints plans: its storyboard first, then the jobs
            shot_id = shot.id
            self.storyboard.plan(shot_id, then=lambda: self.generate(variations, shot_id))
            return []
        count = max(1, variations)
        if self._seed_locked():
            # locked: Generate makes the shot's seed again; variations go round it, never
            # repeating the take that seed already made
            seeds = variation_seeds(shot.seed + (1 if count > 1 else 0), count)
        else:
            # unlocked: a fresh seed, kept as the shot's, so the saved project renders
            # (`kinema render`, `--variations N`) exactly the takes this made
            seeds = variation_seeds(_fresh_seed(avoid=shot.seed, count=count), count)
            what = "Generate" if count == 1 else f"{count} variations"
            self.document.push(
                SetShotField(
                    self.document, shot.id, "seed", seeds[0], f"New seed for {what}", False
                )
            )
        project = self.document.project
        memory = self._memory_mode()
        requests = []
        try:
            for seed in seeds:
                request = request_for_shot(project, shot, seed=seed, memory=memory)
                request.validate()
                requests.append(request)
        except KinemaError as error:
            self.problem.emit(str(error))
            return []
        return [self._submit(shot.id, request, shot.name) for request in requests]

    def rerun(self, shot_id: str, take: Take) -> str | None:
        """Run a take's recorded request again, exactly; only the memory mode is today's
        preference (it decides where the model sits, not what it makes)."""
        if refusal := self._write_refusal():
            self.problem.emit(refusal)
            return None
        try:
            # the keyframe comes from this project's folder, whatever the record says
            request = dataclasses.replace(
                take_request(take, self.document.project.folder), memory=self._memory_mode()
            )
        except KinemaError as error:
            self.problem.emit(str(error))
            return None
        shot = self.document.shot(shot_id)
        return self._submit(shot_id, request, f"{shot.name if shot else 'Shot'} (re-run)")

    def can_decode_again(self, job_id: str) -> bool:
        job = self._decodable.get(job_id)
        return job is not None and job.project is self.document.project

    def decode_again(self, job_id: str) -> str | None:
        """Finish a clip whose decode ran out of memory: the same request, a tiled decode,
        a new job id. The backend kept the latents, so nothing is sampled again."""
        if not self.can_decode_again(job_id):
            self.problem.emit("That job's clip can no longer be decoded again: generate it anew.")
            return None
        job = self._decodable.pop(job_id)
        self.model.update(job_id, decodable=False)
        request = dataclasses.replace(job.request, tiled_decode=True, job_id=new_job_id())
        shot = self.document.shot(job.shot_id)
        name = f"{shot.name if shot else 'Shot'} (decode again)"
        return self._submit(job.shot_id, request, name)

    def _submit(self, shot_id: str, request: GenerationRequest, name: str) -> str:
        self._jobs[request.job_id] = _Job(shot_id, self.document.project, request)
        self.model.add(
            JobRecord(
                job_id=request.job_id,
                label=f"{name} · seed {request.seed}",
                shot_id=shot_id,
                seed=request.seed,
                backend=request.backend,
                size=(request.width, request.height, request.frames),
            )
        )
        try:
            self.bridge.submit(request)
        except RuntimeError as error:
            self.model.update(request.job_id, status="failed", message=str(error))
            self._jobs.pop(request.job_id, None)
        return request.job_id

    def cancel(self, job_id: str) -> None:
        self.bridge.cancel(job_id)

    def cancel_running(self) -> bool:
        """Esc: stop the job that is running now (queued ones keep their place)."""
        running = self.bridge.running_job
        if running is None or running not in self._jobs:
            return False
        self.bridge.cancel(running)
        self.message.emit("Cancelling…")
        return True

    def cancel_all(self) -> None:
        self.bridge.cancel_all()

    def forget(self, job_ids: list[str]) -> None:
        for job_id in job_ids:
            self.bridge.forget(job_id)
            self._jobs.pop(job_id, None)
            self._decodable.pop(job_id, None)

    @property
    def active_jobs(self) -> int:
        return sum(r.active for r in self.model.records())

    def live_job_for(self, shot_id: str) -> str | None:
        """The job of `shot_id` that is running now, if any (its previews go to the viewer)."""
        for record in self.model.records():
            if record.shot_id == shot_id and record.status == "running":
                return record.job_id
        return None

    # ------------------------------------------------------------------ engine events

    def _on_bridge_job_started(self, job_id: str, backend: str, total: int) -> None:
        # the step total comes with the first step: the backend knows it (two passes count
        # both), the request's steps may not be it
        self.model.update(job_id, status="running")

    def _on_bridge_job_placed(self, job_id: str, node: str) -> None:
        self.model.update(job_id, node=node)

    def _on_bridge_job_progress(
        self, job_id: str, step: int, total: int, message: str, clock: float | None = None
    ) -> None:
        self.model.progress(job_id, step, total, message, clock)

    def _on_bridge_preview_ready(
        self, job_id, frames, step: int, total: int, complete: bool
    ) -> None:
        job = self._jobs.get(job_id)
        if job is not None:
            self.preview_ready.emit(job.shot_id, job_id, frames, step, total)

    def _on_bridge_job_finished(self, job_id: str, event: JobFinished) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            return
        record = self.model.record(job_id)
        if record is not None:
            self.model.update(job_id, status="saving", step=record.total, run_s=event.elapsed_s)
        self.clip_finished.emit(job.shot_id, job_id, event.frames, float(event.fps))
        folder = job.project.folder
        if folder is None:
            self._job_failed(job_id, "The project has no folder, so the take could not be saved.")
            return
        self._tasks.submit(
            lambda ctx: save_take(folder, job.shot_id, event.frames, event.request, fps=event.fps),
            on_done=lambda take: self._on_take_saved(job_id, take, event.frames),
            on_error=lambda error: self._job_failed(
                job_id, f"The clip was made but its take could not be saved: {error}"
            ),
            name=f"save take {job_id}",
        )
        if record is not None:
            self.message.emit(f"{record.label} finished in {event.elapsed_s:.1f} s")

    def _on_take_saved(self, job_id: str, take: Take, frames: np.ndarray) -> None:
        job = self._jobs.pop(job_id, None)
        if job is None:
            return
        if not self._belongs_here(job):
            # Another project is open now: the take stays in its own project's folder, with
            # its record, and is offered there the next time that project opens.
            name = job.project.name
            self.model.update(job_id, status="finished", message=f"Kept in '{name}'")
            self.message.emit(
                f"A take for '{name}' finished after it was closed: it is kept in that project "
                "and offered when you open it again."
            )
            self.job_ended.emit(job.shot_id, job_id)
            return
        shot = self.document.shot(job.shot_id)
        if shot is None:
            self.model.update(job_id, status="finished", message="Kept on disk")
            self.problem.emit(
                "The shot was removed before its take could be added. The take is kept in the "
                "project folder: undo the removal, save, and it is offered when the project "
                "opens again."
            )
            self.job_ended.emit(job.shot_id, job_id)
            return
        take.label = next_take_label(shot.takes)
        self._take_cache.put(take.id, frames)
        self.document.push(UseNewTake(self.document, shot.id, take))
        # no undo takes the take away again, so no step of the history is the saved file
        self.document.undo_stack.resetClean()
        self.model.update(job_id, status="finished", message=take.label)
        self.job_ended.emit(shot.id, job_id)
        self.take_added.emit(shot.id, take.id)

    def _on_bridge_job_cancelled(self, job_id: str) -> None:
        job = self._jobs.pop(job_id, None)
        if job is not None and job.project is not self._project:
            self.model.remove(job_id)  # cancelled when its project was closed: no history
            self.job_ended.emit(job.shot_id, job_id)
            return
        self.model.update(job_id, status="cancelled")
        if job is not None:
            self.job_ended.emit(job.shot_id, job_id)
            self.message.emit("Job cancelled.")

    def _on_bridge_job_failed(self, job_id: str, message: str, kind: str) -> None:
        job = self._jobs.get(job_id)
        if kind == DECODE_MEMORY and job is not None:
            self._decodable[job_id] = job
        self._job_failed(job_id, message, kind)

    def _job_failed(self, job_id: str, message: str, kind: str = "") -> None:
        job = self._jobs.pop(job_id, None)
        self.model.update(
            job_id,
            status="failed",
            message=message,
            kind=kind,
            decodable=job_id in self._decodable,
        )
        self.problem.emit(message)
        if job is not None:
            self.job_ended.emit(job.shot_id, job_id)

    def _on_bridge_notice(self, job_id: str, message: str, level: str) -> None:
        self.message.emit(message)

    def _belongs_here(self, job: _Job) -> bool:
        """Whether a job's take goes into the open document: it was made for this document,
        or for this same project folder opened again, and this window may write there."""
        if self._write_refusal():
            return False
        if job.project is self.document.project:
            return True
        mine, theirs = self.document.project.folder, job.project.folder
        return mine is not None and theirs is not None and _same_folder(mine, theirs)

    def _on_project_replaced(self) -> None:
        """Another project is open: the queue's history of the previous one goes (a new
        project starts with an empty queue). Its jobs still running, which the user chose to
        keep when switching, stay listed: each saves its take into its own project. Only
        "decode again" cannot follow them."""
        for job_id in [j for j, job in self._decodable.items() if not self.can_decode_again(j)]:
            del self._decodable[job_id]
            self.model.update(job_id, decodable=False)
        if self.document.project is not self._project:  # not a recovered version of it
            self._project = self.document.project
            self.forget(self.model.clear_finished())


def _fresh_seed(avoid: int, count: int) -> int:
    """A random first seed whose run of `count` seeds misses `avoid` (the take just made)."""
    while True:
        seed = secrets.randbelow(SEED_RANGE)
        if (avoid - seed) % SEED_RANGE >= count:
            return seed


def _same_folder(a, b) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return a == b
