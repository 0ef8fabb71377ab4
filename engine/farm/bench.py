"""`kinema bench farm`: a sequence of shots on this machine's engine, then on 1 and 2 local
Ray nodes, side by side in one run.

Each farm is a `LocalFarm` (loopback, one CPU per node); its render slots are warmed with
one job first, so the figures are steady-state, as on a farm that keeps its models loaded.
The per-job overhead is what going through Ray adds to a job on one node: (farm time -
engine time) / shots, which covers sending the request and keyframe, streaming progress
and previews back and bringing the frames home through the object store. The speed-up of
two nodes over one is bounded by the cores this machine has: two nodes on a two-core
machine share the cores with everything else running on it.
"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import time
from pathlib import Path

SHOTS = 8
WORKLOADS = {
    # backend -> (width, height, steps): previs is all overhead, the built-in model computes
    "previs": (512, 288, 1),
    "builtin": (256, 144, 4),
}


def _sequence(folder: Path, backend: str, shots: int):
    """`shots` requests: the sample's shots in turn, each with its own seed."""
    from ..assets import SAMPLES
    from ..project import Project
    from ..render import request_for_shot

    project_folder = folder / "Bench.kinema"
    shutil.copytree(SAMPLES / "Meadow.kinema", project_folder)
    project = Project.load(project_folder)
    width, height, steps = WORKLOADS[backend]
    project.width, project.height = width, height
    requests = []
    for index in range(shots):
        shot = project.shots[index % len(project.shots)]
        requests.append(
            request_for_shot(
                project, shot, backend=backend, steps=steps, seed=shot.seed + index, device="cpu"
            )
        )
    return requests


def _run(make_engine, requests, slots: int = 1) -> dict:
    """One engine or farm: warm every slot, then the requests one at a time (the overhead:
    seconds from submit to finished, less the job's own time as its engine measured it),
    then all at once (the sequence's wall time)."""
    import statistics

    events: queue.Queue = queue.Queue()
    engine = make_engine(events.put)
    try:
        if hasattr(engine, "wait_ready"):
            engine.wait_ready(slots)
        warm = [r.rerun() for r in requests[:slots]]  # loads the backend on every slot
        for request in warm:
            engine.submit(request)
        _wait(events, {r.job_id for r in warm})
        overheads = []
        for request in requests[:4]:
            request = request.rerun()
            sent = time.perf_counter()
            engine.submit(request)
            (finished,) = _wait(events, {request.job_id})
            overheads.append(time.perf_counter() - sent - finished.elapsed_s)
        started = time.perf_counter()
        for request in requests:
            engine.submit(request)
        _wait(events, {r.job_id for r in requests})
        return {
            "sequence_s": time.perf_counter() - started,
            "overhead_ms": statistics.median(overheads) * 1e3,
        }
    finally:
        engine.shutdown(60)


def _wait(events: queue.Queue, job_ids: set[str]) -> list:
    """The `JobFinished` of each job, in the order they came."""
    from ..errors import KinemaError
    from ..jobs import JobCancelled, JobFailed, JobFinished

    left, finished = set(job_ids), []
    while left:
        event = events.get(timeout=600)
        if event.job_id not in left:
            continue
        if isinstance(event, (JobFailed, JobCancelled)):
            raise KinemaError(f"a benchmark job did not finish: {event}")
        if isinstance(event, JobFinished):
            finished.append(event)
            left.discard(event.job_id)
    return finished


def bench_farm(shots: int = SHOTS) -> dict:
    import ray  # noqa: F401  (`kinema bench all` skips this benchmark without it)

    from ..backends import create_backend
    from ..worker import Engine
    from .client import FarmClient
    from .cluster import LocalFarm, connect

    backends = [b for b in WORKLOADS if not create_backend(b).capabilities().unavailable]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    results: dict = {"shots": shots, "cores": os.cpu_count(), "load_before": load}
    with tempfile.TemporaryDirectory(prefix="kinema-bench-farm-") as tmp:
        sequences = {b: _sequence(Path(tmp) / b, b, shots) for b in backends}
        for backend, requests in sequences.items():
            results[backend] = {"engine": _run(lambda cb: Engine(cb, device="cpu"), requests)}
        for nodes in (1, 2):
            started = time.perf_counter()
            with LocalFarm(nodes=nodes, cpus=1) as farm:
                connect(farm.address)  # here, on the main thread, rather than in the client's
                up = time.perf_counter() - started
                for backend, requests in sequences.items():
                    results[backend][f"{nodes}_nodes"] = _run(
                        lambda cb, a=farm.address: FarmClient(cb, a, pool="bench", device="cpu"),
                        [r.rerun() for r in requests],
                        slots=nodes,
                    )
            results[f"start_{nodes}_nodes_s"] = up
    for backend in backends:
        r = results[backend]
        r["speedup"] = r["1_nodes"]["sequence_s"] / r["2_nodes"]["sequence_s"]
    results["load_after"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    _print(results, backends)
    return results


def _print(results: dict, backends: list[str]) -> None:
    print(
        f"farm: {results['shots']} shots, this machine's engine vs 1 and 2 local Ray nodes "
        f"(1 CPU each; {results['cores']} cores, load {results['load_before']:.1f} before, "
        f"{results['load_after']:.1f} after)"
    )
    for backend in backends:
        r = results[backend]
        width, height, steps = WORKLOADS[backend]
        engine, one, two = r["engine"], r["1_nodes"], r["2_nodes"]
        print(
            f"  {backend:>8s} {width}x{height}, {steps} step(s): sequence on the engine "
            f"{engine['sequence_s']:6.2f} s, 1 node {one['sequence_s']:6.2f} s, 2 nodes "
            f"{two['sequence_s']:6.2f} s (x{r['speedup']:.2f} from the second node)"
        )
        print(
            f"  {'':>8s} overhead a job (submit to finished, less the job's own time): engine "
            f"{engine['overhead_ms']:6.1f} ms, 1 node {one['overhead_ms']:6.1f} ms, 2 nodes "
            f"{two['overhead_ms']:6.1f} ms"
        )
    print(
        f"  starting the local farm: {results['start_1_nodes_s']:.1f} s (1 node), "
        f"{results['start_2_nodes_s']:.1f} s (2 nodes)"
    )
