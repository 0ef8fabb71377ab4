"""The farm's parts that need no Ray cluster: packing a job with its keyframe bytes, the
render slot's event stream and cancel (its actor class driven by asyncio directly), where
slots go, addresses, and `kinema render` with variations, takes and retries. Fast; the
cluster tests are in test_farm.py (marked slow)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from farm_fakes import backends

from engine.cli import main
from engine.controls import compile_request
from engine.errors import MediaError
from engine.farm import FarmError
from engine.farm.client import plan_slots
from engine.farm.cluster import is_loopback, split_address
from engine.farm.job import compile_job, pack
from engine.farm.node import RenderSlot, _EventStream
from engine.jobs import (
    NODE_LOST,
    GenerationRequest,
    JobFailed,
    JobFinished,
    JobPreview,
    JobProgress,
    JobQueued,
    JobStarted,
)
from engine.project import Project, Shot
from engine.render import generate_blocking, request_for_shot
from engine.worker import Engine

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "assets" / "samples" / "Meadow.kinema"


@pytest.fixture
def meadow(tmp_path) -> Project:
    folder = tmp_path / "Meadow.kinema"
    shutil.copytree(SAMPLE, folder)
    project = Project.load(folder)
    project.width, project.height = 96, 54
    project.save()
    return Project.load(folder)


# ------------------------------------------------------------------ the job


def test_a_job_carries_the_keyframe_bytes_and_no_path(meadow, tmp_path):
    request = request_for_shot(meadow, meadow.shots[0])
    job = pack(request)
    assert job.request.project_dir is None
    assert job.request.job_id == request.job_id
    assert job.keyframe == (meadow.folder / meadow.shots[0].keyframe).read_bytes()
    # the project folder can go: the job has all it needs
    shutil.move(meadow.folder, tmp_path / "gone")
    remote = compile_job(job)
    shutil.move(tmp_path / "gone", meadow.folder)
    local = compile_request(request)
    np.testing.assert_array_equal(remote.keyframe, local.keyframe)
    np.testing.assert_array_equal(remote.homographies, local.homographies)


def test_a_job_without_a_keyframe_carries_nothing_more():
    request = GenerationRequest(shot=Shot().to_dict(), backend="previs")
    job = pack(request)
    assert job.keyframe is None and job.size == 0


def test_a_missing_keyframe_is_a_sentence(meadow):
    request = request_for_shot(meadow, meadow.shots[0])
    (meadow.folder / meadow.shots[0].keyframe).unlink()
    with pytest.raises(MediaError, match="Could not send the keyframe 'media/meadow.png'"):
        pack(request)


# ------------------------------------------------------------------ the render slot


def _drive(slot: RenderSlot, job, cancel_after_step: int | None = None):
    """Run the slot's `run` generator on an event loop as Ray would; maybe cancel it."""

    async def go():
        events, outcome = [], None

        async def consume():
            async for event in slot.run(job):
                events.append(event)
                if (
                    cancel_after_step is not None
                    and isinstance(event, JobProgress)
                    and event.step >= cancel_after_step
                ):
                    task.cancel()  # what ray.cancel does to an async actor's task

        task = asyncio.ensure_future(consume())
        try:
            await task
        except asyncio.CancelledError:
            outcome = await slot.settle(job.job_id)
        return events, outcome

    return asyncio.run(go())


def test_the_slot_streams_a_jobs_events_in_order_and_keeps_its_backend_warm():
    slot = RenderSlot("here CPU 0", device="cpu", backend_factory=backends)
    try:
        for _ in range(2):
            job = pack(
                GenerationRequest(
                    shot={}, width=16, height=16, frames=2, backend="slow", steps=5, guidance=0.0
                )
            )
            events, _ = _drive(slot, job)
            kinds = [type(e) for e in events]
            assert JobQueued not in kinds
            assert kinds[0] is JobStarted and kinds[-1] is JobFinished
            steps = [e.step for e in events if isinstance(e, JobPreview)]
            assert steps == sorted(set(steps)) and steps[-1] == 5
        status = asyncio.run(slot.status())
        assert status["warm"] == ["slow"] and status["done"] == 2 and status["running"] is None
    finally:
        slot.shutdown()


def test_cancelling_the_slots_task_cancels_the_job_within_one_step():
    slot = RenderSlot("here CPU 0", device="cpu", backend_factory=backends)
    try:
        job = pack(
            GenerationRequest(
                shot={}, width=16, height=16, frames=2, backend="slow", steps=50, guidance=0.05
            )
        )
        events, outcome = _drive(slot, job, cancel_after_step=3)
        assert outcome["status"] == "cancelled"
        assert outcome["step"] <= 4  # the step under way when the cancel came, at most
        assert not any(isinstance(e, JobFinished) for e in events)
    finally:
        slot.shutdown()


def test_the_event_stream_keeps_only_the_newest_unsent_preview():
    async def go():
        stream = _EventStream(asyncio.get_running_loop())
        frames = np.zeros((1, 2, 2, 3), np.uint8)
        for step in range(1, 4):
            stream._push(JobProgress("j", step, 3))
            stream._push(JobPreview("j", frames, step, 3))
        stream._push(JobFinished("j", frames, 24.0, 0.1, None))
        return [await stream.next() for _ in range(5)]

    events = asyncio.run(go())
    assert [type(e).__name__ for e in events] == [
        "JobProgress",
        "JobPreview",
        "JobProgress",
        "JobPreview",
        "JobProgress",
    ]


# ------------------------------------------------------------------ slots and addresses


def _node(node_id, host="box", cpus=8, gpus=0, alive=True):
    return {
        "NodeID": node_id,
        "Alive": alive,
        "NodeManagerHostname": host,
        "NodeManagerAddress": "10.0.0.1",
        "Resources": {"CPU": cpus, "GPU": gpus},
    }


def test_one_slot_per_gpu_or_per_cpu_slot_and_none_on_dead_or_empty_nodes():
    nodes = [
        _node("a" * 56, host="gpu-box", gpus=2),
        _node("b" * 56, host="cpu-box", cpus=16),
        _node("c" * 56, host="laptop", cpus=0),
        _node("d" * 56, host="gone", gpus=4, alive=False),
    ]
    plans = plan_slots(nodes, pool="p", cpu_slots=2)
    assert [p.label for p in plans] == [
        "gpu-box GPU 0",
        "gpu-box GPU 1",
        "cpu-box CPU 0",
        "cpu-box CPU 1",
    ]
    assert plans[0].resources == {"num_gpus": 1, "num_cpus": 0}
    assert plans[2].resources == {"num_cpus": 1}
    assert len({p.name for p in plans}) == 4 and all(p.name.startswith("kinema-p-") for p in plans)


def test_nodes_on_one_host_are_told_apart_by_their_id():
    plans = plan_slots([_node("1" * 56, gpus=1), _node("2" * 56, gpus=1)])
    assert [p.label for p in plans] == ["box/111111 GPU 0", "box/222222 GPU 0"]


def test_farm_addresses():
    assert split_address("10.0.0.5:6379") == ("10.0.0.5", 6379)
    assert split_address("[::1]:6379") == ("::1", 6379)
    assert split_address("auto") == ("auto", None)
    for bad in ("10.0.0.5", "host:port", ":6379", "host:0"):
        with pytest.raises(FarmError, match="is not a farm address"):
            split_address(bad)
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("192.168.1.4") and not is_loopback("gpu-box")


def test_the_engine_imports_no_ray_until_a_farm_is_used():
    code = (
        "import sys, engine.farm, engine.farm.client, engine.farm.node, engine.farm.cluster, "
        "engine.cli, engine.render; assert 'ray' not in sys.modules, 'ray imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_without_ray_the_farm_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails
    assert main(["farm", "status", "--farm", "127.0.0.1:6379"]) == 2
    assert "pip install 'kinema[farm]'" in capsys.readouterr().err


def test_render_refuses_a_bad_farm_address(capsys):
    assert main(["render", str(SAMPLE), "--farm", "nowhere", "-o", "x.mp4"]) == 2
    assert "is not a farm address" in capsys.readouterr().err


# ------------------------------------------------------------------ kinema render


def test_render_variations_write_one_file_each_and_keep_takes(meadow, tmp_path, capsys):
    out = tmp_path / "cut.mp4"
    code = main(
        [
            "render",
            str(meadow.folder),
            "--variations",
            "2",
            "--save-takes",
            "-o",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "cut_v1.mp4").is_file() and (tmp_path / "cut_v2.mp4").is_file()
    project = Project.load(meadow.folder)
    for shot, before in zip(project.shots, meadow.shots):
        assert [t.label for t in shot.takes] == ["Take 1", "Take 2"]
        assert [t.seed for t in shot.takes] == [before.seed, before.seed + 1]
        assert all((project.folder / t.folder).is_dir() for t in shot.takes)


def test_render_needs_somewhere_to_put_the_result(meadow, capsys):
    assert main(["render", str(meadow.folder)]) == 2
    assert "-o OUT.mp4" in capsys.readouterr().err


class _LosesTheFirstTry:
    """An engine that reports the first job it is given as lost with its node."""

    def __init__(self, callback):
        self.lost = False
        self.callback = callback
        self.engine = Engine(self._relay, device="cpu")

    def _relay(self, event):
        if isinstance(event, JobFinished) and not self.lost:
            self.lost = True
            event = JobFailed(event.job_id, "The render node b GPU 0 stopped.", NODE_LOST)
        self.callback(event)

    def submit(self, request):
        return self.engine.submit(request)

    def cancel_all(self):
        self.engine.cancel_all()

    def shutdown(self, timeout=10.0):
        return self.engine.shutdown(timeout)


def test_a_job_whose_node_died_is_sent_again(meadow):
    requests = [request_for_shot(meadow, shot) for shot in meadow.shots]
    notes = []
    clips = generate_blocking(
        requests, engine_factory=_LosesTheFirstTry, retries=1, on_notice=notes.append
    )
    assert [c.shape[0] for c in clips] == [r.frames for r in requests]
    assert any("Sending it to another node" in n for n in notes)
    with pytest.raises(Exception, match="stopped"):
        generate_blocking(requests[:1], engine_factory=_LosesTheFirstTry, retries=0)
