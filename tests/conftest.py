"""Shared fixtures. GUI tests run offscreen; no test may leave a thread behind."""

from __future__ import annotations

import os
import threading

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def no_thread_left_behind():
    """Fail a test that leaves a non-daemon or engine thread running (napari's rule)."""
    before = set(threading.enumerate())
    yield
    deadline = threading.Event()
    leftover = []
    for _ in range(50):
        leftover = [
            t
            for t in threading.enumerate()
            if t not in before and t.is_alive() and (t.name.startswith("kinema") or not t.daemon)
        ]
        if not leftover:
            break
        deadline.wait(0.05)
    assert not leftover, f"threads left running: {[t.name for t in leftover]}"
