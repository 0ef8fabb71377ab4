"""Sequence time: which shot, and which frame of its clip, stands at sequence frame N.

The timeline, sequence playback and export must agree frame for frame, so the arithmetic
lives here once, without Qt. A shot occupies `duration` frames of the sequence and shows
frames `head .. head + duration - 1` of its clip (its active take): `head` is its in-point,
what a head trim cut off. Trims are answered here too, the way an editor's timeline does
them: a roll moves a cut between two shots and keeps the sequence as long as it was; a
ripple changes one shot's length and moves everything after it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """One shot's place in the sequence."""

    index: int  # position in the sequence
    shot_id: str
    start: int  # first sequence frame
    duration: int  # sequence frames it lasts
    head: int = 0  # clip frame shown at its first frame (the in-point)

    @property
    def end(self) -> int:
        """The sequence frame just after it (the next cut)."""
        return self.start + self.duration

    def clip_frame(self, local: int) -> int:
        """The frame of the shot's clip that shows `local` frames into the shot."""
        return self.head + local


def spans(shots: Iterable) -> list[Span]:
    """Spans of shots (anything with `id`, `duration` and optionally `head`), in order."""
    out, start = [], 0
    for index, shot in enumerate(shots):
        duration = int(shot.duration)
        out.append(Span(index, shot.id, start, duration, int(getattr(shot, "head", 0))))
        start += duration
    return out


def total(all_spans: Sequence[Span]) -> int:
    return all_spans[-1].end if all_spans else 0


def locate(all_spans: Sequence[Span], frame: int) -> tuple[Span, int] | None:
    """(span, frame into the shot) at sequence frame `frame`, clamped to the sequence.

    A frame on a cut belongs to the shot that starts there.
    """
    if not all_spans:
        return None
    frame = min(max(int(frame), 0), total(all_spans) - 1)
    lo, hi = 0, len(all_spans) - 1
    while lo < hi:  # binary search: a long sequence is looked up every playback tick
        mid = (lo + hi + 1) // 2
        if all_spans[mid].start <= frame:
            lo = mid
        else:
            hi = mid - 1
    span = all_spans[lo]
    return span, frame - span.start


def cuts(all_spans: Sequence[Span]) -> list[int]:
    """Every edit point: each shot's start and the sequence's end."""
    return [s.start for s in all_spans] + ([total(all_spans)] if all_spans else [])


def snap(
    frame: float, targets: Iterable[float], px_per_frame: float, threshold_px: float
) -> tuple[int, float | None]:
    """`frame` pulled to the nearest target closer than `threshold_px` on screen.

    Returns (frame, the target it snapped to or None). Unsnapped frames round to whole
    frames.
    """
    best = None
    limit = threshold_px / max(px_per_frame, 1e-9)
    for target in targets:
        distance = abs(target - frame)
        if distance <= limit and (best is None or distance < abs(best - frame)):
            best = target
    if best is None:
        return round(frame), None
    return round(best), best


# ----------------------------------------------------------------------------- trims


@dataclass(frozen=True)
class TrimResult:
    """What a trim gesture makes: new (head, duration) per shot it changes."""

    changes: dict  # shot id -> (head, duration)
    delta: int  # how far the edge moved, after clamping


def trim(all_spans: Sequence[Span], cut: int, side: str, delta: int, ripple: bool) -> TrimResult:
    """Move the edge at cut `cut` (0 .. len(spans)) by `delta` frames.

    `side` says which shot's edge was grabbed: "tail" is the shot before the cut (its
    right edge), "head" the shot after it (its left edge). A roll (``ripple=False``) between
    two shots moves the cut: the shot before grows by what the one after loses, and the
    one after starts later in its clip, so everything else stays where it was. A ripple
    changes only the grabbed shot: a tail ripple lengthens or shortens it, a head ripple
    moves its in-point (it keeps its start; the shots after it move). An edge without a
    neighbour (the first shot's head, the last shot's tail) is always trimmed on its own.

    Every shot keeps at least one frame, so `delta` is clamped; the result says by how much
    the edge really moved. A take cannot start before its frame 0: a head pulled earlier
    than its in-point allows lengthens the shot with its take starting at the new edge
    (what a generated shot does, since it is made to its length), rather than refusing.
    """
    if not all_spans:
        return TrimResult({}, 0)
    before = all_spans[cut - 1] if cut > 0 else None
    after = all_spans[cut] if cut < len(all_spans) else None
    if side == "tail" and before is None or side == "head" and after is None:
        raise ValueError(f"no {side} edge at cut {cut}")
    roll = not ripple and before is not None and after is not None
    low, high = -math.inf, math.inf
    if roll or side == "tail":  # the shot before the cut: duration + delta >= 1
        low = max(low, 1 - before.duration)
    if roll or side == "head":  # the shot after: duration - delta >= 1
        high = min(high, after.duration - 1)
    delta = int(min(max(delta, low), high))
    changes = {}
    if roll or side == "tail":
        changes[before.shot_id] = (before.head, before.duration + delta)
    if roll or side == "head":
        changes[after.shot_id] = (max(0, after.head + delta), after.duration - delta)
    return TrimResult(changes, delta)
