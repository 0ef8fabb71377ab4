"""Sequence playback: every shot's active take in timeline order, across the cuts.

The viewer plays one clip; this plays the sequence through it. A wall clock gives the
sequence frame (as the viewer's own playback does: a late tick skips a frame, it never
slows down), `engine.sequence` says which shot and take frame stands there, and at a cut
the viewer is handed the next shot's frames at once. They are already in memory: entering
a shot asks the take cache for the next shot's take, so the switch never waits on a disk
read. A shot with no take (or one still loading, counted in `stalls`) shows a slate for its
length, and the clock runs on.

The document's selected shot does not follow the playhead while playing (the inspector
and the curves would rebuild at every cut); when playback stops, the shot under the
playhead is selected and shown, as a scrub to that frame would.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from engine import sequence

from .viewer import shuttle_rate


def slate(width: int, height: int, title: str, line: str) -> np.ndarray:
    """A one-frame card: the shot's name and why there is no picture (RGB, (1, H, W, 3))."""
    frame = np.full((height, width, 3), 28, np.uint8)
    scale = max(0.4, min(width, height) / 420)
    for text, y, size, colour in (
        (title, 0.45, 1.0, (230, 230, 230)),
        (line, 0.6, 0.8, (150, 150, 150)),
    ):
        font = cv2.FONT_HERSHEY_SIMPLEX
        (w, _h), _ = cv2.getTextSize(text, font, scale * size, 2)
        x = max(4, (width - w) // 2)
        cv2.putText(frame, text, (x, int(height * y)), font, scale * size, colour, 2, cv2.LINE_AA)
    return frame[None]


class SequencePlayer(QObject):
    frame_changed = Signal(int)  # the sequence frame on screen
    playing_changed = Signal(bool)
    stopped = Signal(int)  # playback ended on this sequence frame

    def __init__(self, document, viewer, take_cache, parent=None, playhead=None) -> None:
        super().__init__(parent)
        self._playhead = playhead  # callable: the timeline's playhead, where play starts
        self.document = document
        self.viewer = viewer
        self.take_cache = take_cache
        self.mode = False  # Space, J and L play the sequence (the timeline's toggle)
        self.frame = 0
        self.stalls = 0  # cuts reached before the next shot's frames were in memory
        self.cuts_crossed = 0
        self._rate = 0
        self._clock = (0.0, 0)
        self._shown: tuple | None = None  # (shot id, take id or "", head, duration) on screen
        self._loading = False  # the shot on screen waits for its take (a slate says so)
        self._spans: list[sequence.Span] = []
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._on_tick)
        take_cache.loaded.connect(self._on_take_loaded)
        viewer.sequence = self

    # ------------------------------------------------------------------ transport

    @property
    def is_playing(self) -> bool:
        return self._rate != 0

    def handles_transport(self) -> bool:
        """The viewer's play and shuttle go here: in sequence mode, or while it plays."""
        return self.mode or self.is_playing

    def set_mode(self, on: bool) -> None:
        self.mode = bool(on)
        if not on:
            self.pause()

    def toggle_play(self, start: int | None = None) -> None:
        if self.is_playing:
            self.pause()
        else:
            self.play(1, start)

    def shuttle(self, direction: int) -> None:
        """J/L over the sequence: again in the same direction doubles the speed (up to 8x)."""
        self.play(shuttle_rate(self._rate, direction))

    def play(self, rate: int = 1, start: int | None = None) -> None:
        project = self.document.project
        self._spans = sequence.spans(project.shots)
        total = sequence.total(self._spans)
        if total <= 1 or rate == 0:
            return
        if start is None:
            start = self._playhead() if self._playhead is not None else self.frame
        frame = start
        frame = min(max(int(frame), 0), total - 1)
        if rate > 0 and frame >= total - 1:
            frame = 0
        was = self.is_playing
        self.viewer.pause()  # the viewer's own clock stops: this one drives it now
        self.viewer.set_overlays(None, [])  # the selected shot's overlays fit no other shot
        self._rate = rate
        self._clock = (time.perf_counter(), frame)
        self._show(frame, force=not was)
        self._timer.start(max(2, int(1000 / (project.fps * abs(rate)) / 2)))
        if not was:
            self.playing_changed.emit(True)

    def pause(self) -> None:
        if not self.is_playing:
            return
        self._timer.stop()
        self._rate = 0
        self._shown = None
        self.viewer.time_origin = 0
        self.playing_changed.emit(False)
        self.stopped.emit(self.frame)

    # ------------------------------------------------------------------ showing

    def _on_tick(self) -> None:
        started, origin = self._clock
        fps = self.document.project.fps
        elapsed = (time.perf_counter() - started) * fps * self._rate
        frame = origin + int(elapsed + (1e-6 if self._rate > 0 else -1e-6))
        total = sequence.total(self._spans)
        if self.viewer.loop:
            frame %= total
        elif not 0 <= frame < total:
            self._show(min(max(frame, 0), total - 1))
            self.pause()
            return
        if frame != self.frame:
            self._show(frame)

    def _show(self, frame: int, force: bool = False) -> None:
        found = sequence.locate(self._spans, frame)
        if found is None:
            return
        span, local = found
        shot = self.document.shot(span.shot_id)
        if shot is None:  # edited away under the playhead: read the sequence again
            self._spans = sequence.spans(self.document.project.shots)
            return
        take = shot.active()
        key = (shot.id, take.id if take is not None else "", span.head, span.duration)
        if force or key != self._shown:
            if self._shown is not None and self._shown[0] != key[0]:
                self.cuts_crossed += 1
            self._enter(span, shot, take, key)
        self.frame = frame
        self.viewer.time_origin = span.start
        self.viewer.seek(local)
        self.frame_changed.emit(frame)

    def _enter(self, span: sequence.Span, shot, take, key: tuple) -> None:
        """Hand the viewer this shot's frames, and ask for the next shot's meanwhile."""
        project = self.document.project
        frames, label = self._frames_of(shot, take)
        self._loading = frames is None
        if frames is None:
            self.stalls += 1
            frames, label = slate(project.width, project.height, shot.name, "Loading take"), ""
        number = span.index + 1
        kind = "take" if label else "slate"
        self.viewer.show_clip(
            frames,
            project.fps,
            f"Sequence · {number} {shot.name}" + (f" · {label}" if label else ""),
            kind=kind,
            keep_position=False,
            length=span.duration,
        )
        self._shown = key
        for ahead in self._spans[span.index + 1 : span.index + 3]:  # prefetch the next shots
            nxt = self.document.shot(ahead.shot_id)
            if nxt is not None:
                self._request(nxt.active())

    def _request(self, take):
        folder = self.document.project.folder
        if take is None or take.missing or folder is None:
            return None
        return self.take_cache.request(folder, take)

    def _frames_of(self, shot, take) -> tuple[np.ndarray | None, str]:
        """(frames from the shot's in-point, the take's label); a slate when it has no take."""
        project = self.document.project
        if take is None or take.missing or project.folder is None:
            line = "No take" if take is None else "Take missing"
            return slate(project.width, project.height, shot.name, line), ""
        frames = self._request(take)
        if frames is None:
            return None, ""
        return frames[min(shot.head, len(frames) - 1) :], take.label or "Take"

    def _on_take_loaded(self, take_id: str, _frames) -> None:
        """A take the playhead stands on finished loading: show it from here on."""
        if self.is_playing and self._shown is not None and self._loading:
            shot = self.document.shot(self._shown[0])
            if shot is not None and shot.active_take == take_id:
                self._show(self.frame, force=True)
