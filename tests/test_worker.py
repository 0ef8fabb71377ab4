"""The engine thread without Qt: a fake backend, events collected in a list."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from engine.backends import Capabilities
from engine.errors import InvalidRequest, ModelLoadError
from engine.jobs import (
    GenerationRequest,
    JobCancelled,
    JobFailed,
    JobFinished,
    JobPreview,
    JobProgress,
    JobQueued,
    JobStarted,
)
from engine.worker import Engine


class FakeBackend:
    """Steps through `request.steps`, previewing each; can block, fail or count decodes."""

    name = "fake"

    def __init__(self, *, fail_with: Exception | None = None, load_error=None):
        self.fail_with = fail_with
        self.load_error = load_error
        self.loads = 0
        self.decodes = 0
        self.step_gate: threading.Event | None = None
        self.at_step = threading.Event()

    def capabilities(self) -> Capabilities:
        return Capabilities(name="fake", label="Fake", description="test", max_frames=16)

    def load(self, device: str) -> None:
        self.loads += 1
        if self.load_error:
            raise self.load_error

    def generate(self, request, controls, report, cancel):
        frames = np.zeros((request.frames, request.height, request.width, 3), np.uint8)
        for step in range(request.steps):
            self.at_step.set()
            if self.step_gate is not None:
                self.step_gate.wait(5)
            if self.fail_with is not None and step == 1:
                raise self.fail_with
            frames[:] = step
            report.progress(step + 1, request.steps)
            report.preview(frames, step + 1, request.steps)
        cancel.raise_if_cancelled()
        self.decodes += 1
        return frames


class Collector:
    def __init__(self):
        self.events = []
        self.lock = threading.Lock()

    def __call__(self, event):
        with self.lock:
            self.events.append(event)

    def for_job(self, job_id):
        with self.lock:
            return [e for e in self.events if e.job_id == job_id]

    def wait_for(self, job_id, kinds, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.for_job(job_id):
                if isinstance(event, kinds):
                    return event
            time.sleep(0.005)
        raise AssertionError(f"no {kinds} for {job_id}: {self.for_job(job_id)}")


def request(**overrides) -> GenerationRequest:
    args = dict(shot={"prompt": "a red ball"}, width=32, height=16, frames=4, steps=3)
    args.update(overrides)
    return GenerationRequest(**args)


@pytest.fixture
def setup():
    backends = {"fake": FakeBackend()}
    events = Collector()
    engine = Engine(
        events,
        backend_factory=lambda name: (
            backends[name]
            if name in backends
            else (_ for _ in ()).throw(InvalidRequest(f"Unknown backend '{name}'."))
        ),
        compile_controls=lambda req: None,
    )
    yield engine, events, backends
    assert engine.shutdown(timeout=5), "engine thread did not stop"


def test_events_arrive_in_order_and_frames_are_final(setup):
    engine, events, _ = setup
    job = engine.submit(request(backend="fake"))
    done = events.wait_for(job, JobFinished)
    kinds = [type(e) for e in events.for_job(job)]
    assert kinds[0] is JobQueued and kinds[1] is JobStarted and kinds[-1] is JobFinished
    assert kinds.count(JobProgress) == 3 and kinds.count(JobPreview) == 3
    previews = [e for e in events.for_job(job) if isinstance(e, JobPreview)]
    # each preview is its own snapshot, not the backend's reused buffer
    assert [int(p.frames[0, 0, 0, 0]) for p in previews] == [0, 1, 2]
    assert done.frames.shape == (4, 16, 32, 3) and done.request.job_id == job


def test_backend_is_loaded_once_and_kept_warm(setup):
    engine, events, backends = setup
    for _ in range(3):
        events.wait_for(engine.submit(request(backend="fake")), JobFinished)
    assert backends["fake"].loads == 1


def test_cancel_running_job_stops_within_one_step_without_decode(setup):
    engine, events, backends = setup
    fake = backends["fake"]
    fake.step_gate = threading.Event()
    job = engine.submit(request(backend="fake", steps=50))
    assert fake.at_step.wait(5)
    engine.cancel(job)
    fake.step_gate.set()
    events.wait_for(job, JobCancelled)
    progress = [e for e in events.for_job(job) if isinstance(e, JobProgress)]
    assert len(progress) <= 1
    assert fake.decodes == 0
    assert not any(isinstance(e, (JobFinished, JobFailed)) for e in events.for_job(job))
    # the engine is ready for the next job
    fake.step_gate = None
    events.wait_for(engine.submit(request(backend="fake")), JobFinished)


def test_cancel_queued_job_removes_it(setup):
    engine, events, backends = setup
    fake = backends["fake"]
    fake.step_gate = threading.Event()
    first = engine.submit(request(backend="fake"))
    second = engine.submit(request(backend="fake"))
    assert engine.pending_jobs == [second] or fake.at_step.wait(5)
    assert engine.cancel(second)
    fake.step_gate.set()
    events.wait_for(first, JobFinished)
    events.wait_for(second, JobCancelled)
    assert not any(isinstance(e, JobStarted) for e in events.for_job(second))


def test_exception_becomes_failed_event_and_next_job_runs(setup):
    engine, events, backends = setup
    backends["fake"].fail_with = ValueError("boom")
    failed = events.wait_for(engine.submit(request(backend="fake")), JobFailed)
    assert failed.kind == "internal" and "boom" in failed.message and "Traceback" in failed.detail
    backends["fake"].fail_with = None
    events.wait_for(engine.submit(request(backend="fake")), JobFinished)
    assert engine.is_alive()


def test_out_of_memory_names_the_setting_to_lower(setup):
    engine, events, backends = setup
    backends["fake"].fail_with = MemoryError()
    failed = events.wait_for(engine.submit(request(backend="fake")), JobFailed)
    assert failed.kind == "memory" and "resolution" in failed.message


def test_invalid_requests_fail_with_a_sentence(setup):
    engine, events, _ = setup
    bad_size = events.wait_for(engine.submit(request(backend="fake", width=8)), JobFailed)
    assert "between 16 and 4096" in bad_size.message
    too_long = events.wait_for(engine.submit(request(backend="fake", frames=99)), JobFailed)
    assert "at most 16 frames" in too_long.message
    unknown = events.wait_for(engine.submit(request(backend="nope")), JobFailed)
    assert "Unknown backend" in unknown.message


def test_a_backend_that_fails_to_load_is_retried_next_time(setup):
    engine, events, backends = setup
    backends["broken"] = FakeBackend(load_error=ModelLoadError("Weights missing."))
    failed = events.wait_for(engine.submit(request(backend="broken")), JobFailed)
    assert failed.kind == "model" and failed.message == "Weights missing."
    backends["broken"].load_error = None
    events.wait_for(engine.submit(request(backend="broken")), JobFinished)
    assert backends["broken"].loads == 2


def test_a_raising_callback_does_not_kill_the_engine():
    calls = []

    def callback(event):
        calls.append(event)
        raise RuntimeError("client bug")

    engine = Engine(
        callback, backend_factory=lambda n: FakeBackend(), compile_controls=lambda r: None
    )
    engine.submit(request(backend="fake"))
    deadline = time.monotonic() + 5
    while not any(isinstance(e, JobFinished) for e in calls) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert any(isinstance(e, JobFinished) for e in calls)
    assert engine.shutdown(timeout=5)


def test_shutdown_with_a_running_job_does_not_deadlock():
    events = Collector()
    fake = FakeBackend()
    fake.step_gate = threading.Event()
    engine = Engine(events, backend_factory=lambda n: fake, compile_controls=lambda r: None)
    job = engine.submit(request(backend="fake", steps=100))
    queued = engine.submit(request(backend="fake"))
    assert fake.at_step.wait(5)
    fake.step_gate.set()
    assert engine.shutdown(timeout=5)
    assert isinstance(events.for_job(job)[-1], JobCancelled)
    assert isinstance(events.for_job(queued)[-1], JobCancelled)
    with pytest.raises(RuntimeError):
        engine.submit(request(backend="fake"))


def test_requests_and_events_pickle():
    req = request()
    assert pickle.loads(pickle.dumps(req)) == req
    assert GenerationRequest.from_dict(req.to_dict()) == req
    preview = JobPreview(req.job_id, np.zeros((2, 4, 4, 3), np.uint8), 1, 2)
    assert pickle.loads(pickle.dumps(preview)).frames.shape == (2, 4, 4, 3)
    assert req.rerun().job_id != req.job_id and req.rerun().shot == req.shot


def test_engine_imports_with_pyside6_blocked():
    """The engine never learns that a GUI exists (DESIGN.md: studio -> engine only)."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('PySide6', 'pyqtgraph', 'studio'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import pkgutil, importlib, engine\n"
        "for m in pkgutil.walk_packages(engine.__path__, 'engine.'):\n"
        "    importlib.import_module(m.name)\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
