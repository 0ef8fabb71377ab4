"""The viewer: frames as they stream in, then the finished take, with a transport.

One clip at a time: `frames` (N, H, W, 3) shown over `length` frames, frame i showing
frames[min(i, N - 1)]. A keyframe is a one-frame clip as long as the shot (scrubbing it
moves the camera overlay); a streaming preview is a clip still growing. Playback follows
the wall clock (frame = start + elapsed * fps * rate), so a late tick skips a frame rather
than slowing the clip down, and both skipped and painted frames are counted, which is what
the playback benchmark reads.

Comparing takes: the active take is A and another take B. By default the picture is split
by a draggable divider (a wipe, A left and B right); the A/B button (\\) flips to B whole,
and turning Wipe off compares by flipping only.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QSignalBlocker, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from . import icons, timecode
from .frame_view import ZOOM_FIT, FrameView
from .overlays import CameraOverlay, StrokeOverlay

SHUTTLE_RATES = (1, 2, 4, 8)


def shuttle_rate(current: int, direction: int) -> int:
    """J/L's next signed play rate: again in the same direction doubles it (up to 8x), the
    other way starts at 1x."""
    if current and (current > 0) == (direction > 0):
        index = SHUTTLE_RATES.index(abs(current)) if abs(current) in SHUTTLE_RATES else 0
        speed = SHUTTLE_RATES[min(index + 1, len(SHUTTLE_RATES) - 1)]
    else:
        speed = 1
    return speed * (1 if direction > 0 else -1)


class ViewerWidget(QWidget):
    frame_changed = Signal(int)
    playing_changed = Signal(bool)
    compare_toggled = Signal(bool)  # True while B is shown
    previs_toggled = Signal(bool)  # the user asked for the previs (True) or the take/keyframe
    obedience_toggled = Signal(bool)  # the ask-versus-got overlay was turned on or off
    content_changed = Signal()  # another clip, keyframe or preview is on screen (see `source`)
    media_dropped = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = FrameView(self)
        self.view.media_dropped.connect(self.media_dropped)
        self._frames: np.ndarray | None = None
        self._compare: np.ndarray | None = None
        self._labels = ("", "")
        self._showing_b = False
        self._wipe_on = True  # compare with a split wipe (else by flipping only)
        self.source = ""  # the take id of the clip on screen ("" for anything else)
        self._length = 0
        self._fps = 24.0
        self._index = 0
        self._rate = 0  # frames per frame-period; 0 is paused, negative plays backwards
        self._clock_origin = (0.0, 0)  # (perf_counter, frame) when playback last (re)started
        self.loop = True
        self.kind = "empty"  # "empty" | "keyframe" | "preview" | "take" | "previs" | "slate"
        self.time_origin = 0  # added to the frame the counter shows (sequence playback)
        self.sequence = None  # while set, play/shuttle go to it (studio.sequence_player)
        self.skipped_frames = 0  # frames the clock passed over without a tick (late ticks)
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._on_timer_tick)
        self._rate_window: list[float] = []
        self._build_transport()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.view, 1)
        layout.addWidget(self._transport)
        self._refresh_transport()

    # ------------------------------------------------------------------ building

    def _tool(
        self, text: str, tip: str, slot, checkable: bool = False, icon_name: str = ""
    ) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        if icon_name:
            button.setIcon(icons.icon(icon_name))
            button.setIconSize(QSize(16, 16))
            button.setToolButtonStyle(
                Qt.ToolButtonStyle.ToolButtonIconOnly
                if not text
                else Qt.ToolButtonStyle.ToolButtonTextBesideIcon
            )
        button.setToolTip(tip)
        button.setCheckable(checkable)
        button.setAutoRaise(False)
        if checkable:
            button.toggled.connect(slot)
        else:
            button.clicked.connect(slot)
        return button

    def _build_transport(self) -> None:
        bar = QWidget(self)
        bar.setObjectName("transport")
        row = QHBoxLayout(bar)
        row.setContentsMargins(8, 6, 8, 6)
        row.setSpacing(4)
        self.start_button = self._tool(
            "", "Go to start (Home)", self.go_to_start, icon_name="to_start"
        )
        self.back_button = self._tool(
            "", "Previous frame (Left)", lambda: self.step(-1), icon_name="step_back"
        )
        self.play_button = self._tool(
            "", "Play / pause (Space)", self.toggle_play, icon_name="play"
        )
        self.play_button.setMinimumWidth(40)
        self.forward_button = self._tool(
            "", "Next frame (Right)", lambda: self.step(1), icon_name="step_forward"
        )
        self.end_button = self._tool("", "Go to end (End)", self.go_to_end, icon_name="to_end")
        self.loop_button = self._tool(  # icon only: the transport sets the viewer's least width
            "", "Loop playback", self._on_loop_toggled, True, icon_name="loop"
        )
        self.loop_button.setChecked(True)
        self.slider = QSlider(Qt.Orientation.Horizontal, bar)
        self.slider.setToolTip("Scrub")
        self.slider.valueChanged.connect(self._on_slider_moved)
        self.counter = QLabel(bar)
        self.counter.setObjectName("counter")
        self.counter.setMinimumWidth(150)
        self.fps_label = QLabel(bar)
        self.fps_label.setObjectName("dim")
        self.fps_label.setMinimumWidth(72)
        self.ab_button = self._tool(
            "A/B", "Compare with another take (\\)", self._on_ab_toggled, True
        )
        self.ab_button.setEnabled(False)
        self.wipe_button = self._tool(
            "Wipe",
            "Split wipe while comparing: A left, B right; drag the divider across the picture",
            self._on_wipe_toggled,
            True,
        )
        self.wipe_button.setChecked(True)
        self.wipe_button.setEnabled(False)
        self.obedience_button = self._tool(
            "Ask/Got",
            "Ask versus got (O): the take's requested stroke paths and camera beside what the "
            "take did, with each stroke's error",
            self.obedience_toggled.emit,
            True,
        )
        self.camera_button = self._tool(
            "Camera", "Show the camera frame", self._on_camera_toggled, True
        )
        self.camera_button.setChecked(True)
        self.strokes_button = self._tool(
            "Strokes", "Show the motion strokes", self._on_strokes_toggled, True
        )
        self.strokes_button.setChecked(True)
        self.previs_button = self._tool(
            "Previs",
            "Show the previs: the keyframe moved by the camera path and the strokes (Shift+P)",
            self.previs_toggled.emit,
            True,
        )
        self.zoom_box = QComboBox(bar)
        self.zoom_box.addItem("Fit", ZOOM_FIT)
        self.zoom_box.addItem("50%", 0.5)
        self.zoom_box.addItem("100%", 1.0)
        self.zoom_box.addItem("200%", 2.0)
        self.zoom_box.setToolTip("Zoom")
        self.zoom_box.currentIndexChanged.connect(
            lambda _: self.view.set_zoom(float(self.zoom_box.currentData()))
        )
        for widget in (
            self.start_button,
            self.back_button,
            self.play_button,
            self.forward_button,
            self.end_button,
        ):
            row.addWidget(widget)
        row.addWidget(self.loop_button)
        row.addSpacing(6)
        row.addWidget(self.slider, 1)
        row.addSpacing(6)
        row.addWidget(self.counter)
        row.addWidget(self.fps_label)
        row.addWidget(self.previs_button)
        row.addWidget(self.ab_button)
        row.addWidget(self.wipe_button)
        row.addWidget(self.obedience_button)
        row.addWidget(self.camera_button)
        row.addWidget(self.strokes_button)
        row.addWidget(self.zoom_box)
        self._transport = bar

    # ------------------------------------------------------------------ content

    @property
    def length(self) -> int:
        return self._length

    @property
    def current_frame(self) -> int:
        return self._index

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def is_playing(self) -> bool:
        return self._rate != 0

    @property
    def rate(self) -> int:
        return self._rate

    @property
    def available_frames(self) -> int:
        return 0 if self._frames is None else len(self._frames)

    def displayed_frame(self) -> np.ndarray | None:
        """The array on screen now (what a test or a snapshot reads)."""
        frames = self._visible_frames()
        if frames is None or not len(frames):
            return None
        return frames[min(self._index, len(frames) - 1)]

    def clear(self, message: str = "") -> None:
        self.pause()
        self._frames, self._compare, self._length, self._index = None, None, 0, 0
        self.kind = "empty"
        self.source = ""
        self.view.message = message
        self.view.badge = ""
        self.view.set_frame(None)
        self._set_compare_enabled(False)
        self._refresh_transport()

    def show_keyframe(
        self,
        image: np.ndarray | None,
        length: int,
        fps: float,
        label: str = "Keyframe",
        missing: str = "",
    ) -> None:
        """The shot's keyframe held for the shot's length (or a message when it has none,
        `missing` when its file is gone)."""
        self.pause()
        self._compare = None
        self._set_compare_enabled(False)
        self.kind = "keyframe"
        self.view.overlay_mode = "keyframe"
        self._fps = fps
        self._length = max(1, length)
        self._frames = None if image is None else image[None]
        self._labels = (label, "")
        self.view.message = (
            "" if image is not None else missing or "No keyframe: drop an image or video here"
        )
        self.source = ""
        self._show_index(min(self._index, self._length - 1))  # tells the other playheads
        self._refresh_transport()
        self.content_changed.emit()

    def show_clip(
        self,
        frames: np.ndarray,
        fps: float,
        label: str,
        *,
        kind: str = "take",
        keep_position: bool = True,
        length: int | None = None,
        source: str = "",
    ) -> None:
        """A finished clip (a take, a previs). Keeps the playhead where it was unless told otherwise.

        `length` plays the clip over that many frames (cut, or holding its last frame), as
        the timeline and export do with a trimmed shot. `source` names the take shown.
        """
        changed = frames is not self._frames or source != self.source or kind != self.kind
        self.source = source
        self._frames = frames
        self._fps = fps
        self._length = len(frames) if length is None else max(1, int(length))
        self.kind = kind
        self.view.overlay_mode = "clip"
        self.view.message = ""
        self._labels = (label, self._labels[1])
        index = min(self._index if keep_position else 0, self._length - 1)
        self._restart_clock(index)
        self._show_index(index)  # tells the other playheads when the frame changed
        self._refresh_transport()
        if changed:
            self.content_changed.emit()

    def show_preview(
        self, frames: np.ndarray, step: int, total: int, length: int, fps: float
    ) -> None:
        """A job's latest estimate: streaming clips grow, a denoising estimate is whole."""
        grew = self._frames is None or self.kind != "preview" or len(frames) > len(self._frames)
        self._frames = frames
        self._fps = fps
        self._length = max(length, len(frames))
        changed = self.kind != "preview"
        self.kind = "preview"
        self.source = ""
        self.view.overlay_mode = "clip"
        self.view.message = ""
        self._labels = (f"Generating · {step}/{total}", "")
        self._showing_b = False
        index = self._index
        if not self.is_playing and grew and len(frames) < self._length:
            index = len(frames) - 1  # follow a streaming clip's newest frame
        self._show_index(min(index, self._length - 1))
        self._refresh_transport()
        if changed:
            self.content_changed.emit()

    def set_previs_checked(self, checked: bool) -> None:
        """Reflect the presenter's previs mode on the button without asking for it again."""
        with QSignalBlocker(self.previs_button):
            self.previs_button.setChecked(checked)

    def set_compare(self, frames: np.ndarray | None, label: str = "") -> None:
        """The B side of an A/B comparison (None ends it)."""
        self._compare = frames
        self._labels = (self._labels[0], label)
        self._set_compare_enabled(frames is not None)
        if frames is None and self._showing_b:
            self._showing_b = False
            with QSignalBlocker(self.ab_button):
                self.ab_button.setChecked(False)
        self._show_index(self._index)

    def toggle_compare(self) -> None:
        if self._compare is not None:
            self.ab_button.toggle()

    @property
    def showing_b(self) -> bool:
        return self._showing_b

    @property
    def wiping(self) -> bool:
        """A and B split by the divider on screen now."""
        return self._compare is not None and self._wipe_on and not self._showing_b

    def compared_frame(self) -> np.ndarray | None:
        """B's frame right of the divider while wiping (None otherwise)."""
        if not self.wiping or not len(self._compare):
            return None
        return self._compare[min(self._index, len(self._compare) - 1)]

    def set_wipe(self, on: bool) -> None:
        self.wipe_button.setChecked(bool(on))

    def set_note(self, note: str) -> None:
        """A quiet line on the picture, e.g. that the shot changed since the take shown."""
        if note != self.view.note:
            self.view.note = note
            self.view.update()

    def set_obedience(self, result, message: str = "") -> None:
        """The ask-versus-got overlay for the take on screen (None and "" turn it off)."""
        self.view.set_obedience(result, message)

    def set_obedience_checked(self, checked: bool) -> None:
        with QSignalBlocker(self.obedience_button):
            self.obedience_button.setChecked(checked)

    def set_overlays(self, camera: CameraOverlay | None, strokes: list[StrokeOverlay]) -> None:
        self.view.set_overlays(camera, strokes)

    # ------------------------------------------------------------------ transport

    def play(self, rate: int = 1) -> None:
        if self._length <= 1 or rate == 0:
            return
        if rate > 0 and self._index >= self._length - 1 and not self.loop:
            self._index = 0
        if rate < 0 and self._index <= 0 and not self.loop:
            self._index = self._length - 1
        was_playing = self.is_playing
        self._rate = rate
        self._restart_clock()
        self.view.smooth = False  # fast scaling while moving; smooth when still
        interval = max(2, int(1000 / (self._fps * abs(rate)) / 2))
        self._timer.start(interval)
        self._rate_window.clear()
        if not was_playing:
            self.playing_changed.emit(True)
        self._refresh_transport()

    def pause(self) -> None:
        self._timer.stop()
        was_playing = self.is_playing
        self._rate = 0
        self.view.smooth = True
        self.view.update()
        if was_playing:
            self.playing_changed.emit(False)
        self._refresh_transport()

    def toggle_play(self) -> None:
        if self.sequence is not None and self.sequence.handles_transport():
            return self.sequence.toggle_play()
        if self.is_playing:
            self.pause()
        else:
            self.play(1)

    def shuttle(self, direction: int) -> None:
        """J/L: play backwards/forwards; pressing again doubles the speed (up to 8x)."""
        if self.sequence is not None and self.sequence.handles_transport():
            return self.sequence.shuttle(direction)
        self.play(shuttle_rate(self._rate, direction))

    def step(self, delta: int) -> None:
        self.pause()
        self.seek(self._index + delta)

    def go_to_start(self) -> None:
        self.seek(0)

    def go_to_end(self) -> None:
        self.seek(self._length - 1)

    def seek(self, index: int) -> None:
        if self._length <= 0:
            return
        index = min(max(int(index), 0), self._length - 1)
        self._restart_clock(index)
        self._show_index(index)

    # ------------------------------------------------------------------ internals

    def _visible_frames(self) -> np.ndarray | None:
        if self._showing_b and self._compare is not None:
            return self._compare
        return self._frames

    def _restart_clock(self, index: int | None = None) -> None:
        self._clock_origin = (time.perf_counter(), self._index if index is None else index)

    def _show_index(self, index: int) -> None:
        changed = index != self._index
        self._index = index
        frames = self._visible_frames()
        if frames is None or not len(frames):
            self.view.set_frame(None, index)
        else:
            self.view.set_frame(frames[min(index, len(frames) - 1)], index, self.compared_frame())
        side = (
            "B"
            if self._showing_b and self._compare is not None
            else "A"
            if self._compare is not None
            else ""
        )
        label = self._labels[1] if side == "B" else self._labels[0]
        self.view.badge = f"{side} · {label}" if side else label
        self.view.badge_b = f"B · {self._labels[1]}" if self.wiping else ""
        self._refresh_position()
        if changed:
            self.frame_changed.emit(index)

    def _on_timer_tick(self) -> None:
        start_time, start_index = self._clock_origin
        now = time.perf_counter()
        advanced = int(
            (now - start_time) * self._fps * self._rate + (1e-6 if self._rate > 0 else -1e-6)
        )
        target = start_index + advanced
        if self.loop:
            target %= self._length
        elif not 0 <= target < self._length:
            self._show_index(min(max(target, 0), self._length - 1))
            self.pause()
            return
        if target == self._index:
            return
        step = (
            (target - self._index) % self._length
            if self._rate > 0
            else (self._index - target) % self._length
        )
        if step > 1:
            self.skipped_frames += step - 1
        self._rate_window.append(now)
        if len(self._rate_window) > 30:
            del self._rate_window[0]
        self._show_index(target)

    def measured_fps(self) -> float:
        """Frames shown per second over the last few ticks (0 when paused)."""
        if not self.is_playing or len(self._rate_window) < 2:
            return 0.0
        span = self._rate_window[-1] - self._rate_window[0]
        return (len(self._rate_window) - 1) / span if span > 0 else 0.0

    def _set_compare_enabled(self, enabled: bool) -> None:
        self.ab_button.setEnabled(enabled)
        self.wipe_button.setEnabled(enabled)
        if not enabled:
            self._showing_b = False
            with QSignalBlocker(self.ab_button):
                self.ab_button.setChecked(False)

    def _on_ab_toggled(self, checked: bool) -> None:
        self._showing_b = checked and self._compare is not None
        self._show_index(self._index)
        self.compare_toggled.emit(self._showing_b)

    def _on_wipe_toggled(self, checked: bool) -> None:
        self._wipe_on = checked
        self._show_index(self._index)

    def _on_loop_toggled(self, checked: bool) -> None:
        self.loop = checked

    def _on_camera_toggled(self, checked: bool) -> None:
        self.view.show_camera = checked
        self.view.update()

    def _on_strokes_toggled(self, checked: bool) -> None:
        self.view.show_strokes = checked
        self.view.update()

    def _on_slider_moved(self, value: int) -> None:
        if value != self._index:
            self.seek(value)

    def _refresh_transport(self) -> None:
        has_clip = self._length > 1
        for button in (
            self.start_button,
            self.back_button,
            self.play_button,
            self.forward_button,
            self.end_button,
        ):
            button.setEnabled(has_clip)
        self.slider.setEnabled(has_clip)
        sequence_playing = self.sequence is not None and self.sequence.is_playing
        self.play_button.setIcon(
            icons.icon("pause" if self.is_playing or sequence_playing else "play")
        )
        with QSignalBlocker(self.slider):
            self.slider.setRange(0, max(0, self._length - 1))
        self._refresh_position()

    def _refresh_position(self) -> None:
        with QSignalBlocker(self.slider):
            self.slider.setValue(self._index)
        if self._length:
            when = timecode.format_frame(self.time_origin + self._index, self._fps)
            self.counter.setText(f"{when}   {self._index + 1} / {self._length}")
        else:
            self.counter.setText("   – / –")
        rate = f" · {self._rate:+d}x" if self._rate not in (0, 1) else ""
        self.fps_label.setText(f"{self._fps:g} fps{rate}")
