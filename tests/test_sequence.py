"""Sequence time without Qt: where each frame comes from, and what trims do to the cut."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from engine import sequence


@dataclass
class S:
    id: str
    duration: int
    head: int = 0


SHOTS = [S("a", 48), S("b", 36, head=6), S("c", 10)]


def test_locate_maps_every_sequence_frame_to_its_shot_and_take_frame():
    spans = sequence.spans(SHOTS)
    assert [(s.start, s.end) for s in spans] == [(0, 48), (48, 84), (84, 94)]
    assert sequence.total(spans) == 94
    assert sequence.cuts(spans) == [0, 48, 84, 94]
    span, local = sequence.locate(spans, 47)
    assert (span.shot_id, local) == ("a", 47)
    span, local = sequence.locate(spans, 48)  # a frame on a cut belongs to the shot after it
    assert (span.shot_id, local, span.clip_frame(local)) == ("b", 0, 6)
    span, local = sequence.locate(spans, 83)
    assert (span.shot_id, local, span.clip_frame(local)) == ("b", 35, 41)
    assert sequence.locate(spans, 500)[0].shot_id == "c"  # clamped to the sequence
    assert sequence.locate(spans, -3)[1] == 0
    assert sequence.locate([], 0) is None


def test_every_frame_belongs_to_exactly_one_shot():
    spans = sequence.spans(SHOTS)
    seen = [sequence.locate(spans, f) for f in range(sequence.total(spans))]
    for shot in spans:
        locals_ = [local for span, local in seen if span.shot_id == shot.shot_id]
        assert locals_ == list(range(shot.duration))


def test_a_roll_moves_the_cut_and_keeps_the_length():
    spans = sequence.spans(SHOTS)
    later = sequence.trim(spans, 1, "tail", 4, ripple=False)
    assert later.changes == {"a": (0, 52), "b": (10, 32)}
    earlier = sequence.trim(spans, 1, "head", -4, ripple=False)
    assert earlier.changes == {"a": (0, 44), "b": (2, 40)}
    # past the in-point a take starts at its frame 0 from the new cut
    assert sequence.trim(spans, 1, "tail", -10, ripple=False).changes == {
        "a": (0, 38),
        "b": (0, 46),
    }
    # neither shot can vanish: the cut stops one frame short
    clamped = sequence.trim(spans, 1, "tail", 100, ripple=False)
    assert clamped.delta == 35 and clamped.changes["b"][1] == 1
    for result in (later, earlier, clamped):
        assert sum(d for _h, d in result.changes.values()) == 48 + 36


def test_a_ripple_changes_one_shot():
    spans = sequence.spans(SHOTS)
    assert sequence.trim(spans, 1, "tail", -8, ripple=True).changes == {"a": (0, 40)}
    assert sequence.trim(spans, 1, "head", 5, ripple=True).changes == {"b": (11, 31)}
    assert sequence.trim(spans, 0, "head", 3, ripple=False).changes == {"a": (3, 45)}
    assert sequence.trim(spans, 3, "tail", 2, ripple=False).changes == {"c": (0, 12)}
    assert sequence.trim(spans, 1, "tail", -100, ripple=True).changes == {"a": (0, 1)}
    with pytest.raises(ValueError):
        sequence.trim(spans, 0, "tail", 1, ripple=True)


def test_snap_pulls_within_the_threshold_only():
    assert sequence.snap(30.4, [30, 48], px_per_frame=10, threshold_px=8) == (30, 30)
    assert sequence.snap(31.0, [30, 48], px_per_frame=10, threshold_px=8) == (31, None)
    assert sequence.snap(46.5, [30, 48], px_per_frame=2, threshold_px=8) == (48, 48)
    assert sequence.snap(12.2, [], px_per_frame=2, threshold_px=8) == (12, None)
