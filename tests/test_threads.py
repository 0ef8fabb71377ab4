"""The built-in model computes with the cores other programs leave it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
import torch

import engine.threads as threads
from engine.threads import (
    BACKGROUND_NICE,
    WINDOW_S,
    ThreadWatch,
    compute_threads,
    threads_for,
    yield_to_foreground,
)
from engine.worker import Engine


def test_a_busy_core_is_left_to_the_program_that_holds_it():
    assert threads_for(2, 0.05) == 2  # a quiet laptop: both cores
    assert threads_for(2, 1.0) == 1  # a browser tab spinning on one: the other
    assert threads_for(2, 2.0) == 1  # never none
    assert threads_for(8, 2.6) == 5
    assert threads_for(4, 0.4) == 4  # a process using a fraction of a core takes none


def test_kinema_threads_fixes_the_count_and_the_count_is_restored(monkeypatch):
    monkeypatch.setenv("KINEMA_THREADS", "1")
    before = torch.get_num_threads()
    with compute_threads() as watch:
        assert watch.count == 1 and torch.get_num_threads() == 1
        assert watch.revise() == 1
    assert torch.get_num_threads() == before


class FakeMachine:
    """Two cores whose kernel counters and clock the test moves by hand."""

    def __init__(self, monkeypatch):
        self.busy = self.total = self.own = self.clock = 0.0
        monkeypatch.setattr(threads, "available_cores", lambda: 2)
        monkeypatch.setattr(threads.os, "cpu_count", lambda: 2)
        monkeypatch.setattr(
            threads, "_reading", lambda: (self.busy, self.total, self.own, self.clock)
        )
        monkeypatch.setattr(threads, "_latest", None)
        monkeypatch.delenv("KINEMA_THREADS", raising=False)

        def no_waiting(_):
            raise AssertionError("a generation waited before computing")

        monkeypatch.setattr(threads.time, "sleep", no_waiting)

    def run(self, seconds: float, ours: float, others: float) -> None:
        """`seconds` pass with this process on `ours` cores and other programs on `others`."""
        ticks = 100 * seconds  # jiffies a core
        self.busy += ticks * (ours + others)
        self.total += ticks * 2
        self.own += seconds * ours
        self.clock += seconds


def test_a_generation_starts_at_once_and_gives_a_busy_program_its_core(monkeypatch):
    machine = FakeMachine(monkeypatch)
    watch = ThreadWatch()
    assert watch.count == 2  # nothing known yet: every core, and no wait for a sample
    # a browser tab spins: beside our two threads it still keeps two thirds of a core
    machine.run(WINDOW_S / 2, ours=1.33, others=0.67)
    assert watch.revise() == 2  # too soon to tell
    machine.run(WINDOW_S / 2, ours=1.33, others=0.67)
    assert watch.revise() == 1
    assert torch.get_num_threads() == 1
    # the next generation starts where this one ended; the tab stops, and both cores return
    following = ThreadWatch()
    assert following.count == 1
    machine.run(WINDOW_S, ours=1, others=0)
    assert following.revise() == 2


def test_the_sampler_revises_the_count_at_its_steps(monkeypatch):
    machine = FakeMachine(monkeypatch)
    watch, cancels = ThreadWatch(), []
    check = watch.checking(lambda: cancels.append(1))
    machine.run(WINDOW_S, ours=1, others=1)
    check()
    assert watch.count == 1 and cancels == [1]


linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="a thread's own niceness is Linux's"
)


def _nice_of(thread: threading.Thread) -> int:
    return os.getpriority(os.PRIO_PROCESS, thread.native_id)


@linux_only
def test_the_studios_engine_thread_yields_its_core_and_the_command_lines_does_not():
    """In the studio the GUI thread shares the process with the model: the engine's thread
    (and the OpenMP team it starts) steps aside when the GUI has work; `kinema render` has
    no GUI and keeps its priority."""
    base = os.getpriority(os.PRIO_PROCESS, 0)
    studio, plain = Engine(lambda e: None, background=True), Engine(lambda e: None)
    try:
        deadline = time.monotonic() + 5
        while _nice_of(studio._thread) < BACKGROUND_NICE and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _nice_of(studio._thread) == max(base, BACKGROUND_NICE)
        assert _nice_of(plain._thread) == base
    finally:
        studio.shutdown()
        plain.shutdown()


@linux_only
def test_yielding_lowers_only_the_calling_thread():
    seen = {}

    def worker():
        seen["ok"] = yield_to_foreground()
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen["ok"] and seen["nice"] >= BACKGROUND_NICE
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < BACKGROUND_NICE


def test_loading_the_builtin_model_does_not_import_torchs_compiler():
    """Checking a config's size on torch's meta device used to run Python reference kernels
    that import the compiler stack: two seconds of the interpreter lock at the first
    Generate, with the studio's window frozen meanwhile."""
    code = (
        "import sys; from engine.models.pipeline import BuiltinModel; BuiltinModel.load(); "
        "print('torch._dynamo' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "False"
