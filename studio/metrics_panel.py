"""Per-frame quality of the active take: flicker and temporal warp error (engine.metrics).

Measuring runs optical flow over the clip, so it happens on a worker thread and only
when this tab is visible (or Measure is pressed); results are kept per take.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from . import theme
from .document import Document
from .take_cache import TakeCache
from .tasks import TaskRunner


@dataclass(frozen=True)
class TakeQuality:
    flicker_mean: float
    flicker: np.ndarray  # (T-1,)
    warp_mean: float
    warp: np.ndarray  # (T-1,)


def measure(frames: np.ndarray) -> TakeQuality:
    from engine.metrics import flicker, warp_error

    f = flicker(frames)
    w = warp_error(frames)
    return TakeQuality(f.mean, np.asarray(f.per_frame), w.mean, np.asarray(w.per_frame))


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
        self.measure_button.setToolTip("Measure flicker and warp error of the active take")
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
        top = QHBoxLayout()
        top.setContentsMargins(8, 6, 8, 0)
        top.addWidget(self.title)
        top.addSpacing(8)
        top.addWidget(self.summary, 1)
        top.addWidget(self.measure_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.plot, 1)
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
        self.summary.setText(
            f'<span style="color:{theme.WARNING}">━ flicker</span> {result.flicker_mean:.2f}'
            f' &nbsp; <span style="color:{theme.ACCENT}">━ warp error</span> '
            f"{result.warp_mean:.2f} &nbsp; (lower is steadier)"
        )
        self._plot(result)

    def _plot(self, result: TakeQuality | None) -> None:
        if result is None:
            self.flicker_curve.setData([], [])
            self.warp_curve.setData([], [])
            return
        x = np.arange(1, len(result.flicker) + 1)
        self.flicker_curve.setData(x, np.nan_to_num(result.flicker))
        self.warp_curve.setData(x, np.nan_to_num(result.warp))

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
        self._tasks.submit(
            lambda ctx: measure(frames),
            on_done=lambda result: self._on_measured(take_id, result),
            on_error=lambda error: self._on_failed(take_id, error),
            name="measure take",
        )

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
