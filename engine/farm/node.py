"""`RenderSlot`: one GPU (or one CPU slot) of a node, as a Ray actor around an `Engine`.

The slot's `Engine` owns the torch state and keeps its backends warm between jobs, exactly
as on the client's own machine. `run(job)` is an async Ray generator: it submits the job to
that engine and yields its events as they happen, in order, until the job ends. The engine
calls back on its own thread; the events cross to the actor's event loop through
`call_soon_threadsafe`, and a preview not yet sent is replaced by a newer one (latest wins,
as in the studio's bridge), so a client reading slowly never piles up stale frames.

Cancel is Ray's: `ray.cancel` on the generator cancels the asyncio task waiting for the
next event, and that sets the engine's cancel token, so the backend stops at its next
step. `settle(job_id)` waits until the engine is done with a job and says how it ended, so
a client knows the slot is free and at which step a cancelled job stopped.

This module imports no Ray: the client wraps the class with `ray.remote`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import socket
from collections import deque
from collections.abc import Callable

from .. import __version__
from ..jobs import (
    JobCancelled,
    JobEvent,
    JobFailed,
    JobFinished,
    JobPreview,
    JobProgress,
    JobQueued,
    JobStarted,
)
from .job import FarmJob, compile_job

log = logging.getLogger(__name__)

TERMINAL = (JobFinished, JobCancelled, JobFailed)


class _EventStream:
    """One job's events on the actor's event loop, previews coalesced (latest wins)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._items: deque[JobEvent] = deque()
        self._ready = asyncio.Event()
        self.ended = asyncio.Event()
        self.outcome: dict = {"status": "queued", "step": 0, "total": 0}

    def push_threadsafe(self, event: JobEvent) -> None:
        self._loop.call_soon_threadsafe(self._push, event)

    def _push(self, event: JobEvent) -> None:
        if isinstance(event, JobProgress):
            self.outcome.update(step=event.step, total=event.total)
        elif isinstance(event, JobStarted):
            self.outcome["status"] = "running"
        elif isinstance(event, TERMINAL):
            self.outcome["status"] = type(event).__name__.removeprefix("Job").lower()
            self.ended.set()
        last = self._items[-1] if self._items else None
        if isinstance(event, JobPreview) and isinstance(last, JobPreview) and not last.complete:
            self._items[-1] = event  # the older estimate was never sent: drop it
        else:
            self._items.append(event)
        self._ready.set()

    async def next(self) -> JobEvent:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()


class RenderSlot:
    """A render slot: an `Engine` on one GPU or CPU slot of a node, its backends warm."""

    def __init__(
        self,
        label: str,
        device: str = "auto",
        backend_factory: Callable | None = None,
    ) -> None:
        from ..worker import Engine

        self._label = label
        self._streams: dict[str, _EventStream] = {}
        self._jobs: dict[str, FarmJob] = {}
        self._done = 0
        options = {"backend_factory": backend_factory} if backend_factory else {}
        self._engine = Engine(
            self._on_event, device=device, compile_controls=self._compile, **options
        )

    # ------------------------------------------------------------------ engine thread

    def _on_event(self, event: JobEvent) -> None:
        stream = self._streams.get(event.job_id)
        if stream is not None:
            stream.push_threadsafe(event)

    def _compile(self, request):
        return compile_job(self._jobs[request.job_id])

    # ------------------------------------------------------------------ Ray methods

    async def run(self, job: FarmJob):
        """Yield the job's events (its node's `JobQueued` left out) until it ends."""
        job_id = job.job_id
        stream = _EventStream(asyncio.get_running_loop())
        self._streams[job_id] = stream
        self._jobs[job_id] = job
        self._engine.submit(job.request)
        try:
            while True:
                event = await stream.next()
                if isinstance(event, JobQueued):
                    continue
                yield event
                if isinstance(event, TERMINAL):
                    return
        except asyncio.CancelledError:
            self._engine.cancel(job_id)  # Ray's cancel becomes the engine's cancel token
            raise
        finally:
            if stream.ended.is_set():
                self._forget(job_id)

    async def settle(self, job_id: str, cancel: bool = True) -> dict:
        """Wait until the engine is done with `job_id` (cancelling it first unless told not
        to); returns how it ended: {"status": "cancelled" | ..., "step": last step reported}."""
        stream = self._streams.get(job_id)
        if stream is None:
            return {"status": "unknown", "step": 0, "total": 0}
        if cancel:
            self._engine.cancel(job_id)
        await stream.ended.wait()
        self._forget(job_id)
        return dict(stream.outcome)

    def _forget(self, job_id: str) -> None:
        if self._streams.pop(job_id, None) is not None:
            self._done += 1
        self._jobs.pop(job_id, None)

    async def status(self) -> dict:
        """What `kinema farm status` shows for this slot."""
        running = self._engine.running_job
        stream = self._streams.get(running) if running else None
        job = self._jobs.get(running) if running else None
        return {
            "label": self._label,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "version": __version__,
            "python": platform.python_version(),
            "gpus": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
            "warm": self._engine.warm_backends,
            "running": None
            if job is None
            else {
                "job_id": running,
                "backend": job.request.backend,
                "shot": job.request.shot.get("name", ""),
                "step": stream.outcome["step"] if stream else 0,
                "total": (stream.outcome["total"] if stream else 0) or job.request.steps,
            },
            "waiting": len(self._engine.pending_jobs),
            "done": self._done,
        }

    async def ping(self) -> str:
        return __version__

    def shutdown(self) -> None:
        self._engine.shutdown()
