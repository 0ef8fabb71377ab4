"""The engine bridge: events become signals on the GUI thread, previews coalesce."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QThread

from engine.backends import Capabilities
from engine.errors import InvalidRequest
from engine.jobs import GenerationRequest
from engine.worker import Engine
from studio.engine_bridge import EngineBridge


class ChattyBackend:
    """Previews at every one of `request.steps` steps, as fast as it can."""

    name = "chatty"

    def __init__(self) -> None:
        self.gate: threading.Event | None = None
        self.fail = False

    def capabilities(self) -> Capabilities:
        return Capabilities(name="chatty", label="Chatty", description="test", uses_steps=True)

    def load(self, device: str) -> None:
        pass

    def generate(self, request, controls, report, cancel):
        frames = np.zeros((request.frames, request.height, request.width, 3), np.uint8)
        for step in range(request.steps):
            if self.gate is not None:
                self.gate.wait(5)
            if self.fail:
                raise InvalidRequest("Chatty cannot do that: lower the steps.")
            frames[:] = step % 256
            report.progress(step + 1, request.steps)
            report.preview(frames, step + 1, request.steps, complete=step + 1 == request.steps)
        return frames


@pytest.fixture
def backend():
    return ChattyBackend()


@pytest.fixture
def bridge(qtbot, backend):
    bridge = EngineBridge(
        engine_factory=lambda callback: Engine(
            callback,
            device="cpu",
            backend_factory=lambda name: backend,
            compile_controls=lambda request: None,
        )
    )
    yield bridge
    bridge.shutdown()


def request(steps=400, **kw) -> GenerationRequest:
    return GenerationRequest(
        shot={}, width=16, height=16, frames=2, backend="chatty", steps=steps, **kw
    )


def record(bridge):
    events = []
    threads = set()
    for name in (
        "job_queued",
        "job_started",
        "job_progress",
        "preview_ready",
        "job_finished",
        "job_cancelled",
        "job_failed",
    ):
        getattr(bridge, name).connect(
            lambda *args, n=name: (events.append((n, args)), threads.add(QThread.currentThread()))
        )
    return events, threads


def test_previews_coalesce_and_arrive_on_the_gui_thread(qtbot, bridge):
    events, threads = record(bridge)
    with qtbot.waitSignal(bridge.job_finished, timeout=10_000):
        job = bridge.submit(request(steps=400))
    names = [n for n, _ in events]
    previews = [args for n, args in events if n == "preview_ready"]
    assert threads == {QThread.currentThread()}  # all on the GUI thread
    assert names[0] == "job_queued" and names[1] == "job_started" and names[-1] == "job_finished"
    assert 0 < len(previews) < 400  # coalesced: never one signal per engine preview
    assert previews[-1][2] == 400 and previews[-1][4] is True  # the newest one always arrives
    steps = [args[2] for args in previews]
    assert steps == sorted(steps)
    assert all(args[0] == job for _, args in events)
    assert names.index("job_finished") > max(i for i, n in enumerate(names) if n == "preview_ready")


def test_submit_and_cancel_never_wait_on_a_busy_engine(qtbot, bridge, backend):
    events, _ = record(bridge)
    backend.gate = threading.Event()
    first = bridge.submit(request(steps=3))
    qtbot.waitUntil(lambda: bridge.running_job == first)
    started = time.perf_counter()
    second = bridge.submit(request(steps=3))
    cancelled = bridge.cancel(first)
    assert time.perf_counter() - started < 0.05
    assert cancelled and bridge.pending_jobs == [second]
    backend.gate.set()
    qtbot.waitUntil(lambda: ("job_finished",) == tuple(n for n, _ in events[-1:]), timeout=5000)
    ends = [(n, args[0]) for n, args in events if n in ("job_cancelled", "job_finished")]
    assert ends == [("job_cancelled", first), ("job_finished", second)]


def test_a_failure_carries_the_users_sentence(qtbot, bridge, backend):
    backend.fail = True
    with qtbot.waitSignal(bridge.job_failed, timeout=5000) as blocker:
        job = bridge.submit(request(steps=3))
    assert blocker.args == [job, "Chatty cannot do that: lower the steps.", "request"]


def test_forgotten_jobs_are_dropped(qtbot, bridge, backend):
    events, _ = record(bridge)
    backend.gate = threading.Event()
    job = bridge.submit(request(steps=2))
    bridge.forget(job)
    backend.gate.set()
    other = bridge.submit(request(steps=2))
    qtbot.waitUntil(lambda: "job_finished" in [n for n, _ in events], timeout=5000)
    assert {args[0] for _, args in events} == {other}


def test_capabilities_come_from_the_engine(bridge):
    caps = bridge.capabilities()  # every registered backend name, as the factory describes it
    assert list(caps) == ["previs"] or "previs" in caps
    assert caps["previs"].label == "Chatty"  # read from the engine's backend, not hard-coded


def test_shutdown_stops_the_engine_thread(qtbot, backend):
    bridge = EngineBridge(
        engine_factory=lambda callback: Engine(
            callback,
            device="cpu",
            backend_factory=lambda name: backend,
            compile_controls=lambda r: None,
        )
    )
    backend.gate = threading.Event()
    bridge.submit(request(steps=50))
    qtbot.waitUntil(lambda: bridge.running_job is not None)
    backend.gate.set()
    assert bridge.shutdown(timeout=5)
    assert not any(t.name == "kinema-engine" and t.is_alive() for t in threading.enumerate())
