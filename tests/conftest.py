"""Shared fixtures. GUI tests run offscreen; no test may leave a thread behind."""

from __future__ import annotations

import os
import tempfile
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


# ------------------------------------------------------------------ tiny real models


@pytest.fixture(scope="session")
def tiny_model_root(tmp_path_factory):
    """One folder holding a tiny diffusers model of every family, built from config once."""
    pytest.importorskip("diffusers")
    from engine.backends.diffusers.tiny import FAMILIES, save_tiny_pipeline

    root = tmp_path_factory.mktemp("models")
    for family in FAMILIES:
        save_tiny_pipeline(family, root / family)
    return root


@pytest.fixture(scope="session")
def preview_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("kinema-cache")


@pytest.fixture
def tiny_models(tiny_model_root, preview_cache, monkeypatch):
    """The tiny models as the user's model folder; the user's hub cache is never read."""
    from engine.model_library import set_model_folders

    monkeypatch.setenv("KINEMA_MODELS", str(tiny_model_root))
    monkeypatch.setenv("KINEMA_NO_HF_CACHE", "1")
    monkeypatch.setenv("KINEMA_CACHE_DIR", str(preview_cache))
    set_model_folders([])
    yield tiny_model_root
    set_model_folders([])


# The CLI and the studio log to a file in the user's log folder: never the real one in tests.
os.environ.setdefault("KINEMA_LOG_DIR", tempfile.mkdtemp(prefix="kinema-test-logs-"))
