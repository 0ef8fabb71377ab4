"""The render farm on a Ray cluster made here: two nodes with a fake GPU each, loopback only.

One cluster serves the whole module (starting one takes a while); each test has its own
`FarmClient`, and the render slots stay warm on the cluster between tests, as they do on a
real farm. The node-death test runs last: it takes the second node away.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")

from engine.farm.client import FarmClient  # noqa: E402
from engine.farm.cluster import LocalFarm, connect, farm_status, format_status  # noqa: E402
from engine.jobs import (  # noqa: E402
    NODE_LOST,
    GenerationRequest,
    JobCancelled,
    JobFailed,
    JobFinished,
    JobPreview,
    JobProgress,
    JobQueued,
    JobStarted,
)
from engine.project import Project, Shot  # noqa: E402
from engine.render import generate_blocking, request_for_shot  # noqa: E402

pytestmark = pytest.mark.slow

TREE = Path(__file__).resolve().parents[1]
SAMPLE = TREE / "assets" / "samples" / "Meadow.kinema"
# the nodes import this tree's engine and the fakes beside this file
RUNTIME_ENV = {"env_vars": {"PYTHONPATH": os.pathsep.join([str(TREE), str(TREE / "tests")])}}
TERMINAL = (JobFinished, JobCancelled, JobFailed)


class Collector:
    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def __call__(self, event):
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def of(self, job_id, kind=object):
        with self.cond:
            return [e for e in self.events if e.job_id == job_id and isinstance(e, kind)]

    def wait(self, predicate, timeout=120.0):
        with self.cond:
            assert self.cond.wait_for(lambda: predicate(self), timeout), "timed out waiting"

    def ended(self, *job_ids):
        return all(self.of(j, TERMINAL) for j in job_ids)


@pytest.fixture(scope="module")
def farm():
    started = time.perf_counter()
    with LocalFarm(nodes=2, cpus=1, gpus=1) as local:
        connect(local.address, runtime_env=RUNTIME_ENV)
        print(f"\nlocal farm up in {time.perf_counter() - started:.1f} s")
        yield local


@pytest.fixture
def client(farm):
    events = Collector()
    farm_client = FarmClient(events, farm.address, pool="test", backend_factory=_factory())
    farm_client.events = events
    farm_client.wait_ready(2)
    yield farm_client
    assert farm_client.shutdown(30)


def _factory():
    from farm_fakes import backends  # beside this file; the nodes find it on PYTHONPATH

    return backends


@pytest.fixture
def meadow(tmp_path):
    """The sample project at 128x72 with its two shots twice over: four shots, one keyframe."""
    folder = tmp_path / "Meadow.kinema"
    shutil.copytree(SAMPLE, folder)
    project = Project.load(folder)
    project.width, project.height = 128, 72
    for shot in list(project.shots):
        twin = Shot.from_dict({**shot.to_dict(), "id": shot.id + "b", "takes": []}, field="shot")
        twin.seed += 1
        project.shots.append(twin)
    project.save()
    return project


def _slow(seconds_per_step: float, steps: int) -> GenerationRequest:
    return GenerationRequest(
        shot=Shot(name="slow").to_dict(),
        width=16,
        height=16,
        frames=2,
        backend="slow",
        steps=steps,
        guidance=seconds_per_step,
    )


def test_a_sequence_renders_across_both_nodes_like_a_local_render(client, meadow):
    events = client.events
    requests = [request_for_shot(meadow, shot) for shot in meadow.shots]
    assert len(requests) == 4 and all(r.shot["keyframe"] for r in requests)
    for request in requests:
        client.submit(request)
    events.wait(lambda e: e.ended(*(r.job_id for r in requests)))

    nodes = set()
    for request in requests:
        kinds = [type(e) for e in events.of(request.job_id)]
        assert kinds[0] is JobQueued and kinds[1] is JobStarted and kinds[-1] is JobFinished
        started = events.of(request.job_id, JobStarted)[0]
        nodes.add(started.node)
        steps = [e.step for e in events.of(request.job_id, JobPreview)]
        assert steps and steps == sorted(set(steps)), steps  # in order, none twice
        assert events.of(request.job_id, JobPreview)[-1].complete
        progress = [e.step for e in events.of(request.job_id, JobProgress)]
        assert progress == sorted(progress)
    assert len(nodes) == 2, nodes  # both nodes rendered

    local = generate_blocking(requests, device="cpu")
    for request, frames in zip(requests, local):
        finished = events.of(request.job_id, JobFinished)[0]
        assert finished.request == request  # the client's request, project folder and all
        assert finished.frames.shape == (request.frames, 72, 128, 3)
        np.testing.assert_array_equal(finished.frames, frames)


def test_the_builtin_model_makes_the_same_frames_on_the_farm(client):
    request = GenerationRequest(
        shot=Shot(name="ball", prompt="a red ball bounces on grass", duration=6).to_dict(),
        width=64,
        height=64,
        frames=6,
        fps=12.0,
        backend="builtin",
        steps=2,
        guidance=3.0,
        seed=5,
        device="cpu",
    )
    client.submit(request)
    client.events.wait(lambda e: e.ended(request.job_id), timeout=300)
    finished = client.events.of(request.job_id, JobFinished)
    assert finished, client.events.of(request.job_id, JobFailed)
    (local,) = generate_blocking([request], device="cpu")
    np.testing.assert_array_equal(finished[0].frames, local)


def test_cancel_of_a_running_job_stops_it_within_one_step(client):
    events = client.events
    request = _slow(0.2, 40)
    client.submit(request)
    events.wait(lambda e: any(p.step >= 3 for p in e.of(request.job_id, JobProgress)))
    seen = max(p.step for p in events.of(request.job_id, JobProgress))
    asked = time.perf_counter()
    assert client.cancel(request.job_id)
    events.wait(lambda e: e.ended(request.job_id), timeout=30)
    latency = time.perf_counter() - asked
    assert events.of(request.job_id, JobCancelled), events.of(request.job_id)
    outcome = client.outcomes[request.job_id]
    assert outcome["status"] == "cancelled"
    assert outcome["step"] <= seen + 1, (outcome, seen)  # at most the step under way
    assert latency < 5.0

    # the slot is free again: the next job runs
    after = _slow(0.0, 2)
    client.submit(after)
    events.wait(lambda e: e.ended(after.job_id), timeout=60)
    assert events.of(after.job_id, JobFinished)


def test_cancel_of_a_queued_job_is_immediate(client):
    events = client.events
    blockers = [_slow(0.1, 20), _slow(0.1, 20)]
    queued = _slow(0.0, 2)
    for request in [*blockers, queued]:
        client.submit(request)
    assert client.cancel(queued.job_id)
    assert events.of(queued.job_id, JobCancelled)
    client.cancel_all()
    events.wait(lambda e: e.ended(*(r.job_id for r in blockers)), timeout=30)


def test_status_lists_both_nodes_and_the_warm_slots(client, farm):
    warm_up = _slow(0.0, 1)
    client.submit(warm_up)
    client.events.wait(lambda e: e.ended(warm_up.job_id), timeout=60)
    status = farm_status(farm.address)
    assert sum(n["alive"] for n in status["nodes"]) == 2
    assert all(n["gpus"] == 1 for n in status["nodes"])
    labels = {s["label"] for s in status["slots"]}
    assert labels == set(client.slots.values())
    assert any("slow" in s["warm"] for s in status["slots"])
    text = format_status(status)
    assert "2 alive of 2" in text and "render slots: 2" in text


def test_every_ray_process_listens_on_loopback_only(farm):
    psutil = pytest.importorskip("psutil")
    me = psutil.Process()
    pids = {p.pid for p in me.children(recursive=True)}
    listening = [
        c
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.pid in pids
    ]
    assert listening
    exposed = [
        c.laddr for c in listening if not c.laddr.ip.removeprefix("::ffff:").startswith("127.")
    ]
    assert not exposed, exposed
    assert os.environ["RAY_AUTH_MODE"] == "token"


def test_z_a_node_that_dies_fails_its_job_and_the_rest_finish(client, farm):
    """Runs last in this module: the second node does not come back."""
    events = client.events
    doomed_node = farm.node_ids[1]
    first, second = _slow(0.15, 30), _slow(0.15, 30)
    client.submit(first)
    client.submit(second)
    events.wait(lambda e: all(e.of(r.job_id, JobProgress) for r in (first, second)))
    on_doomed = [
        r for r in (first, second) if doomed_node[:6] in events.of(r.job_id, JobStarted)[0].node
    ]
    assert len(on_doomed) == 1
    (doomed,) = on_doomed
    survivor = second if doomed is first else first
    later = [_slow(0.0, 3), _slow(0.0, 3)]
    for request in later:
        client.submit(request)

    farm.kill_node(1)
    events.wait(lambda e: e.ended(doomed.job_id, survivor.job_id, *(r.job_id for r in later)))
    (failed,) = events.of(doomed.job_id, JobFailed)
    assert failed.kind == NODE_LOST
    assert "stopped while making this shot" in failed.message
    assert failed.message.endswith(".")
    assert events.of(survivor.job_id, JobFinished)
    assert all(events.of(r.job_id, JobFinished) for r in later)

    # the failed job can be retried: it runs on the node that is left
    retry = dataclasses.replace(doomed.rerun(), steps=2)
    client.submit(retry)
    events.wait(lambda e: e.ended(retry.job_id), timeout=60)
    assert events.of(retry.job_id, JobFinished)
    assert len(client.slots) == 1


def test_zz_a_farm_whose_nodes_lack_the_code_says_so(farm, tmp_path, monkeypatch):
    """A node that cannot import what the client sends fails the job with a sentence, fast.
    The client's backend factory lives in a module only this process can import."""
    from engine.farm import FarmError
    from engine.farm.cluster import stop_slots

    (tmp_path / "client_only_backends.py").write_text(
        "from engine.backends import create_backend\n\n\n"
        "def backends(name):\n"
        "    return create_backend(name)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from client_only_backends import backends

    stop_slots(farm.address)  # the GPU of the node that is left is free again
    events = Collector()
    broken = FarmClient(events, farm.address, pool="broken", backend_factory=backends)
    try:
        request = _slow(0.0, 1)
        broken.submit(request)
        events.wait(lambda e: e.ended(request.job_id), timeout=90)
        (failed,) = events.of(request.job_id, JobFailed)
        assert "could start" in failed.message
        assert "No module named 'client_only_backends'" in failed.message
        with pytest.raises(FarmError, match="could start"):
            broken.wait_ready(1, timeout=30)
    finally:
        assert broken.shutdown(30)
