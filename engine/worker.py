"""`Engine`: one background thread that owns every backend and runs jobs in order.

The thread blocks on a condition variable until a job or shutdown arrives (no polling),
loads backends lazily and keeps them warm, and turns everything that happens into
events delivered through one callback. Nothing a job does can kill the thread: every
exception becomes a `JobFailed` with a sentence the user can act on, and the next job
runs as usual.

The callback is called on the engine thread; a GUI client must hand events over to its
own thread (the studio's bridge does) and must not block in it.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable

import numpy as np

from .backends import (
    Backend,
    CancelToken,
    Capabilities,
    Reporter,
    backend_names,
    check_request,
    create_backend,
)
from .errors import Cancelled, KinemaError
from .jobs import (
    GenerationRequest,
    JobCancelled,
    JobEvent,
    JobFailed,
    JobFinished,
    JobNotice,
    JobPreview,
    JobProgress,
    JobQueued,
    JobStarted,
)
from .threads import yield_to_foreground

log = logging.getLogger(__name__)

EventCallback = Callable[[JobEvent], None]
BackendFactory = Callable[[str], Backend]


def resolve_device(device: str) -> str:
    """'auto' becomes 'cuda' when torch sees a GPU, else 'cpu'; torch is imported lazily."""
    if device != "auto":
        return device
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def _is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError"


class Engine:
    """Runs generation jobs one at a time on a background thread.

    `submit` returns at once with the job id; `cancel` removes a queued job or interrupts
    the running one at its next step; `shutdown` cancels everything and joins the thread.
    """

    def __init__(
        self,
        callback: EventCallback,
        *,
        device: str = "auto",
        backend_factory: BackendFactory = create_backend,
        compile_controls: Callable | None = None,
        background: bool = False,
    ) -> None:
        """`background`: the jobs' thread yields its core to the process's other threads
        (`engine.threads.yield_to_foreground`), as the studio's GUI needs."""
        self._callback = callback
        self._background = background
        self._device = device
        self._backend_factory = backend_factory
        self._compile_controls = compile_controls
        self._backends: dict[str, Backend] = {}
        self._pending: deque[GenerationRequest] = deque()
        self._cond = threading.Condition()
        self._running: tuple[str, CancelToken] | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="kinema-engine", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ client side

    def submit(self, request: GenerationRequest) -> str:
        """Queue a job; its events start with `JobQueued`."""
        with self._cond:
            if self._stopping:
                raise RuntimeError("The engine has been shut down.")
            position = len(self._pending) + (1 if self._running else 0)
            self._pending.append(request)
            self._emit(JobQueued(request.job_id, position))
            self._cond.notify()
        return request.job_id

    def cancel(self, job_id: str | None = None) -> bool:
        """Cancel a queued job (removed at once) or the running one (stops at its next step).

        With no id, cancels the running job. Returns False if the job is unknown or done.
        """
        with self._cond:
            if self._running and (job_id is None or self._running[0] == job_id):
                self._running[1].set()
                return True
            for request in self._pending:
                if request.job_id == job_id:
                    self._pending.remove(request)
                    self._emit(JobCancelled(request.job_id))
                    return True
        return False

    def cancel_all(self) -> None:
        with self._cond:
            while self._pending:
                self._emit(JobCancelled(self._pending.popleft().job_id))
            if self._running:
                self._running[1].set()

    def shutdown(self, timeout: float | None = 10.0) -> bool:
        """Cancel everything and stop the thread; True once it has ended."""
        with self._cond:
            self._stopping = True
            self.cancel_all()
            self._cond.notify()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running_job(self) -> str | None:
        with self._cond:
            return self._running[0] if self._running else None

    @property
    def pending_jobs(self) -> list[str]:
        with self._cond:
            return [r.job_id for r in self._pending]

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def warm_backends(self) -> list[str]:
        """The backends loaded and kept warm, in the order they were first used."""
        with self._cond:
            return list(self._backends)

    def capabilities(self) -> dict[str, Capabilities]:
        """Every known backend's capabilities, without loading any weights."""
        caps = {}
        for name in backend_names():
            try:
                caps[name] = self._backend_factory(name).capabilities()
            except Exception:  # a backend whose module fails to import is just not offered
                log.exception("backend %s is unavailable", name)
        return caps

    # ------------------------------------------------------------------ engine thread

    def _emit(self, event: JobEvent) -> None:
        try:
            self._callback(event)
        except Exception:  # a broken client must not take the engine down
            log.exception("event callback failed for %s", type(event).__name__)

    def _loop(self) -> None:
        if self._background:
            yield_to_foreground()
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping and not self._pending:
                    return
                request = self._pending.popleft()
                token = CancelToken()
                self._running = (request.job_id, token)
            try:
                self._run_job(request, token)
            finally:
                with self._cond:
                    self._running = None

    def _backend(self, name: str) -> Backend:
        backend = self._backends.get(name)
        if backend is None:
            backend = self._backend_factory(name)
            # only model backends need torch to settle 'auto'; previs loads in microseconds
            needs_device = backend.capabilities().uses_device
            backend.load(resolve_device(self._device) if needs_device else "cpu")
            self._backends[name] = backend  # kept warm only once it loaded
        return backend

    def _run_job(self, request: GenerationRequest, token: CancelToken) -> None:
        job_id = request.job_id
        started = time.perf_counter()
        self._emit(JobStarted(job_id, request.backend, request.steps))
        try:
            request.validate()
            backend = self._backend(request.backend)
            caps = backend.capabilities()
            check_request(caps, request)
            token.raise_if_cancelled()
            controls = self._compile(request)
            token.raise_if_cancelled()
            report = Reporter(
                on_progress=lambda step, total, msg: self._emit(
                    JobProgress(job_id, step, total, msg, time.perf_counter() - started)
                ),
                on_preview=lambda frames, step, total, complete: self._emit(
                    JobPreview(job_id, _frozen_copy(frames), step, total, complete)
                ),
                on_notice=lambda msg, level: self._emit(JobNotice(job_id, msg, level)),
                cancel=token,
            )
            if getattr(controls, "last_keyframe", None) is not None and not caps.last_frame:
                report.notice(f"{caps.label} takes no last frame; it is ignored.")
            frames = backend.generate(request, controls, report, token)
            token.raise_if_cancelled()
            frames = _checked_frames(frames, request)
        except Cancelled:
            self._emit(JobCancelled(job_id))
            return
        except KinemaError as error:
            log.warning("job %s failed: %s", job_id, error)
            self._emit(JobFailed(job_id, str(error), error.kind, traceback.format_exc()))
            return
        except Exception as error:
            log.exception("job %s crashed", job_id)
            if _is_out_of_memory(error):
                message = (
                    "Ran out of memory while generating. Lower the resolution, "
                    "the number of frames or the steps, then try again."
                )
                kind = "memory"
            else:
                message = (
                    f"The {request.backend} backend failed unexpectedly "
                    f"({type(error).__name__}: {error}). The details are in the log."
                )
                kind = "internal"
            self._emit(JobFailed(job_id, message, kind, traceback.format_exc()))
            return
        elapsed = time.perf_counter() - started
        self._emit(JobFinished(job_id, frames, float(request.fps), elapsed, request))

    def _compile(self, request: GenerationRequest):
        if self._compile_controls is not None:
            return self._compile_controls(request)
        from .controls import compile_request  # imported here: keeps `engine.worker` light

        return compile_request(request)


def _frozen_copy(frames: np.ndarray) -> np.ndarray:
    """A private read-only copy: the backend may reuse its buffer for the next step."""
    out = np.array(frames, dtype=np.uint8, copy=True)
    out.flags.writeable = False
    return out


def _checked_frames(frames: np.ndarray, request: GenerationRequest) -> np.ndarray:
    frames = np.asarray(frames)
    expected = (request.frames, request.height, request.width, 3)
    if frames.dtype != np.uint8 or frames.shape != expected:
        raise RuntimeError(
            f"backend returned {frames.dtype} {frames.shape}, expected uint8 {expected}"
        )
    frames.flags.writeable = False
    return frames
