"""The cycle collector on the GUI thread: never a full collection's hitch every few seconds.

A full collection walks every object of a process that holds torch and Qt: about 50 ms on
the GUI thread. The guard freezes what start-up made (later collections skip it) and runs
a full collection at most once every `FULL_EVERY_S` seconds.
"""

from __future__ import annotations

import gc

from studio import gc_guard


def test_start_up_is_frozen_and_full_collections_are_spaced(qapp, monkeypatch):
    guard = gc_guard.GuiThreadCollector()
    try:
        guard.freeze_startup()
        assert gc.get_freeze_count() > 0
        collected = []
        clock = [1000.0]
        monkeypatch.setattr(
            gc_guard.gc, "collect", lambda generation=2: collected.append(generation)
        )
        monkeypatch.setattr(gc_guard.gc, "get_count", lambda: (10_000, 100, 100))
        monkeypatch.setattr(gc_guard.time, "monotonic", lambda: clock[0])
        guard._last_full = clock[0]

        guard.collect_if_due()
        assert collected == [0, 1]  # the young generations as usual, no full one yet
        clock[0] += gc_guard.FULL_EVERY_S
        guard.collect_if_due()
        assert collected == [0, 1, 0, 1, 2]
        clock[0] += 1.0
        guard.collect_if_due()
        assert collected[-1] == 1  # not two full collections a second apart
    finally:
        monkeypatch.undo()
        guard.release()
    if not gc_guard._holders:
        assert gc.get_freeze_count() == 0 and gc.isenabled()
