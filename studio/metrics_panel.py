"""Per-frame quality of the active take: flicker, warp error, and how well it followed the
camera path and the motion strokes (engine.metrics).

Measuring runs optical flow and region tracking over the clip, so it happens on a worker
thread and only when this tab is visible (or Measure is pressed); results are kept per
take. Adherence is judged against what the take was asked for (the shot in its recorded
request), not against later edits. A one-line verdict says in plain words what the
numbers mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from engine.errors import KinemaError
from engine.project import Shot

from . import theme
from .document import Document
from .take_cache import TakeCache
from .tasks import TaskRunner

#: flicker (8-bit levels) below which a clip reads as steady, and above which it flickers
STEADY, FLICKERY = 1.0, 3.0
#: a region within this much of its path (percent of the frame width) followed it
FOLLOWED, ROUGHLY = 3.0, 8.0
#: the camera moved "as asked" when it went this share of the requested move (and the right way)
CAMERA_RATIO = (0.7, 1.3)


@dataclass(frozen=True)
class StrokeAdherence:
    name: str
    colour: str
    mean_pct: float
    per_frame: np.ndarray  # (T,) percent of the frame width


@dataclass(frozen=True)
class CameraAdherence:
    requested_motion: bool  # False: a locked-off camera was asked for
    direction_ok: bool
    magnitude_ratio: float
    per_frame: np.ndarray  # (T,) percent of the frame width


@dataclass(frozen=True)
class TakeQuality:
    flicker_mean: float
    flicker: np.ndarray  # (T-1,)
    warp_mean: float
    warp: np.ndarray  # (T-1,)
    camera: CameraAdherence | None = None
    strokes: tuple[StrokeAdherence, ...] = field(default=())


def _motion_in_widths(motion: np.ndarray, width: int) -> np.ndarray:
    """(T, 4) [tx, ty, rot_deg, log_scale] -> image motion in frame widths, as
    `engine.metrics.camera_adherence` compares them (rotation and scale as the movement
    they give a point half a width from the centre)."""
    m = np.asarray(motion, np.float64)
    return np.stack([m[:, 0] / width, m[:, 1] / width, np.radians(m[:, 2]) / 2, m[:, 3] / 2], 1)


def measure(frames: np.ndarray, shot: Shot | None = None) -> TakeQuality:
    """Quality of `frames`; with the `shot` that asked for them, adherence to its controls."""
    from engine.camera import homographies
    from engine.metrics import brush_adherence, camera_adherence, flicker, warp_error
    from engine.motion import trajectory_offsets

    f = flicker(frames)
    w = warp_error(frames)
    camera, strokes = None, []
    t, height, width = frames.shape[:3]
    if shot is not None and t > 1:
        homs = homographies(shot.camera, t, width, height).astype(np.float64)  # (T, 3, 3)
        if shot.camera.keyframes:
            result = camera_adherence(frames, homs)
            error = _motion_in_widths(result.estimated, width) - _motion_in_widths(
                result.requested, width
            )
            moved = float(np.abs(_motion_in_widths(result.requested, width)).max()) > 0.01
            camera = CameraAdherence(
                moved,
                result.direction_ok,
                result.magnitude_ratio,
                100.0 * np.linalg.norm(error, axis=1),
            )
        for stroke in shot.strokes:
            if stroke.kind != "move" or len(stroke.trajectory) < 2 or stroke.strength == 0:
                continue
            region = cv2.resize(stroke.mask, (width, height), interpolation=cv2.INTER_LINEAR)
            if not (region > 0.5).any():
                continue
            anchor = np.array([stroke.trajectory[0].x, stroke.trajectory[0].y])
            path = anchor[None] + trajectory_offsets(stroke, t)  # (T, 2) on the keyframe, 0..1
            # where the camera shows that point in frame t: the region rides the camera too
            pixels = np.concatenate([path * [width, height] - 0.5, np.ones((t, 1))], 1)
            seen = np.einsum("tij,tj->ti", homs, pixels)
            on_screen = seen[:, :2] / seen[:, 2:3]  # (T, 2) pixels
            try:
                result = brush_adherence(frames, region > 0.5, on_screen)
            except KinemaError:
                continue
            strokes.append(
                StrokeAdherence(
                    stroke.name or "Stroke",
                    stroke.color,
                    result.mean_error_pct,
                    np.asarray(result.per_frame_error_pct),
                )
            )
    return TakeQuality(
        f.mean, np.asarray(f.per_frame), w.mean, np.asarray(w.per_frame), camera, tuple(strokes)
    )


def verdict(quality: TakeQuality) -> str:
    """One sentence a non-expert can act on."""
    if not math.isfinite(quality.flicker_mean):
        parts = ["Too much moves to judge flicker"]
    elif quality.flicker_mean < STEADY:
        parts = ["Steady picture"]
    elif quality.flicker_mean < FLICKERY:
        parts = ["A little flicker"]
    else:
        parts = ["Flickers noticeably: try more steps or another seed"]
    camera = quality.camera
    if camera is not None:
        percent = f"{camera.magnitude_ratio * 100:.0f} %"
        if not camera.requested_motion:
            parts.append(
                "the camera held still as asked" if camera.direction_ok else "the camera drifts"
            )
        elif not camera.direction_ok:
            parts.append("the camera did not move the way the path asks")
        elif camera.magnitude_ratio < CAMERA_RATIO[0]:
            parts.append(f"the camera moved the right way but only {percent} as far")
        elif camera.magnitude_ratio > CAMERA_RATIO[1]:
            parts.append(f"the camera moved the right way but too far ({percent})")
        else:
            parts.append(f"the camera moved as asked ({percent} of the move)")
    for stroke in quality.strokes:
        error = f"{stroke.mean_pct:.1f} % of the frame"
        if stroke.mean_pct < FOLLOWED:
            parts.append(f"“{stroke.name}” followed its path (within {error})")
        elif stroke.mean_pct < ROUGHLY:
            parts.append(f"“{stroke.name}” roughly followed its path (off by {error})")
        else:
            parts.append(f"“{stroke.name}” did not follow its path (off by {error})")
    return " · ".join(parts) + "."


class MetricsPanel(QWidget):
    def __init__(self, document: Document, take_cache: TakeCache, tasks: TaskRunner, parent=None):
        super().__init__(parent)
        self.document = document
        self.take_cache = take_cache
        self._tasks = tasks
        self._results: dict[str, TakeQuality] = {}
        self._measuring: set[str] = set()
        self._waiting_for_frames = ""
        self.watching = False  # True while the tab is in front: then takes are measured unasked
        self.title = QLabel(self)
        self.title.setObjectName("heading")
        self.summary = QLabel(self)
        self.summary.setObjectName("dim")
        self.measure_button = QPushButton("Measure", self)
        self.measure_button.setToolTip(
            "Measure flicker, warp error and how well the take followed the camera and strokes"
        )
        self.measure_button.clicked.connect(self.measure_active)
        pg.setConfigOptions(antialias=True)
        self.plot = pg.PlotWidget(background=theme.BASE)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.setLabel("bottom", "frame")
        self.plot.setLabel("left", "8-bit levels")
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.flicker_curve = self.plot.plot(pen=pg.mkPen(theme.WARNING, width=2), name="flicker")
        self.warp_curve = self.plot.plot(pen=pg.mkPen(theme.ACCENT, width=2), name="warp error")
        self.adherence_plot = pg.PlotWidget(background=theme.BASE)
        self.adherence_plot.showGrid(x=True, y=True, alpha=0.15)
        self.adherence_plot.setLabel("bottom", "frame")
        self.adherence_plot.setLabel("left", "off path, % of width")
        self.adherence_plot.getAxis("left").enableAutoSIPrefix(False)
        self.adherence_plot.setMouseEnabled(x=False, y=False)
        self.adherence_plot.setXLink(self.plot)
        self.adherence_curves: dict[str, pg.PlotDataItem] = {}
        self.adherence_plot.hide()
        self.verdict = QLabel(self)
        self.verdict.setWordWrap(True)
        self.verdict.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        # the legend grows with the strokes' names: it may be cut, never widen the window
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.verdict.setContentsMargins(8, 0, 8, 0)
        top = QHBoxLayout()
        top.setContentsMargins(8, 6, 8, 0)
        top.addWidget(self.title)
        top.addSpacing(8)
        top.addWidget(self.summary, 1)
        top.addWidget(self.measure_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.verdict)
        plots = QHBoxLayout()
        plots.setSpacing(2)
        plots.addWidget(self.plot, 1)
        plots.addWidget(self.adherence_plot, 1)
        layout.addLayout(plots, 1)
        document.current_shot_changed.connect(lambda _id: self.refresh())
        document.takes_changed.connect(lambda _id: self.refresh())
        document.project_replaced.connect(self._on_project_replaced)
        take_cache.loaded.connect(self._on_take_loaded)
        self.refresh()

    def _active(self):
        shot = self.document.current_shot
        return shot.active() if shot else None

    def refresh(self) -> None:
        take = self._active()
        if take is None:
            self.title.setText("No take")
            self.summary.setText("Generate the shot to measure its quality.")
            self.measure_button.setEnabled(False)
            self._plot(None)
            return
        self.title.setText(take.label or take.id)
        self.measure_button.setEnabled(
            take.id not in self._measuring and take.id not in self._results
        )
        result = self._results.get(take.id)
        if result is None:
            self.summary.setText(
                "Measuring…" if take.id in self._measuring else "Not measured yet."
            )
            self._plot(None)
            if self.watching:
                self.measure_active()
            return
        # the names in their curve's colour double as the plot's legend
        legend = [
            f'<span style="color:{theme.WARNING}">━ flicker</span> {result.flicker_mean:.2f}',
            f'<span style="color:{theme.ACCENT}">━ warp error</span> {result.warp_mean:.2f}',
        ]
        if result.camera is not None:
            legend.append(f'<span style="color:{theme.TEXT}">┅ camera</span>')
        for stroke in result.strokes:
            legend.append(f'<span style="color:{stroke.colour}">━ {stroke.name}</span>')
        self.summary.setText(" &nbsp; ".join(legend) + " &nbsp; (lower is better)")
        self.verdict.setText(verdict(result))
        self._plot(result)

    def _plot(self, result: TakeQuality | None) -> None:
        self.adherence_plot.clear()
        self.adherence_curves = {}
        if result is None:
            self.flicker_curve.setData([], [])
            self.warp_curve.setData([], [])
            self.verdict.setText("")
            self.adherence_plot.hide()
            return
        x = np.arange(1, len(result.flicker) + 1)
        self.flicker_curve.setData(x, np.nan_to_num(result.flicker))
        self.warp_curve.setData(x, np.nan_to_num(result.warp))
        if result.camera is not None:
            frames = np.arange(len(result.camera.per_frame))
            self.adherence_curves["camera"] = self.adherence_plot.plot(
                frames,
                result.camera.per_frame,
                pen=pg.mkPen(theme.TEXT, width=2, style=Qt.PenStyle.DashLine),
            )
        for stroke in result.strokes:
            frames = np.arange(len(stroke.per_frame))
            self.adherence_curves[stroke.name] = self.adherence_plot.plot(
                frames, stroke.per_frame, pen=pg.mkPen(stroke.colour, width=2)
            )
        self.adherence_plot.setVisible(bool(self.adherence_curves))

    def set_watching(self, watching: bool) -> None:
        """The tab came to the front (or went behind another); measure only when seen."""
        self.watching = watching
        if watching:
            self.refresh()

    def measure_active(self) -> None:
        take = self._active()
        folder = self.document.project.folder
        if take is None or folder is None or take.id in self._measuring or take.id in self._results:
            return
        frames = self.take_cache.request(folder, take)
        if frames is None:
            self._waiting_for_frames = take.id
            self.summary.setText("Loading the take…")
            return
        self._measuring.add(take.id)
        self.summary.setText("Measuring…")
        self.measure_button.setEnabled(False)
        take_id = take.id
        shot = self._requested_shot(take)
        self._tasks.submit(
            lambda ctx: measure(frames, shot),
            on_done=lambda result: self._on_measured(take_id, result),
            on_error=lambda error: self._on_failed(take_id, error),
            name="measure take",
        )

    def _requested_shot(self, take) -> Shot | None:
        """The shot as the take's request had it (what the take was asked to follow)."""
        data = take.request.get("shot") if isinstance(take.request, dict) else None
        if isinstance(data, dict):
            try:
                return Shot.from_dict(data)
            except KinemaError:
                pass
        return self.document.current_shot

    def _on_take_loaded(self, take_id: str, frames) -> None:
        if take_id == self._waiting_for_frames:
            self._waiting_for_frames = ""
            self.measure_active()

    def _on_measured(self, take_id: str, result: TakeQuality) -> None:
        self._measuring.discard(take_id)
        self._results[take_id] = result
        self.refresh()

    def _on_failed(self, take_id: str, error: BaseException) -> None:
        self._measuring.discard(take_id)
        self.summary.setText(f"Could not measure: {error}")
        self.measure_button.setEnabled(True)

    def _on_project_replaced(self) -> None:
        self._results.clear()
        self.refresh()
