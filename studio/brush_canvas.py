"""The motion-brush canvas: paint regions on the keyframe and draw where they go.

Tools, as in Runway's or Kling's motion brush:

- Brush (B): paint a region that moves; a soft round brush with size and hardness
- Static (S): paint a region that must stay put
- Erase (E): take paint away from the selected stroke
- Path (P): drag from the region to where it should go; drag a point of the path to move
  it, right-click it to pin when it is reached (the playhead's frame) or delete it

Each stroke has its colour and is listed with its visibility, strength and a Delete
button. Everything is stored normalised to the output frame (masks as rasters at their own
resolution, paths in 0..1), so strokes survive a change of output size; the picture under
the brush is the keyframe fitted to the output exactly as previs and the models see it
(or, on request, the frame of the active take under the playhead).

A gesture becomes one command when the mouse is released; while it lasts,
`strokes_previewed` carries the strokes as they would be, so the viewer can show the
previs before the edit is made.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from functools import lru_cache

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSignalBlocker, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QFont,
    QIcon,
    QImage,
    QPainter,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.errors import ProjectError
from engine.motion import MotionStroke, TrajectoryPoint
from engine.project import Shot

from . import theme
from .commands import AddStroke, RemoveStroke, ReplaceStroke
from .document import Document
from .overlays import paint_label, paint_trajectory, planned_ids
from .shortcuts import add_local_shortcuts

TOOLS = ("brush", "static", "erase", "path")
TOOL_LABELS = {"brush": "Brush", "static": "Static", "erase": "Erase", "path": "Path"}
TOOL_TIPS = {
    "brush": "Paint a region that moves (B)",
    "static": "Paint a region that must stay put (S)",
    "erase": "Erase paint from the selected stroke (E)",
    "path": "Drag from the region to where it goes; drag a point to move it, "
    "right-click it to time it (P)",
}
PALETTE = ("#ff5a36", "#3da5ff", "#5ccf7a", "#f0b54a", "#c38cff", "#4dd0c8", "#ff9ed2", "#e6e35a")
#: new masks are painted at the output size, with the long side at most this
MASK_MAX_SIDE = 768
#: a path point is added once the mouse moved this far (fraction of the frame width)
PATH_STEP = 0.008
#: the drawn path is simplified to within this (fraction of the frame width)
PATH_TOLERANCE = 0.004
MAX_PATH_POINTS = 24
HIT_PX = 9.0
TINT_ALPHA = 0.42


# ----------------------------------------------------------------------------- brush maths


@lru_cache(maxsize=16)
def brush_stamp(radius: float, hardness: float) -> np.ndarray:
    """(2r+1, 2r+1) float32: a soft round dab, 1 inside `hardness * radius`, 0 past `radius`.

    The fall-off in between is a smoothstep, so soft brushes leave no visible rings; a
    hardness of 1 still antialiases the edge over one pixel.
    """
    r = max(float(radius), 0.5)
    size = int(math.ceil(r))
    ys, xs = np.mgrid[-size : size + 1, -size : size + 1].astype(np.float32)
    distance = np.sqrt(xs * xs + ys * ys)
    inner = min(max(hardness, 0.0), 1.0) * r
    width = max(r - inner, 1.0)
    t = np.clip((distance - (r - width)) / width, 0.0, 1.0)
    stamp = (1.0 - t * t * (3.0 - 2.0 * t)).astype(np.float32)
    stamp.flags.writeable = False  # shared by the cache
    return stamp


def dab(mask: np.ndarray, x: float, y: float, stamp: np.ndarray, erase: bool = False) -> None:
    """Paint (or erase) one dab centred on mask pixel (x, y), in place, clipped to the mask."""
    h, w = mask.shape
    half = stamp.shape[0] // 2
    cx, cy = int(round(x)), int(round(y))
    x0, y0, x1, y1 = cx - half, cy - half, cx + half + 1, cy + half + 1
    sx0, sy0 = max(0, -x0), max(0, -y0)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x0 >= x1 or y0 >= y1:
        return
    part = stamp[sy0 : sy0 + (y1 - y0), sx0 : sx0 + (x1 - x0)]
    roi = mask[y0:y1, x0:x1]
    if erase:
        roi *= 1.0 - part
    else:
        np.maximum(roi, part, out=roi)


def paint_line(
    mask: np.ndarray,
    start: tuple[float, float],
    end: tuple[float, float],
    radius: float,
    hardness: float,
    erase: bool = False,
) -> None:
    """Dabs from `start` to `end` (mask pixels), a quarter radius apart, in place."""
    stamp = brush_stamp(round(radius * 2) / 2, round(hardness, 2))
    length = math.hypot(end[0] - start[0], end[1] - start[1])
    steps = max(1, int(math.ceil(length / max(radius * 0.25, 0.5))))
    for i in range(1, steps + 1):
        u = i / steps
        dab(
            mask,
            start[0] + (end[0] - start[0]) * u,
            start[1] + (end[1] - start[1]) * u,
            stamp,
            erase,
        )


def simplify_path(points: list[tuple[float, float]], tolerance: float = PATH_TOLERANCE):
    """Fewer points along the same line (Douglas-Peucker), ends kept, at most MAX_PATH_POINTS."""
    if len(points) <= 2:
        return list(points)
    scale = 10_000.0
    curve = (np.array(points, np.float64) * scale).astype(np.float32).reshape(-1, 1, 2)
    epsilon = tolerance * scale
    kept = cv2.approxPolyDP(curve, epsilon, False).reshape(-1, 2) / scale
    while len(kept) > MAX_PATH_POINTS:
        epsilon *= 1.5
        kept = cv2.approxPolyDP(curve, epsilon, False).reshape(-1, 2) / scale
    out = [tuple(map(float, p)) for p in kept]
    out[0], out[-1] = points[0], points[-1]
    return out


def mask_shape(width: int, height: int) -> tuple[int, int]:
    """(h, w) of a new stroke's mask for an output of `width` x `height`."""
    scale = min(1.0, MASK_MAX_SIDE / max(width, height))
    return max(1, round(height * scale)), max(1, round(width * scale))


def tint_image(mask: np.ndarray, colour: str, alpha: float) -> QImage:
    """The mask as a see-through layer of `colour` (a QImage owning its pixels)."""
    h, w = mask.shape
    c = QColor(colour)
    rgba = np.empty((h, w, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = c.red(), c.green(), c.blue()
    rgba[..., 3] = np.clip(mask * (255.0 * alpha), 0, 255).astype(np.uint8)
    image = QImage(rgba.data, w, h, w * 4, QImage.Format.Format_RGBA8888)
    return image.copy()


# ----------------------------------------------------------------------------- the canvas


@dataclasses.dataclass
class _Gesture:
    kind: str  # "paint" | "path" | "point"
    stroke: MotionStroke
    is_new: bool = False
    mask: np.ndarray | None = None  # paint: the working copy
    erase: bool = False
    last: tuple[float, float] = (0.0, 0.0)  # paint: last dab (mask px); path: last point
    points: list[tuple[float, float]] = dataclasses.field(default_factory=list)
    index: int = 0  # point: which path point


class BrushCanvas(QWidget):
    """The picture with the strokes over it; turns mouse gestures into stroke edits."""

    strokes_previewed = Signal(str, object)  # shot id, the strokes as the gesture makes them
    edit_finished = Signal(str)  # shot id: a gesture ended (its command, if any, is pushed)
    selection_changed = Signal(str)  # stroke id ("" for none)
    hint = Signal(str)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(240, 140)
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)  # as tall as the picture needs at this width
        self.setSizePolicy(policy)
        self.tool = "brush"
        self.size_px = 40.0  # brush diameter in output pixels
        self.hardness = 0.5
        self.playhead = 0
        self.selected_id = ""
        self.context_menu: QMenu | None = None
        self._base: QImage | None = None
        self._base_pixels: np.ndarray | None = None
        self._gesture: _Gesture | None = None
        self._hover: QPointF | None = None
        self._tints: dict[tuple, tuple[np.ndarray, QImage]] = {}

    # ------------------------------------------------------------------ content

    @property
    def shot(self) -> Shot | None:
        return self.document.current_shot

    def set_base(self, image: np.ndarray | None) -> None:
        if image is None:
            self._base, self._base_pixels = None, None
        else:
            image = np.ascontiguousarray(image)
            h, w = image.shape[:2]
            self._base = QImage(image.data, w, h, w * 3, QImage.Format.Format_RGB888)
            self._base_pixels = image
        self.update()

    def strokes(self) -> list[MotionStroke]:
        """The strokes as drawn now: the document's, with the gesture's edit in place."""
        shot = self.shot
        strokes = list(shot.strokes) if shot is not None else []
        g = self._gesture
        if g is None:
            return strokes
        edited = self._gesture_stroke(g, copy_mask=False)
        if g.is_new:
            return [*strokes, edited]
        return [edited if s.id == edited.id else s for s in strokes]

    def selected(self) -> MotionStroke | None:
        shot = self.shot
        if shot is None:
            return None
        return next((s for s in shot.strokes if s.id == self.selected_id), None)

    def select(self, stroke_id: str) -> None:
        if stroke_id != self.selected_id:
            self.selected_id = stroke_id
            self.selection_changed.emit(stroke_id)
            self.update()

    # ------------------------------------------------------------------ geometry

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        project = self.document.project
        return max(140, round((width - 16) * project.height / project.width) + 16)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(400, self.heightForWidth(400))

    def image_rect(self) -> QRectF:
        project = self.document.project
        iw, ih = project.width, project.height
        margin = 8
        scale = min((self.width() - 2 * margin) / iw, (self.height() - 2 * margin) / ih)
        scale = max(scale, 0.01)
        w, h = iw * scale, ih * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def to_norm(self, pos: QPointF) -> tuple[float, float]:
        rect = self.image_rect()
        return ((pos.x() - rect.x()) / rect.width(), (pos.y() - rect.y()) / rect.height())

    def widget_pos(self, u: float, v: float) -> QPointF:
        """Where normalised frame point (u, v) is on the canvas (tests aim with it)."""
        rect = self.image_rect()
        return QPointF(rect.x() + u * rect.width(), rect.y() + v * rect.height())

    def _mask_px(self, mask: np.ndarray, u: float, v: float) -> tuple[float, float]:
        h, w = mask.shape
        return u * w - 0.5, v * h - 0.5

    def _radius_px(self, mask: np.ndarray) -> float:
        """The brush radius in pixels of `mask` (the size is in output pixels)."""
        return self.size_px / 2 * mask.shape[1] / self.document.project.width

    # ------------------------------------------------------------------ painting

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(theme.VIEWER_BACKDROP))
        rect = self.image_rect()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if self._base is not None:
            painter.drawImage(rect, self._base)
        else:
            painter.setPen(QColor(theme.DIM_TEXT))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Loading the keyframe…")
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        strokes = self.strokes()
        live = self._gesture.stroke.id if self._gesture is not None else ""
        for stroke in strokes:
            if not stroke.visible and stroke.id != live:
                continue
            chosen = stroke.id == self.selected_id or stroke.id == live
            painter.drawImage(rect, self._tint(stroke, chosen, live == stroke.id))
        for stroke in strokes:
            if (stroke.visible or stroke.id == live) and stroke.kind == "move":
                self._paint_path(painter, stroke, rect, stroke.id in (self.selected_id, live))
        shot = self.shot
        planned = planned_ids(shot) if shot is not None else frozenset()
        for stroke in strokes:  # the storyboard's strokes say what they are
            if stroke.id in planned and stroke.visible and stroke.trajectory:
                start = stroke.trajectory[0]
                paint_label(
                    painter, self.widget_pos(start.x, start.y), stroke.name, QColor(stroke.color)
                )
        self._paint_cursor(painter)
        painter.end()

    def _tint(self, stroke: MotionStroke, chosen: bool, live: bool) -> QImage:
        alpha = TINT_ALPHA * (1.25 if chosen else 0.8)
        if live:  # its mask changes under the brush: no caching
            return tint_image(stroke.mask, stroke.color, alpha)
        key = (id(stroke.mask), stroke.color, chosen)
        hit = self._tints.get(key)
        if hit is not None and hit[0] is stroke.mask:
            return hit[1]
        if len(self._tints) > 32:
            self._tints.clear()
        image = tint_image(stroke.mask, stroke.color, alpha)
        self._tints[key] = (stroke.mask, image)  # the mask rides along: its id stays its own
        return image

    def _paint_path(self, painter: QPainter, stroke: MotionStroke, rect: QRectF, chosen) -> None:
        points = [self.widget_pos(p.x, p.y) for p in stroke.trajectory]
        if not points:
            return
        colour = QColor(stroke.color)
        paint_trajectory(painter, points, colour, width=2.5, arrow=11)
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        painter.setFont(small)
        for index, (point, spec) in enumerate(zip(points, stroke.trajectory)):
            radius = 5.5 if chosen else 4.0
            painter.setPen(QPen(QColor("#ffffff"), 1.5))
            painter.setBrush(QBrush(colour if index else QColor("#ffffff")))
            painter.drawEllipse(point, radius, radius)
            if spec.frame is not None:
                painter.setPen(QColor("#ffffff"))
                painter.drawText(point + QPointF(7, -6), f"f{spec.frame + 1:g}")

    def _paint_cursor(self, painter: QPainter) -> None:
        if self._hover is None or self.tool == "path":
            return
        rect = self.image_rect()
        radius = self.size_px / 2 * rect.width() / self.document.project.width
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(0, 0, 0, 160), 2.5))
        painter.drawEllipse(self._hover, radius, radius)
        painter.setPen(QPen(QColor("#ffffff"), 1.2))
        painter.drawEllipse(self._hover, radius, radius)
        if self.hardness < 0.95:
            inner = radius * self.hardness
            painter.setPen(QPen(QColor(255, 255, 255, 110), 1, Qt.PenStyle.DotLine))
            painter.drawEllipse(self._hover, inner, inner)

    # ------------------------------------------------------------------ mouse

    def mousePressEvent(self, event) -> None:  # noqa: N802
        shot = self.shot
        if shot is None or self._gesture is not None:
            return
        u, v = self.to_norm(event.position())
        if event.button() == Qt.MouseButton.RightButton:
            hit = self._hit_point(event.position())
            if hit is not None:
                self._show_point_menu(*hit, event.globalPosition().toPoint())
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        if self.tool == "path":
            self._start_path(u, v, event.position())
        else:
            self._start_paint(u, v)
        self.update()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        self._hover = event.position()
        g = self._gesture
        if g is None:
            self.update()
            return
        u, v = self.to_norm(event.position())
        if g.kind == "paint":
            here = self._mask_px(g.mask, u, v)
            paint_line(g.mask, g.last, here, self._radius_px(g.mask), self.hardness, g.erase)
            g.last = here
        elif g.kind == "path":
            last = g.points[-1]
            if math.hypot(u - last[0], v - last[1]) >= PATH_STEP:
                g.points.append(_on_frame(u, v))
        elif g.kind == "point":
            g.points[g.index] = _on_frame(u, v)
        self._preview()
        self.update()

    def leaveEvent(self, event) -> None:  # noqa: N802
        self._hover = None
        self.update()
        super().leaveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        g = self._gesture
        if g is None or event.button() != Qt.MouseButton.LeftButton:
            return
        u, v = self.to_norm(event.position())
        if g.kind == "path" and math.hypot(u - g.points[-1][0], v - g.points[-1][1]) > 1e-4:
            g.points.append(_on_frame(u, v))
        self._gesture = None
        self._commit(g)
        self.update()
        if self.shot is not None:
            self.edit_finished.emit(self.shot.id)

    def _start_paint(self, u: float, v: float) -> None:
        shot = self.shot
        current = self.selected()
        erase = self.tool == "erase"
        if erase:
            if current is None:
                self.hint.emit("Select a stroke to erase from.")
                return
            target, is_new = current, False
        else:
            kind = "static" if self.tool == "static" else "move"
            if current is not None and current.kind == kind:
                target, is_new = current, False
            else:
                target, is_new = self._new_stroke(shot, kind), True
        mask = np.array(target.mask, np.float32, copy=True)
        here = self._mask_px(mask, u, v)
        dab(
            mask,
            *here,
            brush_stamp(round(self._radius_px(mask) * 2) / 2, round(self.hardness, 2)),
            erase,
        )
        self._gesture = _Gesture("paint", target, is_new, mask, erase, here)
        self._preview()

    def _start_path(self, u: float, v: float, pos: QPointF) -> None:
        current = self.selected()
        if current is None or current.kind != "move":
            self.hint.emit("Paint a moving region with the Brush first, then draw its path.")
            return
        hit = self._hit_point(pos)
        points = [(p.x, p.y) for p in current.trajectory]
        if hit is not None and hit[0].id == current.id:
            self._gesture = _Gesture("point", current, points=points, index=hit[1])
        else:
            self._gesture = _Gesture("path", current, points=[_on_frame(u, v)])

    def _gesture_stroke(self, g: _Gesture, copy_mask: bool = True) -> MotionStroke:
        if g.kind == "paint":
            mask = g.mask.copy() if copy_mask else g.mask
            return dataclasses.replace(g.stroke, mask=mask)
        if g.kind == "path":
            return dataclasses.replace(
                g.stroke, trajectory=[TrajectoryPoint(x, y) for x, y in g.points]
            )
        old = g.stroke.trajectory
        return dataclasses.replace(
            g.stroke,
            trajectory=[
                TrajectoryPoint(x, y, old[i].frame if i < len(old) else None)
                for i, (x, y) in enumerate(g.points)
            ],
        )

    def _preview(self) -> None:
        shot = self.shot
        g = self._gesture
        if shot is None or g is None:
            return
        edited = self._gesture_stroke(g)
        if g.is_new:
            strokes = [*shot.strokes, edited]
        else:
            strokes = [edited if s.id == edited.id else s for s in shot.strokes]
        self.strokes_previewed.emit(shot.id, strokes)

    def _commit(self, g: _Gesture) -> None:
        shot = self.shot
        if shot is None:
            return
        doc = self.document
        if g.kind == "paint":
            # in 8-bit steps, as the project file stores masks: what the document holds, the
            # previs shows and a saved and reopened project (or a backend) reads are the same
            mask = np.rint(np.clip(g.mask, 0.0, 1.0) * 255.0) / np.float32(255.0)
            stroke = dataclasses.replace(g.stroke, mask=mask.astype(np.float32))
            g.mask = None
            stroke.mask.flags.writeable = False
            if g.is_new:
                doc.push(AddStroke(doc, shot.id, stroke, text=f"Paint {stroke.name}"))
                self.select(stroke.id)
                if stroke.kind == "move":
                    self.hint.emit("Now pick Path (P) and drag from the region to where it goes.")
            else:
                text = "Erase region" if g.erase else "Paint region"
                doc.push(ReplaceStroke(doc, shot.id, stroke, f"{text} of {stroke.name}"))
            return
        if g.kind == "path":
            g.points = simplify_path(g.points)
            if len(g.points) < 2:
                self.hint.emit("Drag from the region to where it should go to draw its path.")
                return
            stroke = self._gesture_stroke(g)
            doc.push(ReplaceStroke(doc, shot.id, stroke, f"Draw path of {stroke.name}"))
            self.hint.emit(
                "Press Space to watch it move. Drag a point to reshape the path; right-click "
                "it to pin when it is reached."
            )
            return
        stroke = self._gesture_stroke(g)
        if [(p.x, p.y) for p in stroke.trajectory] != [(p.x, p.y) for p in g.stroke.trajectory]:
            doc.push(ReplaceStroke(doc, shot.id, stroke, f"Move path point of {stroke.name}"))

    def _new_stroke(self, shot: Shot, kind: str) -> MotionStroke:
        used = {s.color for s in shot.strokes}
        colour = next((c for c in PALETTE if c not in used), PALETTE[len(shot.strokes) % 8])
        number = len(shot.strokes) + 1
        name = f"Static {number}" if kind == "static" else f"Stroke {number}"
        project = self.document.project
        mask = np.zeros(mask_shape(project.width, project.height), np.float32)
        return MotionStroke(mask=mask, kind=kind, name=name, color=colour)

    # ------------------------------------------------------------------ path points

    def _hit_point(self, pos: QPointF) -> tuple[MotionStroke, int] | None:
        shot = self.shot
        if shot is None:
            return None
        order = sorted(shot.strokes, key=lambda s: s.id != self.selected_id)
        for stroke in order:
            if not stroke.visible or stroke.kind != "move":
                continue
            for index, point in enumerate(stroke.trajectory):
                p = self.widget_pos(point.x, point.y)
                if math.hypot(p.x() - pos.x(), p.y() - pos.y()) <= HIT_PX:
                    return stroke, index
        return None

    def _show_point_menu(self, stroke: MotionStroke, index: int, global_pos) -> None:
        self.select(stroke.id)
        menu = QMenu(self)
        frame = self.playhead
        timed = QAction(f"Reach this point at frame {frame + 1} (the playhead)", menu)
        timed.triggered.connect(lambda: self.set_point_frame(stroke.id, index, frame))
        menu.addAction(timed)
        clear = QAction("Clear its timing", menu)
        clear.setEnabled(stroke.trajectory[index].frame is not None)
        clear.triggered.connect(lambda: self.set_point_frame(stroke.id, index, None))
        menu.addAction(clear)
        menu.addSeparator()
        delete = QAction("Delete point", menu)
        delete.triggered.connect(lambda: self.delete_point(stroke.id, index))
        menu.addAction(delete)
        self.context_menu = menu
        menu.popup(global_pos)

    def set_point_frame(self, stroke_id: str, index: int, frame: int | None) -> None:
        shot = self.shot
        stroke = next((s for s in shot.strokes if s.id == stroke_id), None) if shot else None
        if stroke is None or not 0 <= index < len(stroke.trajectory):
            return
        points = list(stroke.trajectory)
        points[index] = dataclasses.replace(
            points[index], frame=None if frame is None else float(frame)
        )
        edited = dataclasses.replace(stroke, trajectory=points)
        try:
            edited.validate()
        except ProjectError:
            self.hint.emit(
                "Timed points must come in order: each one later than the timed point before it."
            )
            return
        text = "Clear point timing" if frame is None else f"Time path point at frame {frame + 1}"
        self.document.push(ReplaceStroke(self.document, shot.id, edited, text))
        self.edit_finished.emit(shot.id)

    def delete_point(self, stroke_id: str, index: int) -> None:
        shot = self.shot
        stroke = next((s for s in shot.strokes if s.id == stroke_id), None) if shot else None
        if stroke is None or not 0 <= index < len(stroke.trajectory):
            return
        points = [p for i, p in enumerate(stroke.trajectory) if i != index]
        edited = dataclasses.replace(stroke, trajectory=points)
        self.document.push(ReplaceStroke(self.document, shot.id, edited, "Delete path point"))
        self.edit_finished.emit(shot.id)


def _on_frame(u: float, v: float) -> tuple[float, float]:
    return min(max(u, 0.0), 1.0), min(max(v, 0.0), 1.0)


# ----------------------------------------------------------------------------- the panel


class BrushPanel(QWidget):
    """The dock's content: tools, brush settings, the canvas and the stroke list."""

    strokes_previewed = Signal(str, object)
    edit_finished = Signal(str)

    def __init__(
        self,
        document: Document,
        base_image: Callable[[Shot], np.ndarray | None],
        take_frame: Callable[[], np.ndarray | None] = lambda: None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self._base_image = base_image
        self._take_frame = take_frame
        self.canvas = BrushCanvas(document, self)
        self.canvas.strokes_previewed.connect(self.strokes_previewed)
        self.canvas.edit_finished.connect(self.edit_finished)
        self.canvas.selection_changed.connect(lambda _id: self._refresh_stroke_controls())
        self.canvas.hint.connect(self._show_hint)
        self._build()
        document.current_shot_changed.connect(lambda _id: self.refresh(reload=True))
        document.project_replaced.connect(lambda: self.refresh(reload=True))
        document.project_changed.connect(lambda: self.refresh(reload=True))
        document.shot_changed.connect(self._on_shot_changed)
        self.refresh(reload=True)

    def _build(self) -> None:
        tools = QHBoxLayout()
        tools.setContentsMargins(6, 4, 6, 0)
        tools.setSpacing(3)
        self.tool_buttons: dict[str, QToolButton] = {}
        group = QButtonGroup(self)
        group.setExclusive(True)
        for tool in TOOLS:
            button = QToolButton(self)
            button.setText(TOOL_LABELS[tool])
            button.setCheckable(True)
            button.setToolTip(TOOL_TIPS[tool])
            button.clicked.connect(lambda _c=False, t=tool: self.set_tool(t))
            group.addButton(button)
            self.tool_buttons[tool] = button
            tools.addWidget(button)
        add_local_shortcuts(
            self, [(f"brush_{tool}", lambda t=tool: self.set_tool(t)) for tool in TOOLS]
        )
        self.tool_buttons["brush"].setChecked(True)
        tools.addStretch(1)
        self.source_box = QComboBox(self)
        self.source_box.addItem("Keyframe", "keyframe")
        self.source_box.addItem("Take frame", "take")
        self.source_box.setToolTip(
            "Paint over the keyframe, or over the active take's frame under the playhead"
        )
        self.source_box.activated.connect(lambda _i: self.refresh(reload=True))
        self.source_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.source_box.setMinimumContentsLength(8)
        tools.addWidget(self.source_box)

        brush = QHBoxLayout()
        brush.setContentsMargins(6, 0, 6, 0)
        brush.setSpacing(4)
        self.size_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.size_slider.setRange(2, 300)
        self.size_slider.setValue(int(self.canvas.size_px))
        self.size_slider.setToolTip("Brush size in output pixels ([ and ] change it)")
        self.size_slider.valueChanged.connect(self._on_size)
        self.size_label = QLabel(self)
        self.size_label.setObjectName("dim")
        self.size_label.setMinimumWidth(44)
        self.hardness_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.hardness_slider.setRange(0, 100)
        self.hardness_slider.setValue(int(self.canvas.hardness * 100))
        self.hardness_slider.setToolTip("Brush hardness: soft edges at 0, a crisp edge at 100")
        self.hardness_slider.valueChanged.connect(self._on_hardness)
        self.hardness_label = QLabel(self)
        self.hardness_label.setObjectName("dim")
        self.hardness_label.setMinimumWidth(34)
        brush.addWidget(QLabel("Size", self))
        brush.addWidget(self.size_slider, 1)
        brush.addWidget(self.size_label)
        brush.addWidget(QLabel("Hardness", self))
        brush.addWidget(self.hardness_slider, 1)
        brush.addWidget(self.hardness_label)
        add_local_shortcuts(
            self,
            (
                ("brush_smaller", lambda: self._scale_brush(1 / 1.2)),
                ("brush_larger", lambda: self._scale_brush(1.2)),
            ),
        )

        self.list = QListWidget(self)
        self.list.setMinimumHeight(60)
        self.list.currentItemChanged.connect(self._on_current_item)
        self.list.itemChanged.connect(self._on_item_changed)
        self.strength_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.strength_slider.setRange(0, 100)
        self.strength_slider.setToolTip(
            "How far the region travels along its path (100 %: all the way)"
        )
        self.strength_slider.valueChanged.connect(self._on_strength)
        self.strength_label = QLabel(self)
        self.strength_label.setObjectName("dim")
        self.strength_label.setMinimumWidth(40)
        self.delete_button = QPushButton("Delete stroke", self)
        self.delete_button.setToolTip("Delete the selected stroke (undoable)")
        self.delete_button.clicked.connect(self.delete_selected)
        row = QHBoxLayout()
        row.setContentsMargins(6, 0, 6, 4)
        row.addWidget(QLabel("Strength", self))
        row.addWidget(self.strength_slider, 1)
        row.addWidget(self.strength_label)
        row.addWidget(self.delete_button)
        self.hint_label = QLabel(self)
        self.hint_label.setObjectName("dim")
        self.hint_label.setWordWrap(True)
        # room for two lines, always: a hint appearing must not resize the canvas mid-stroke
        self.hint_label.setFixedHeight(self.hint_label.fontMetrics().lineSpacing() * 2 + 4)
        self.hint_label.setContentsMargins(6, 0, 6, 0)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addLayout(tools)
        layout.addLayout(brush)
        layout.addWidget(self.canvas)
        layout.addWidget(self.hint_label)
        layout.addWidget(self.list, 1)
        layout.addLayout(row)
        self._on_size(self.size_slider.value())
        self._on_hardness(self.hardness_slider.value())

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(420, 520)

    # ------------------------------------------------------------------ tools

    def set_tool(self, tool: str) -> None:
        self.canvas.tool = tool
        self.tool_buttons[tool].setChecked(True)
        self.canvas.update()

    def set_playhead(self, frame: int) -> None:
        self.canvas.playhead = int(frame)
        if self.source_box.currentData() == "take":
            self.refresh(reload=True)

    def _scale_brush(self, factor: float) -> None:
        value = self.size_slider.value()
        self.size_slider.setValue(max(round(value * factor), value + (1 if factor > 1 else -1)))

    def _on_size(self, value: int) -> None:
        self.canvas.size_px = float(value)
        self.size_label.setText(f"{value} px")
        self.canvas.update()

    def _on_hardness(self, value: int) -> None:
        self.canvas.hardness = value / 100
        self.hardness_label.setText(f"{value} %")

    def _show_hint(self, text: str) -> None:
        self.hint_label.setText(text)

    # ------------------------------------------------------------------ document

    def _on_shot_changed(self, shot_id: str) -> None:
        if shot_id == self.document.current_shot_id:
            self.refresh(reload=False)

    def refresh(self, reload: bool = True) -> None:
        shot = self.document.current_shot
        self.setEnabled(shot is not None)
        if reload:
            self.reload_base()
        strokes = shot.strokes if shot is not None else []
        if self.canvas.selected_id and not any(s.id == self.canvas.selected_id for s in strokes):
            self.canvas.select(strokes[-1].id if strokes else "")
        if not self.canvas.selected_id and strokes:
            self.canvas.select(strokes[-1].id)
        with QSignalBlocker(self.list):
            self.list.clear()
            for stroke in strokes:
                item = QListWidgetItem(
                    f"{stroke.name or 'Stroke'}"
                    + (
                        " · static"
                        if stroke.kind == "static"
                        else f" · {len(stroke.trajectory)} points"
                    )
                )
                item.setData(Qt.ItemDataRole.UserRole, stroke.id)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(
                    Qt.CheckState.Checked if stroke.visible else Qt.CheckState.Unchecked
                )
                item.setToolTip("Tick to show it on the canvas and in the viewer")
                pixmap = QPixmap(12, 12)
                pixmap.fill(QColor(stroke.color))
                item.setIcon(QIcon(pixmap))
                self.list.addItem(item)
                if stroke.id == self.canvas.selected_id:
                    self.list.setCurrentItem(item)
        if not strokes:
            self.hint_label.setText(
                "Paint a region with the Brush, then draw where it goes with Path. "
                "Static keeps a region still."
            )
        self._refresh_stroke_controls()
        self.canvas.update()

    def on_base_ready(self, shot_id: str) -> None:
        """The picture for `shot_id` finished loading (wired to `LivePrevis.base_ready`)."""
        if shot_id == self.document.current_shot_id:
            self.reload_base()

    def reload_base(self) -> None:
        shot = self.document.current_shot
        image = None
        if shot is not None:
            if self.source_box.currentData() == "take":
                frame = self._take_frame()
                if frame is not None:
                    import cv2

                    project = self.document.project
                    image = cv2.resize(
                        frame, (project.width, project.height), interpolation=cv2.INTER_AREA
                    )
            if image is None:
                image = self._base_image(shot)
        self.canvas.set_base(image)

    def _refresh_stroke_controls(self) -> None:
        stroke = self.canvas.selected()
        self.delete_button.setEnabled(stroke is not None)
        self.strength_slider.setEnabled(stroke is not None and stroke.kind == "move")
        with QSignalBlocker(self.strength_slider):
            self.strength_slider.setValue(round((stroke.strength if stroke else 1.0) * 100))
        self.strength_label.setText(f"{self.strength_slider.value()} %")
        for index in range(self.list.count()):
            item = self.list.item(index)
            if item.data(Qt.ItemDataRole.UserRole) == self.canvas.selected_id:
                with QSignalBlocker(self.list):
                    self.list.setCurrentItem(item)

    def _on_current_item(self, item: QListWidgetItem | None, _previous) -> None:
        if item is not None:
            self.canvas.select(item.data(Qt.ItemDataRole.UserRole))

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        shot = self.document.current_shot
        stroke_id = item.data(Qt.ItemDataRole.UserRole)
        stroke = next((s for s in shot.strokes if s.id == stroke_id), None) if shot else None
        if stroke is None:
            return
        visible = item.checkState() == Qt.CheckState.Checked
        if visible != stroke.visible:
            edited = dataclasses.replace(stroke, visible=visible)
            text = f"{'Show' if visible else 'Hide'} {stroke.name}"
            self.document.push(ReplaceStroke(self.document, shot.id, edited, text))

    def _on_strength(self, value: int) -> None:
        self.strength_label.setText(f"{value} %")
        shot = self.document.current_shot
        stroke = self.canvas.selected()
        if shot is None or stroke is None or round(stroke.strength * 100) == value:
            return
        edited = dataclasses.replace(stroke, strength=value / 100)
        self.document.push(
            ReplaceStroke(
                self.document,
                shot.id,
                edited,
                f"Change strength of {stroke.name}",
                merge="strength",
            )
        )

    def delete_selected(self) -> None:
        shot = self.document.current_shot
        stroke = self.canvas.selected()
        if shot is not None and stroke is not None:
            self.document.push(RemoveStroke(self.document, shot.id, stroke.id))
            self.edit_finished.emit(shot.id)
