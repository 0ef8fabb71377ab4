"""The built-in model computes with the cores other programs leave it."""

from __future__ import annotations

import torch

from engine.threads import chosen_threads, compute_threads, threads_for


def test_a_busy_core_is_left_to_the_program_that_holds_it():
    assert threads_for(2, 0.05) == 2  # a quiet laptop: both cores
    assert threads_for(2, 1.0) == 1  # a browser tab spinning on one: the other
    assert threads_for(2, 2.0) == 1  # never none
    assert threads_for(8, 2.6) == 5
    assert threads_for(4, 0.4) == 4  # a process using a fraction of a core takes none


def test_kinema_threads_fixes_the_count_and_the_count_is_restored(monkeypatch):
    monkeypatch.setenv("KINEMA_THREADS", "1")
    assert chosen_threads() == 1
    before = torch.get_num_threads()
    with compute_threads() as count:
        assert count == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
