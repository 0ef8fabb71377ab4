"""`FarmClient`: the engine's face (`submit`, `cancel`, events through one callback) on a farm.

The client keeps the queue. One thread per render slot takes the next job when its slot is
free, sends it as a `FarmJob` (request plus keyframe bytes) to the slot's actor and relays
the events the actor streams back, in order; a job's `JobStarted` names the node. So a long
shot never holds up a short one behind it while another GPU sits idle, and a job waits on
the client, not on a node that may die.

- Slots: one per GPU of every live node, or `cpu_slots` per node without a GPU (the
  built-in model on its CPU). Each is a detached, named Ray actor pinned to its node, so a
  later client (the next `kinema render --farm`) finds it with its models still warm.
  Nodes that join while jobs wait are picked up every `refresh_s` seconds.
- Cancel: a queued job is dropped at once; a running one is cancelled through Ray
  (`ray.cancel` on its stream), which sets the slot engine's cancel token, and the client
  waits for the slot to settle before it says `cancelled`, so the slot is free again.
- A node that dies fails the job it was running with a sentence (kind "node-lost"); the
  same request can be submitted again and runs on a slot that is still there. Other jobs
  carry on.

Callbacks come from the client's threads, one at a time (never two at once), and must not
block, as with `Engine`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ..backends import backend_names, create_backend
from ..errors import KinemaError
from ..jobs import (
    NODE_LOST,
    GenerationRequest,
    JobCancelled,
    JobEvent,
    JobFailed,
    JobFinished,
    JobQueued,
    JobStarted,
)
from . import NAMESPACE, FarmError
from .job import pack

log = logging.getLogger(__name__)

EventCallback = Callable[[JobEvent], None]

#: stream objects a slot may have in flight before it waits for the client to read them
_BACKPRESSURE = 4


@dataclass(frozen=True)
class SlotPlan:
    """Where a render slot goes: a node, and a GPU of it or a CPU slot."""

    name: str  # the actor's name in the farm's namespace
    label: str  # what the queue panel shows: "gpu-box-2 GPU 0"
    node_id: str
    resources: dict = field(default_factory=dict, compare=False)  # num_gpus / num_cpus


def plan_slots(nodes: list[dict], pool: str = "default", cpu_slots: int = 1) -> list[SlotPlan]:
    """One slot per GPU of each live node; `cpu_slots` on a node with CPUs but no GPU."""
    alive = [n for n in nodes if n.get("Alive")]
    hosts = Counter(n.get("NodeManagerHostname") or n["NodeManagerAddress"] for n in alive)
    plans = []
    for node in alive:
        node_id = node["NodeID"]
        resources = node.get("Resources", {})
        host = node.get("NodeManagerHostname") or node["NodeManagerAddress"]
        where = host if hosts[host] == 1 else f"{host}/{node_id[:6]}"
        gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 0))
        if gpus:
            slots = [("GPU", i, {"num_gpus": 1, "num_cpus": 0}) for i in range(gpus)]
        else:
            slots = [("CPU", i, {"num_cpus": 1}) for i in range(min(cpu_slots, cpus))]
        for kind, index, needs in slots:
            name = f"kinema-{pool}-{node_id[:16]}-{kind.lower()}{index}"
            plans.append(SlotPlan(name, f"{where} {kind} {index}", node_id, needs))
    return plans


class _SlotLost(Exception):
    """The slot's actor or node is gone; its thread ends."""


@dataclass
class _Slot:
    plan: SlotPlan
    thread: threading.Thread | None = None
    actor: object = None
    ready: bool = False
    dead: bool = False
    job_id: str | None = None  # the job it runs now
    stream: object = None  # that job's ObjectRefGenerator


class FarmClient:
    """Runs generation jobs on a Ray farm's render slots; the interface of `Engine`.

    `address` is the head node ("HOST:PORT") or "auto". `backend_factory` (picklable) makes
    the backends on the nodes, as `Engine`'s does (tests pass fakes); `runtime_env` is
    Ray's, for a client whose code the nodes must be given.
    """

    def __init__(
        self,
        callback: EventCallback,
        address: str,
        *,
        pool: str = "default",
        device: str = "auto",
        cpu_slots: int = 1,
        backend_factory: Callable | None = None,
        runtime_env: dict | None = None,
        refresh_s: float = 5.0,
        start_timeout_s: float = 180.0,
        retry_start_s: float = 60.0,
    ) -> None:
        self.address = address
        self._callback = callback
        self._pool = pool
        self._device = device
        self._cpu_slots = cpu_slots
        self._backend_factory = backend_factory
        self._runtime_env = runtime_env
        self._refresh_s = refresh_s
        self._start_timeout_s = start_timeout_s
        self._retry_start_s = retry_start_s
        self._cond = threading.Condition()
        self._emit_lock = threading.Lock()
        self._pending: deque[GenerationRequest] = deque()
        self._slots: dict[str, _Slot] = {}
        self._cancel_wanted: set[str] = set()
        self._error: FarmError | None = None  # the farm could not be reached
        self._start_errors: dict[str, tuple[float, str, str]] = {}  # name -> (when, label, why)
        self._refresh_wanted = True
        self._stopping = False
        self._ray = None
        self._remote_slot = None
        self.outcomes: dict[str, dict] = {}  # job id -> how a cancelled job's slot stopped
        self._thread = threading.Thread(target=self._manage, name="kinema-farm", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ client side

    def submit(self, request: GenerationRequest) -> str:
        with self._cond:
            if self._stopping:
                raise RuntimeError("The farm client has been shut down.")
            running = sum(1 for s in self._slots.values() if s.job_id)
            self._emit(JobQueued(request.job_id, len(self._pending) + running))
            if self._error is not None:
                self._fail(request.job_id, self._error)
                return request.job_id
            self._pending.append(request)
            self._cond.notify_all()
        return request.job_id

    def cancel(self, job_id: str | None = None) -> bool:
        """Cancel a queued job (at once) or a running one (stops at its next step).

        With no id, cancels every running job. False if the job is unknown or done.
        """
        streams = []
        with self._cond:
            for request in self._pending:
                if request.job_id == job_id:
                    self._pending.remove(request)
                    self._emit(JobCancelled(job_id))
                    return True
            for slot in self._slots.values():
                if slot.job_id and (job_id is None or slot.job_id == job_id):
                    self._cancel_wanted.add(slot.job_id)
                    if slot.stream is not None:
                        streams.append(slot.stream)
        for stream in streams:
            self._ray.cancel(stream)
        return bool(streams) or (job_id in self._cancel_wanted)

    def cancel_all(self) -> None:
        with self._cond:
            while self._pending:
                self._emit(JobCancelled(self._pending.popleft().job_id))
        self.cancel(None)

    def shutdown(self, timeout: float | None = 10.0) -> bool:
        """Cancel everything and stop the client's threads; True once they ended. The render
        slots stay on the farm, warm, for the next client."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self.cancel_all()
        deadline = None if timeout is None else time.monotonic() + timeout
        threads = [self._thread, *(s.thread for s in list(self._slots.values()) if s.thread)]
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in threads)

    @property
    def running_jobs(self) -> list[str]:
        with self._cond:
            return [s.job_id for s in self._slots.values() if s.job_id]

    @property
    def running_job(self) -> str | None:
        running = self.running_jobs
        return running[0] if running else None

    @property
    def pending_jobs(self) -> list[str]:
        with self._cond:
            return [r.job_id for r in self._pending]

    @property
    def slots(self) -> dict[str, str]:
        """Ready slots: actor name -> label."""
        with self._cond:
            return {n: s.plan.label for n, s in self._slots.items() if s.ready and not s.dead}

    def wait_ready(self, count: int = 1, timeout: float = 120.0) -> int:
        """Block until `count` slots are ready; the number ready after `timeout` seconds.
        `FarmError` when the farm cannot be reached or none of its slots could start."""

        def ready() -> int:
            return sum(s.ready and not s.dead for s in self._slots.values())

        def hopeless() -> bool:
            return bool(self._start_errors) and all(s.dead for s in self._slots.values())

        with self._cond:
            self._cond.wait_for(
                lambda: self._error is not None or hopeless() or ready() >= count, timeout
            )
            if self._error is not None:
                raise self._error
            if hopeless():
                raise self._start_failure()
            return ready()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def capabilities(self):
        """The backends this installation offers (the nodes run the same Kinema)."""
        caps = {}
        for name in backend_names():
            try:
                caps[name] = create_backend(name).capabilities()
            except Exception:  # a backend whose module fails to import is just not offered
                log.exception("backend %s is unavailable", name)
        return caps

    # ------------------------------------------------------------------ events

    def _emit(self, event: JobEvent) -> None:
        with self._emit_lock:
            try:
                self._callback(event)
            except Exception:  # a broken client must not take the farm down
                log.exception("event callback failed for %s", type(event).__name__)

    def _fail(self, job_id: str, error: KinemaError) -> None:
        self._emit(JobFailed(job_id, str(error), error.kind, ""))

    # ------------------------------------------------------------------ manager thread

    def _manage(self) -> None:
        """Connect, then keep the slots in step with the farm's nodes until shut down."""
        from .cluster import connect
        from .node import RenderSlot

        try:
            self._ray = connect(self.address, self._runtime_env)
            self._remote_slot = self._ray.remote(RenderSlot)
        except FarmError as error:
            log.warning("farm unavailable: %s", error)
            with self._cond:
                self._error = error
                failed = list(self._pending)
                self._pending.clear()
                self._cond.notify_all()
            for request in failed:
                self._fail(request.job_id, error)
            return
        while True:
            with self._cond:
                self._cond.wait_for(
                    lambda: self._stopping or self._refresh_wanted,
                    self._refresh_s if self._pending else None,
                )
                if self._stopping:
                    return
                self._refresh_wanted = False
            try:
                self._refresh_slots()
            except self._ray.exceptions.RayError:
                log.exception("could not read the farm's nodes")

    def _refresh_slots(self) -> None:
        plans = plan_slots(self._ray.nodes(), self._pool, self._cpu_slots)
        now = time.monotonic()
        with self._cond:
            for plan in plans:
                slot = self._slots.get(plan.name)
                if slot is not None and not slot.dead:
                    continue
                failed_at = self._start_errors.get(plan.name, (-1e9,))[0]
                if now - failed_at < self._retry_start_s:
                    continue  # it could not start a moment ago: not again yet
                slot = _Slot(plan)
                slot.thread = threading.Thread(
                    target=self._serve, args=(slot,), name=f"kinema-farm {plan.label}", daemon=True
                )
                self._slots[plan.name] = slot
                slot.thread.start()
            if not any(not s.dead for s in self._slots.values()):
                if self._start_errors:
                    error = self._start_failure()
                else:
                    error = FarmError(
                        f"The farm at {self.address} has no machine to render on: no live node "
                        "offers a GPU or a CPU. Start one with 'kinema farm join' (or 'ray start "
                        "--address') and try again."
                    )
                failed = list(self._pending)
                self._pending.clear()
            else:
                failed = []
        for request in failed:
            self._fail(request.job_id, error)

    # ------------------------------------------------------------------ slot threads

    def _serve(self, slot: _Slot) -> None:
        ray = self._ray
        try:
            slot.actor = self._remote_slot.options(
                name=slot.plan.name,
                namespace=NAMESPACE,
                lifetime="detached",
                get_if_exists=True,
                max_restarts=0,
                scheduling_strategy=ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(
                    slot.plan.node_id, soft=False
                ),
                **slot.plan.resources,
            ).remote(slot.plan.label, self._device, self._backend_factory)
            ray.get(slot.actor.ping.remote(), timeout=self._start_timeout_s)
        except ray.exceptions.RayError as error:
            log.warning("render slot %s did not start: %s", slot.plan.label, error)
            with self._cond:
                self._start_errors[slot.plan.name] = (
                    time.monotonic(),
                    slot.plan.label,
                    _reason(error),
                )
            if slot.actor is not None:
                with contextlib.suppress(ray.exceptions.RayError):  # waiting for resources
                    ray.kill(slot.actor, no_restart=True)
            self._slot_gone(slot)
            return
        with self._cond:
            slot.ready = True
            self._start_errors.pop(slot.plan.name, None)
            self._cond.notify_all()
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopping or self._pending)
                if self._stopping:
                    return
                request = self._pending.popleft()
                slot.job_id = request.job_id
            try:
                self._run_on(slot, request)
            except _SlotLost:
                self._slot_gone(slot)
                return
            finally:
                with self._cond:
                    slot.job_id = slot.stream = None
                    self._cancel_wanted.discard(request.job_id)

    def _start_failure(self) -> FarmError:
        """Why no slot could start, node by node (call with the lock held)."""
        reasons = "; ".join(f"{label} ({why})" for _, label, why in self._start_errors.values())
        return FarmError(
            f"No render slot of the farm at {self.address} could start: {reasons}. Every node "
            "needs the same Kinema as this machine, with its farm extra (pip install "
            "'kinema[farm]')."
        )

    def _slot_gone(self, slot: _Slot) -> None:
        with self._cond:
            slot.dead = True
            slot.ready = False
            self._refresh_wanted = True
            self._cond.notify_all()

    def _run_on(self, slot: _Slot, request: GenerationRequest) -> None:
        ray = self._ray
        job_id = request.job_id
        try:
            job = pack(request)
        except KinemaError as error:
            self._fail(job_id, error)
            return
        stream = slot.actor.run.options(_generator_backpressure_num_objects=_BACKPRESSURE).remote(
            job
        )
        with self._cond:
            slot.stream = stream
            cancelled = job_id in self._cancel_wanted
        if cancelled:
            ray.cancel(stream)
        try:
            for ref in stream:
                event = ray.get(ref)
                if isinstance(event, JobStarted):
                    event = dataclasses.replace(event, node=slot.plan.label)
                elif isinstance(event, JobFinished):
                    event = dataclasses.replace(event, request=request)  # with its project folder
                self._emit(event)
                if isinstance(event, (JobFinished, JobCancelled, JobFailed)):
                    return
            raise RuntimeError("the render slot's stream ended before the job did")
        except ray.exceptions.TaskCancelledError:
            self._settle_cancelled(slot, job_id)
        except (
            ray.exceptions.RayActorError,
            ray.exceptions.NodeDiedError,
            ray.exceptions.ObjectLostError,
            ray.exceptions.WorkerCrashedError,
        ) as error:
            log.warning("render slot %s lost job %s: %s", slot.plan.label, job_id, error)
            message = (
                f"The render node {slot.plan.label} stopped while making this shot: its machine "
                "went away, or Ray lost it. Nothing else was affected; generate the shot again "
                "to run it on another node."
            )
            self._emit(JobFailed(job_id, message, NODE_LOST, traceback.format_exc()))
            raise _SlotLost() from error
        except (ray.exceptions.RayError, RuntimeError) as error:
            log.exception("job %s failed on the farm", job_id)
            message = (
                f"The farm could not run this shot on {slot.plan.label} "
                f"({_reason(error)}). The details are in the log."
            )
            self._emit(JobFailed(job_id, message, "farm", traceback.format_exc()))

    def _settle_cancelled(self, slot: _Slot, job_id: str) -> None:
        """Ray cancelled the stream: wait until the slot's engine stopped the job."""
        ray = self._ray
        try:
            outcome = ray.get(slot.actor.settle.remote(job_id), timeout=self._start_timeout_s)
        except ray.exceptions.RayError as error:
            log.warning("render slot %s did not settle %s: %s", slot.plan.label, job_id, error)
            outcome = {"status": "lost"}
        self.outcomes[job_id] = outcome
        self._emit(JobCancelled(job_id))
        if outcome.get("status") == "lost":
            raise _SlotLost()


def _reason(error: BaseException) -> str:
    """What a Ray error says happened, in one line: its node died, or the exception inside
    (Ray puts that after its tracebacks), or its last line."""
    text = str(error)
    if "its node has died" in text or "node died" in text.lower():
        return "its node died"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        name = line.split(":", 1)[0]
        if ":" in line and name.isidentifier() and name.endswith(("Error", "Exception")):
            return line
    return lines[-1] if lines else type(error).__name__
