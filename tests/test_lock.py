"""The project lock: one writer per project, stale locks taken over, real processes.

Before the lock, two processes on one project lost work silently (the last save won, one's
clean-up deleted the other's takes) and shared the temp name `project.json.tmp`, so their
saves failed and a third reader saw a damaged file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from engine.errors import ProjectError
from engine.lock import (
    LOCK_FILE,
    STALE_AFTER_S,
    LockLost,
    ProjectLock,
    ProjectLocked,
    is_stale,
    read_owner,
)
from engine.project import PROJECT_FILE, Project, Shot

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def folder(tmp_path) -> Path:
    project = Project.new(tmp_path / "Film")
    project.shots = [Shot(id="s1")]
    project.save()
    return project.folder


def dead_pid() -> int:
    """The pid of a process that has just ended (a crashed Kinema)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def forge(folder: Path, **changes) -> None:
    """Rewrite the lock file's fields, as another process's lock would read."""
    path = folder / LOCK_FILE
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_a_second_holder_is_refused_with_who_holds_it(folder):
    lock = ProjectLock.acquire(folder)
    assert lock.holds() and read_owner(folder).pid == os.getpid()
    with pytest.raises(ProjectLocked) as refused:
        ProjectLock.acquire(folder)
    assert f"process {os.getpid()}" in str(refused.value) and "read-only" in str(refused.value)
    lock.release()
    assert not (folder / LOCK_FILE).exists()
    ProjectLock.acquire(folder).release()


def test_a_crashed_holders_lock_is_taken_over_without_asking(folder):
    ProjectLock.acquire(folder)  # never released: its process "crashes"
    forge(folder, pid=dead_pid(), process_start="")
    lock = ProjectLock.acquire(folder)
    assert lock.holds() and lock.taken_over is not None


def test_a_reused_pid_does_not_keep_a_lock_alive(folder):
    ProjectLock.acquire(folder)
    if not read_owner(folder).process_start:
        pytest.skip("this OS gives no process start time")
    forge(folder, process_start="1")  # our pid, but not the process that took the lock
    assert ProjectLock.acquire(folder).holds()


def test_another_hosts_lock_is_stale_only_when_its_heartbeat_stops(folder):
    ProjectLock.acquire(folder)
    forge(folder, host="render-node-7", pid=1)
    with pytest.raises(ProjectLocked, match="render-node-7"):
        ProjectLock.acquire(folder)
    old = time.time() - STALE_AFTER_S - 5
    os.utime(folder / LOCK_FILE, (old, old))
    assert ProjectLock.acquire(folder).holds()


def test_a_taken_over_holder_stops_writing(folder):
    first = ProjectLock.acquire(folder)
    second = ProjectLock.acquire(folder, take_over=True)
    assert second.holds() and not first.holds()
    with pytest.raises(LockLost, match="Save As"):
        first.check()
    assert not first.refresh()
    first.release()  # not ours any more: the other's lock stays
    assert second.holds()


def test_an_unreadable_lock_is_stale_unless_it_is_being_written(folder):
    (folder / LOCK_FILE).write_text("{not json")
    assert not is_stale(None, 0.5)
    old = time.time() - 60
    os.utime(folder / LOCK_FILE, (old, old))
    assert ProjectLock.acquire(folder).holds()


def test_a_folder_that_cannot_be_written_is_refused_with_a_sentence(folder, monkeypatch):
    import errno

    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(folder))

    monkeypatch.setattr("engine.lock.os.open", refused)
    with pytest.raises(ProjectError, match="only read-only"):
        ProjectLock.acquire(folder)


# ----------------------------------------------------------------------------- real processes

HOLDER = textwrap.dedent(
    """
    import sys
    from engine.lock import ProjectLock, ProjectLocked
    try:
        lock = ProjectLock.acquire(sys.argv[1])
    except ProjectLocked:
        print("locked", flush=True)
        sys.exit(0)
    print("held", flush=True)
    sys.stdin.readline()  # hold until told (or killed)
    lock.release()
    """
)


def start(script: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


def test_two_real_processes_never_both_hold_a_project(folder):
    holder = start(HOLDER, str(folder))
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ProjectLocked, match=f"process {holder.pid}"):
            ProjectLock.acquire(folder)
        rival = start(HOLDER, str(folder))
        assert rival.stdout.readline().strip() == "locked"
        rival.wait(10)
        holder.kill()  # SIGKILL: no clean-up runs; the lock file stays behind
        holder.wait(10)
        assert (folder / LOCK_FILE).exists()
        lock = ProjectLock.acquire(folder)  # its process is gone: stale, taken over
        assert lock.holds() and lock.taken_over.pid == holder.pid
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)


def test_processes_racing_for_a_free_project_give_it_to_exactly_one(folder):
    racers = [start(HOLDER, str(folder)) for _ in range(6)]
    try:
        answers = sorted(r.stdout.readline().strip() for r in racers)
        assert answers == ["held"] + ["locked"] * 5, answers
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.stdin.write("\n")
                racer.stdin.flush()
            racer.wait(10)


WRITER = textwrap.dedent(
    """
    import sys
    from engine.project import Project
    project = Project.load(sys.argv[1])
    for n in range(int(sys.argv[2])):
        project.shots[0].prompt = f"{sys.argv[3]} {n}"
        project.save()
    print("done", flush=True)
    """
)


def test_two_writers_never_share_a_temp_file_and_readers_never_see_a_torn_file(folder):
    """The lock keeps two studios apart; this is the layer under it: even two writers that
    ignore the lock each write a temp file of their own, so every save succeeds and every
    read in between sees a whole project."""
    writers = [start(WRITER, str(folder), "40", name) for name in ("a", "b")]
    reads = 0
    while any(w.poll() is None for w in writers):
        text = (folder / PROJECT_FILE).read_text()
        json.loads(text)  # never torn
        reads += 1
    for writer in writers:
        assert writer.wait(30) == 0 and writer.stdout.read().strip() == "done"
    assert reads > 0
    assert Project.load(folder).shots[0].prompt in ("a 39", "b 39")
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
