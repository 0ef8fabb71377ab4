"""Headless rendering: a project's shots through the engine to a video, frames or a timeline.

Used by `kinema render` and by anything that needs frames without a GUI. It builds
one request per shot exactly as the studio does (`request_for_shot`), runs them on an
`Engine`, and delivers the result (`engine.export.deliver`: any codec, the requests inside
the file) atomically, so a failed or interrupted render never leaves a half-written file
where a good one was.
"""

from __future__ import annotations

import functools
import logging
import queue
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .errors import Cancelled, InvalidRequest, KinemaError
from .jobs import (
    NODE_LOST,
    GenerationRequest,
    JobCancelled,
    JobEvent,
    JobFailed,
    JobFinished,
    JobNotice,
    JobProgress,
)
from .project import Project, Shot
from .worker import Engine

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, int], None]


def request_for_shot(project: Project, shot: Shot, **overrides) -> GenerationRequest:
    """The request that generates `shot` with its own settings; `overrides` win (None ignored)."""
    settings = shot.settings
    # the shot as requested, without its takes: a take's request never nests the earlier ones
    snapshot = {**shot.to_dict(), "takes": [], "active_take": None}
    args = dict(
        shot=snapshot,
        width=project.width,
        height=project.height,
        frames=shot.duration,
        fps=project.fps,
        backend=settings.backend,
        steps=settings.steps,
        guidance=settings.guidance,
        guide_strength=settings.guide_strength,
        seed=shot.seed,
        project_dir=str(project.folder) if project.folder else None,
    )
    args.update({k: v for k, v in overrides.items() if v is not None})
    return GenerationRequest(**args)


#: seeds are unsigned 32-bit numbers
SEED_RANGE = 2**32


def variation_seeds(first: int, count: int) -> list[int]:
    """The seeds of `count` variations starting at `first`: first, first + 1, ... (wrapping).

    `kinema render --variations N` renders the saved shot's seed and the next ones; the
    studio's Variations, unlocked, draws `first`, saves it as the shot's seed and uses the
    same run, so rendering the saved project with `--variations N` makes those takes again.
    """
    return [(int(first) + index) % SEED_RANGE for index in range(max(1, int(count)))]


def settings_on(shot: Shot, backend: str | None):
    """The shot's settings on `backend` (None: its own), as choosing it in the studio gives:
    steps and guidance left at the old backend's defaults take the new one's."""
    from .backends import BACKENDS, create_backend, switched_settings

    if not backend or backend == shot.settings.backend:
        return shot.settings
    own = shot.settings.backend
    old = create_backend(own).capabilities() if own in BACKENDS else None
    return switched_settings(shot.settings, old, create_backend(backend).capabilities())


def generate_blocking(
    requests: Sequence[GenerationRequest],
    *,
    device: str = "auto",
    on_progress: ProgressFn | None = None,
    on_notice: Callable[[str], None] | None = None,
    engine_factory: Callable[[Callable[[JobEvent], None]], object] | None = None,
    retries: int = 0,
) -> list[np.ndarray]:
    """Run requests on a private engine and return their frames, in the order given.

    Every request is submitted at once, so a farm (`engine_factory` making a `FarmClient`)
    runs them side by side; the local engine runs them in order. A job whose farm node died
    is submitted again up to `retries` times. Raises the job's error as a `KinemaError`
    (message intact) if one fails, and `Cancelled` if interrupted; the engine is always
    shut down.
    """
    events: queue.Queue[JobEvent] = queue.Queue()
    if engine_factory is None:
        engine = Engine(events.put, device=device)
    else:
        engine = engine_factory(events.put)
    index_of: dict[str, int] = {}
    results: list[np.ndarray | None] = [None] * len(requests)
    tries = [0] * len(requests)
    try:
        for index, request in enumerate(requests):
            index_of[engine.submit(request)] = index
        remaining = len(requests)
        while remaining:
            event = events.get()
            index = index_of.get(event.job_id)
            if index is None:
                continue
            label = f"shot {index + 1}/{len(requests)}"
            if isinstance(event, JobProgress) and on_progress:
                on_progress(label, event.step, event.total)
            elif isinstance(event, JobNotice) and on_notice:
                on_notice(event.message)
            elif isinstance(event, JobFinished):
                results[index] = np.asarray(event.frames)
                remaining -= 1
            elif isinstance(event, JobFailed):
                if event.kind == NODE_LOST and tries[index] < retries:
                    tries[index] += 1
                    if on_notice:
                        on_notice(f"{label}: {event.message} Sending it to another node.")
                    index_of[engine.submit(requests[index].rerun())] = index
                    continue
                raise KinemaError(event.message)
            elif isinstance(event, JobCancelled):
                raise Cancelled()
    except KeyboardInterrupt:
        engine.cancel_all()
        raise
    finally:
        engine.shutdown()
    return results


def pick_shots(project: Project, which: str | None) -> list[Shot]:
    """`None` -> every shot; "2" -> the second shot; otherwise a shot id."""
    if not project.shots:
        raise InvalidRequest(f"The project '{project.name}' has no shots to render.")
    if which is None:
        return list(project.shots)
    if which.isdigit():
        number = int(which)
        if not 1 <= number <= len(project.shots):
            raise InvalidRequest(
                f"There is no shot {number}: the project has {len(project.shots)} shot(s)."
            )
        return [project.shots[number - 1]]
    for shot in project.shots:
        if shot.id == which or shot.name == which:
            return [shot]
    raise InvalidRequest(f"No shot with id or name '{which}' in the project.")


def write_output(
    clips: Sequence[np.ndarray],
    requests: Sequence[GenerationRequest],
    project: Project,
    output: Path,
    *,
    codec: str | None = None,
    crf: int | None = None,
    preset: str | None = None,
    progress: ProgressFn | None = None,
):
    """Deliver rendered clips (one per request) to `output` with their requests inside."""
    from .export import Piece, deliver
    from .recipe import project_info, shot_recipe

    pieces = []
    for clip, request in zip(clips, requests):
        shot = request.shot
        recipe = shot_recipe(
            request.to_dict(),
            name=str(shot.get("name", "")),
            shot_id=str(shot.get("id", "")),
            start=0,
            frames=len(clip),
        )
        pieces.append(Piece(recipe, lambda clip=clip: iter(clip)))
    report = (lambda done, total: progress("encode", done, total)) if progress else None
    return deliver(
        output,
        pieces,
        project.fps,
        project_info(project),
        codec=codec,
        crf=crf,
        preset=preset,
        progress=report,
    )


class TerminalProgress:
    """A one-line progress bar on a terminal; silent when stderr is not a terminal."""

    def __init__(self, stream=None, enabled: bool | None = None):
        self.stream = stream or sys.stderr  # looked up now: a test may have swapped it
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._last = 0.0
        self._open = False  # a bar is drawn and its line not ended

    def __call__(self, label: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.05:
            return
        self._last = now
        width = 30
        filled = int(width * done / max(total, 1))
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r{label:>12s} [{bar}] {done}/{total}")
        self._open = done < total
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()

    def clear(self) -> None:
        """Wipe a half-drawn bar, so an error that follows is the only line."""
        if self.enabled and self._open:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._open = False


def _check_available(backend: str):
    """Refuse, before any work, a backend that cannot run here, with its own sentence."""
    from .backends import create_backend

    caps = create_backend(backend).capabilities()
    if caps.unavailable:
        raise InvalidRequest(caps.unavailable)
    return caps


def planned_for_render(project: Project, shot: Shot, caps) -> tuple[Shot, str]:
    """The shot as Generate in the studio would make it: a bare shot on a backend that paints
    storyboards is planned from its prompt first (`engine.storyboard`), here in memory only.
    Returns the shot to render and a line saying what was planned ("" if nothing was)."""
    from .storyboard import needs_plan, plan_shot, planned_shot

    if not needs_plan(shot, caps):
        return shot, ""
    planned = plan_shot(shot, project.width, project.height, project.fps)
    return planned_shot(shot, planned), planned.message


def variation_path(output: Path, variation: int, variations: int) -> Path:
    """Where variation `variation` (0-based) of `variations` goes: OUT.mp4 -> OUT_v2.mp4."""
    if variations == 1:
        return output
    return output.with_name(f"{output.stem}_v{variation + 1}{output.suffix}")


def save_takes(project: Project, requests: Sequence[GenerationRequest], clips) -> list[str]:
    """Each clip as a new take of its shot (labelled "Take N"), then the project saved."""
    from .takes import next_take_label, save_take

    labels = []
    for request, frames in zip(requests, clips):
        shot = next(s for s in project.shots if s.id == request.shot["id"])
        take = save_take(
            project.folder, shot.id, frames, request, label=next_take_label(shot.takes)
        )
        shot.takes.append(take)
        labels.append(f"{shot.name}: {take.label}")
    project.save()
    return labels


def render_cli(args) -> int:
    """`kinema render`: project -> frames -> file (and takes), with a progress bar and clean
    errors; on this machine's engine, or on a farm with `--farm ADDRESS`.

    Every problem is a `KinemaError` whose sentence `kinema` prints as its one line; notes
    wait until the render succeeded (on failure they go to the log), so a failed render says
    one thing only. Writing into the project (takes, or an output inside its folder) needs
    the project's lock: a studio holding it is never written under.
    """
    from .export import output_codec

    project = Project.load(Path(args.project))
    shots = pick_shots(project, args.shot)
    for shot in shots:
        if shot.keyframe_missing:
            number = project.shots.index(shot) + 1
            raise InvalidRequest(
                f"Shot {number} ('{shot.name}') names the keyframe '{shot.keyframe}', which is "
                "missing from the project folder: relink or remove it in the studio."
            )
        if shot.last_keyframe_missing:
            number = project.shots.index(shot) + 1
            raise InvalidRequest(
                f"Shot {number} ('{shot.name}') names the last frame '{shot.last_keyframe}', "
                "which is missing from the project folder: choose it again or clear it in the "
                "studio."
            )
    variations = getattr(args, "variations", None)
    variations = 1 if variations is None else variations  # 0 is a mistake, not "once"
    keep_takes = getattr(args, "save_takes", False)
    if variations < 1:
        raise InvalidRequest(f"--variations must be at least 1, got {variations}.")
    if args.output is None and not keep_takes:
        raise InvalidRequest(
            "Say where the render goes: -o OUT.mp4 (or a folder), --save-takes, or both."
        )
    output = Path(args.output) if args.output is not None else None
    codec = None
    if output is not None:
        if output.suffix and not output.parent.exists():
            raise InvalidRequest(f"The folder '{output.parent}' for the output does not exist.")
        codec = output_codec(output, args.codec)  # a bad codec or container fails before work
        if not codec.sequence:
            codec.encoder_options(args.crf, args.preset)  # so do a bad CRF or preset
    lock = _lock_if_writing(project, output, keep_takes)
    try:
        return _render(args, project, shots, output, codec, variations, keep_takes)
    finally:
        if lock is not None:
            lock.release()


def _lock_if_writing(project: Project, output: Path | None, keep_takes: bool):
    """The project's lock when this render writes into the project (its takes, or an output
    inside its folder); None when it only reads it, which is safe: every save is atomic."""
    from .lock import ProjectLock

    assert project.folder is not None
    inside = False
    if output is not None:
        try:
            root, target = project.folder.resolve(), output.resolve()
            inside = root == target or root in target.parents
        except OSError:
            inside = False
    if not (keep_takes or inside):
        return None
    return ProjectLock.acquire(project.folder)  # ProjectLocked says who holds it


def _render(args, project, shots, output, codec, variations: int, keep_takes: bool) -> int:
    notes: list[str] = []
    requests = []  # variation-major: the whole sequence, then again with the next seeds
    for variation in range(variations):
        for number, shot in enumerate(shots, 1):
            settings = settings_on(shot, args.backend)
            caps = _check_available(settings.backend)
            shot, planned = planned_for_render(project, shot, caps)
            if planned and variation == 0:
                notes.append(f"shot {number} planned in memory (not saved): {planned}")
            first = shot.seed if args.seed is None else args.seed
            requests.append(
                request_for_shot(
                    project,
                    shot,
                    backend=settings.backend,
                    seed=variation_seeds(first, variations)[variation],
                    steps=args.steps or settings.steps,
                    guidance=settings.guidance,
                    memory=getattr(args, "memory", None),
                )
            )
    for request in requests:
        request.validate()  # a bad --steps or --seed fails before any work
    farm = getattr(args, "farm", None)
    engine_factory = None
    if farm:
        from .farm.client import FarmClient
        from .farm.cluster import connect

        connect(farm)  # before any work, so a farm that cannot be reached says so at once
        engine_factory = functools.partial(FarmClient, address=farm, device=args.device)
    progress = TerminalProgress(enabled=False if args.quiet else None)
    started = time.perf_counter()
    lines: list[str] = []
    try:
        clips = generate_blocking(
            requests,
            device=args.device,
            on_progress=progress,
            on_notice=notes.append,
            engine_factory=engine_factory,
            retries=getattr(args, "retries", 1) if farm else 0,
        )
        if keep_takes:
            labels = save_takes(project, requests, clips)
            lines.append(f"Saved {len(labels)} take(s) in {project.folder}: " + "; ".join(labels))
        per = len(shots)
        for variation in range(variations if output is not None else 0):
            part = slice(variation * per, (variation + 1) * per)
            path = variation_path(output, variation, variations)
            delivered = write_output(
                clips[part],
                requests[part],
                project,
                path,
                codec=codec.name,
                crf=args.crf,
                preset=args.preset,
                progress=progress,
            )
            notes.extend(delivered.notes)
            count = sum(len(clip) for clip in clips[part])
            media = f" and {len(delivered.media)} media files" if delivered.media else ""
            lines.append(
                f"Wrote {count} frames ({count / project.fps:.2f} s at {project.fps:g} fps) "
                f"as {codec.label} to {path}{media}"
            )
    except BaseException:
        progress.clear()
        for note in notes:
            log.info("note: %s", note)
        for line in lines:  # what was done before the failure is still true
            log.info("%s", line)
        raise
    for note in dict.fromkeys(notes):
        print(f"note: {note}", file=sys.stderr)
    for line in lines:
        print(line)
    where = f" on the farm at {farm}" if farm else ""
    print(f"Rendered {len(requests)} clip(s){where} in {time.perf_counter() - started:.1f} s")
    return 0
