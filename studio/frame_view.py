"""The picture itself: one frame painted at fit or 100 %, with overlays, accepting drops.

`frame_to_qimage` wraps the numpy frame's memory (no copy): the engine's frames are
C-contiguous uint8 RGB, which is exactly `QImage.Format_RGB888`. A frame that is not
contiguous (a crop, a strided view) is copied once. The view keeps the array alive as long
as the QImage refers to it. Painting then scales straight from that buffer.

Comparing two takes, the view shows a split wipe: A left of a vertical divider, B right of
it; the divider follows the mouse while dragged (anywhere on the picture at fit, by its
handle when zoomed, where a drag pans).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QImage,
    QPainter,
    QPen,
    QPolygonF,
    QTransform,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from engine.media import IMAGE_EXTS, VIDEO_EXTS

from . import theme
from .overlays import (
    REGION_ALPHA,
    CameraOverlay,
    StrokeOverlay,
    paint_chip,
    paint_label,
    paint_obedience,
    paint_obedience_legend,
    paint_trajectory,
)

ZOOM_FIT = 0.0  # any other value is a scale factor (1.0 is 100 %)


def frame_to_qimage(frame: np.ndarray) -> tuple[QImage, np.ndarray]:
    """A QImage over `frame`'s pixels and the array that must outlive it (at most one copy)."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected a uint8 (H, W, 3) RGB frame, got {frame.dtype} {frame.shape}")
    if not frame.flags.c_contiguous:
        frame = np.ascontiguousarray(frame)
    height, width = frame.shape[:2]
    image = QImage(frame.data, width, height, width * 3, QImage.Format.Format_RGB888)
    return image, frame


def is_media_file(path: str) -> bool:
    return Path(path).suffix.lower() in (*IMAGE_EXTS, *VIDEO_EXTS)


def _qtransform(h: np.ndarray) -> QTransform:
    """A column-vector 3x3 homography as Qt's row-vector QTransform."""
    return QTransform(
        h[0, 0], h[1, 0], h[2, 0], h[0, 1], h[1, 1], h[2, 1], h[0, 2], h[1, 2], h[2, 2]
    )


#: how near the divider (pixels) a press grabs it
WIPE_GRAB_PX = 12


class FrameView(QWidget):
    media_dropped = Signal(str)  # a local image or video file was dropped on the picture
    wipe_moved = Signal(float)  # the divider's place across the picture, 0..1

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 180)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._image: QImage | None = None
        self._pixels: np.ndarray | None = None  # keeps the QImage's memory alive
        self._index = -1
        self._painted_index = -1
        self.presented_frames = 0  # paints that showed a new frame (playback measurement)
        self.paint_seconds = 0.0  # time spent painting frames, for the viewer benchmark
        self.zoom = ZOOM_FIT
        self._pan = QPointF(0, 0)
        self._drag_from: QPointF | None = None
        self.smooth = True
        self.overlay_mode = "keyframe"  # "keyframe": camera quads; "clip": framing guides
        self.camera: CameraOverlay | None = None
        self.strokes: list[StrokeOverlay] = []
        self.show_camera = True
        self.show_strokes = True
        self.message = ""
        self.badge = ""
        self.badge_b = ""  # the B side's badge while wiping
        self.note = ""  # a quiet line under the picture ("strokes changed since this take")
        self._compare_image: QImage | None = None
        self._compare_pixels: np.ndarray | None = None
        self.wipe = 0.5  # the divider's place across the picture while comparing, 0..1
        self._wiping = False  # the divider is being dragged
        self.obedience = None  # engine.obedience.Obedience of the take on screen, or None
        self.obedience_message = ""  # why there is none to draw ("" when the overlay is off)
        self._drop_hover = False

    # ------------------------------------------------------------------ content

    def set_frame(
        self, frame: np.ndarray | None, index: int = 0, compare: np.ndarray | None = None
    ) -> None:
        """Show `frame`; with `compare`, split it: `frame` left of the divider, `compare` right."""
        if frame is None:
            self._image, self._pixels = None, None
        else:
            self._image, self._pixels = frame_to_qimage(frame)
        if compare is None or frame is None:
            if self._compare_image is not None:
                self.unsetCursor()
            self._compare_image, self._compare_pixels = None, None
        else:
            self._compare_image, self._compare_pixels = frame_to_qimage(compare)
        self._index = index
        self.update()

    @property
    def splitting(self) -> bool:
        return self._compare_image is not None and self._image is not None

    def divider_x(self) -> float:
        """The divider's x in widget coordinates."""
        target = self.image_rect()
        return target.x() + target.width() * self.wipe

    def set_obedience(self, result, message: str = "") -> None:
        self.obedience, self.obedience_message = result, message
        self.update()

    def set_overlays(self, camera: CameraOverlay | None, strokes: list[StrokeOverlay]) -> None:
        self.camera, self.strokes = camera, strokes
        self.update()

    def set_zoom(self, zoom: float) -> None:
        self.zoom = zoom
        self._pan = QPointF(0, 0)
        self.update()

    @property
    def image_size(self) -> tuple[int, int] | None:
        return None if self._image is None else (self._image.width(), self._image.height())

    @property
    def has_image(self) -> bool:
        return self._image is not None

    def image_rect(self) -> QRectF:
        """Where the picture lands in widget coordinates."""
        if self._image is None:
            return QRectF()
        iw, ih = self._image.width(), self._image.height()
        if self.zoom == ZOOM_FIT:
            margin = 12
            scale = min((self.width() - 2 * margin) / iw, (self.height() - 2 * margin) / ih)
            scale = max(scale, 0.01)
        else:
            scale = self.zoom
        w, h = iw * scale, ih * scale
        x = (self.width() - w) / 2 + self._pan.x()
        y = (self.height() - h) / 2 + self._pan.y()
        return QRectF(x, y, w, h)

    # ------------------------------------------------------------------ painting

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        started = time.perf_counter()
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(theme.VIEWER_BACKDROP))
        if self._image is not None:
            target = self.image_rect()
            if self.smooth:
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(target, self._image)
            if self.splitting:
                self._paint_compare(painter, target)
            if self._index != self._painted_index:
                self._painted_index = self._index
                self.presented_frames += 1
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.save()
            if self.splitting:  # the overlays belong to A: they stop at the divider
                painter.setClipRect(
                    QRectF(target.topLeft(), QPointF(self.divider_x(), target.bottom()))
                )
            if self.obedience is not None and not self.obedience.empty:
                self._paint_obedience(painter, target)
            else:  # the usual overlays, under a line saying why there is no comparison
                self._paint_overlays(painter, target)
                if self.obedience_message or self.obedience is not None:
                    self._paint_obedience(painter, target)
            painter.restore()
            if self.splitting:
                self._paint_divider(painter, target)
            if self.note:
                bottom = QRectF(
                    target.left() + 10, target.top(), target.width() - 20, target.height() - 10
                )
                paint_chip(
                    painter,
                    bottom,
                    self.note,
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
                    dim=True,
                )
        if self.message:
            self._paint_message(painter)
        if self.badge and self._image is not None:
            self._paint_badge(painter)
        if self._drop_hover:
            painter.setPen(QPen(QColor(theme.ACCENT), 3, Qt.PenStyle.DashLine))
            painter.drawRect(self.rect().adjusted(2, 2, -3, -3))
        painter.end()
        self.paint_seconds += time.perf_counter() - started

    def _paint_compare(self, painter: QPainter, target: QRectF) -> None:
        """B right of the divider, scaled onto the same rectangle as A."""
        split = self.divider_x()
        right = QRectF(QPointF(split, target.top()), target.bottomRight())
        source_width = self._compare_image.width()
        source = QRectF(
            source_width * self.wipe,
            0,
            source_width * (1 - self.wipe),
            self._compare_image.height(),
        )
        painter.drawImage(right, self._compare_image, source)

    def _paint_divider(self, painter: QPainter, target: QRectF) -> None:
        x = self.divider_x()
        painter.setPen(QPen(QColor(0, 0, 0, 160), 3))
        painter.drawLine(QPointF(x, target.top()), QPointF(x, target.bottom()))
        painter.setPen(QPen(QColor("#ffffff"), 1.5))
        painter.drawLine(QPointF(x, target.top()), QPointF(x, target.bottom()))
        handle = QRectF(x - 7, target.center().y() - 18, 14, 36)
        painter.setPen(QPen(QColor(0, 0, 0, 160), 1))
        painter.setBrush(QColor("#ffffff"))
        painter.drawRoundedRect(handle, 5, 5)
        painter.setPen(QPen(QColor(40, 44, 48), 1.2))
        for dx in (-2.5, 2.5):
            painter.drawLine(
                QPointF(x + dx, handle.top() + 10), QPointF(x + dx, handle.bottom() - 10)
            )

    def _paint_obedience(self, painter: QPainter, target: QRectF) -> None:
        to_widget = QTransform(target.width(), 0, 0, target.height(), target.x(), target.y())
        inner = target.adjusted(10, 10, -10, -10)
        result = self.obedience
        if result is None or result.empty:
            text = self.obedience_message or (result.message if result is not None else "")
            paint_chip(painter, inner.adjusted(0, 34, 0, 0), text, Qt.AlignmentFlag.AlignHCenter)
            return
        painter.save()
        painter.setClipRect(target, Qt.ClipOperation.IntersectClip)
        labels = paint_obedience(painter, result, max(self._index, 0), to_widget)
        painter.restore()
        for anchor, text, colour in labels:
            paint_label(painter, anchor, text, colour)
        paint_obedience_legend(painter, inner, result.camera is not None)
        lines = []
        if result.camera is not None:
            lines.append(result.camera.summary)
        lines += list(result.skipped)
        box = QRectF(
            inner.left(), inner.top(), inner.width(), inner.height() - (30 if self.note else 0)
        )
        for line in reversed(lines):
            chip = paint_chip(
                painter, box, line, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom
            )
            box.setBottom(chip.top() - 4)

    def _paint_overlays(self, painter: QPainter, target: QRectF) -> None:
        to_widget = QTransform(target.width(), 0, 0, target.height(), target.x(), target.y())
        frame = max(self._index, 0)
        if self.show_strokes and self.strokes:
            # Strokes live on the keyframe; in generated frames the camera has moved them.
            placed = to_widget
            painter.save()
            if self.overlay_mode == "clip":  # a region the camera carried off-frame is not seen
                painter.setClipRect(target, Qt.ClipOperation.IntersectClip)
                if self.camera is not None:
                    placed = _qtransform(self.camera.homography(frame)) * to_widget
            for stroke in self.strokes:
                self._paint_stroke(painter, stroke, frame, placed)
            painter.restore()
        if self.show_camera:
            if self.overlay_mode == "keyframe" and self.camera is not None:
                self._paint_camera(painter, frame, to_widget)
            elif self.overlay_mode == "clip":
                self._paint_guides(painter, target)

    def _paint_stroke(
        self, painter: QPainter, stroke: StrokeOverlay, frame: int, placed: QTransform
    ) -> None:
        offset = stroke.offset(frame)
        # In generated frames the region has travelled with its anchor; on the keyframe it has not.
        shift = offset if self.overlay_mode == "clip" else np.zeros(2, np.float32)
        colour = QColor(stroke.color)
        moved = QTransform.fromTranslate(float(shift[0]), float(shift[1])) * placed
        outline = moved.map(stroke.region)
        fill = QColor(colour)
        fill.setAlphaF(REGION_ALPHA)
        painter.fillPath(outline, fill)
        edge = QColor(colour)
        edge.setAlphaF(0.85)
        painter.setPen(QPen(edge, 1.5, Qt.PenStyle.DashLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(outline)
        if stroke.kind == "move" and len(stroke.offsets) > 1:
            points = [placed.map(QPointF(float(x), float(y))) for x, y in stroke.path]
            paint_trajectory(painter, points, colour, width=2, arrow=10)
            here = placed.map(QPointF(*(float(v) for v in stroke.anchor + offset)))
            painter.setPen(QPen(QColor("#ffffff"), 1.5))
            painter.setBrush(QBrush(colour))
            painter.drawEllipse(here, 5, 5)
            if stroke.label:
                paint_label(painter, here, stroke.label, colour)
        elif stroke.kind == "static":
            centre = placed.map(QPointF(float(stroke.anchor[0]), float(stroke.anchor[1])))
            painter.setPen(QPen(colour, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawLine(centre + QPointF(-6, -6), centre + QPointF(6, 6))
            painter.drawLine(centre + QPointF(-6, 6), centre + QPointF(6, -6))

    def _paint_camera(self, painter: QPainter, frame: int, to_widget: QTransform) -> None:
        assert self.camera is not None
        last = len(self.camera.quads) - 1

        def polygon(index: int) -> QPolygonF:
            return QPolygonF(
                [to_widget.map(QPointF(float(x), float(y))) for x, y in self.camera.quad(index)]
            )

        painter.setBrush(Qt.BrushStyle.NoBrush)
        if last > 0:  # dashes drawn antialiased cost a full-frame outline several ms a paint
            painter.save()
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.setPen(QPen(QColor(255, 255, 255, 110), 1, Qt.PenStyle.DashLine))
            painter.drawPolygon(polygon(last))
            painter.restore()
        painter.setPen(QPen(QColor(0, 0, 0, 150), 3.5))
        painter.drawPolygon(polygon(frame))
        painter.setPen(QPen(QColor(theme.WARNING), 1.8))
        painter.drawPolygon(polygon(frame))

    @staticmethod
    def _paint_guides(painter: QPainter, target: QRectF) -> None:
        """Rule-of-thirds lines and the title-safe frame (90 %), as a camera viewfinder shows."""
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(255, 255, 255, 60), 1))
        for k in (1, 2):
            x = target.x() + target.width() * k / 3
            y = target.y() + target.height() * k / 3
            painter.drawLine(QPointF(x, target.top()), QPointF(x, target.bottom()))
            painter.drawLine(QPointF(target.left(), y), QPointF(target.right(), y))
        safe = target.adjusted(
            target.width() * 0.05,
            target.height() * 0.05,
            -target.width() * 0.05,
            -target.height() * 0.05,
        )
        # a one-pixel dashed frame on a straight rectangle is crisper without antialiasing
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(QPen(QColor(255, 255, 255, 90), 1, Qt.PenStyle.DashLine))
        painter.drawRect(safe)
        painter.restore()

    def _paint_message(self, painter: QPainter) -> None:
        painter.setPen(QColor(theme.DIM_TEXT))
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        painter.setFont(font)
        painter.drawText(
            self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message
        )

    def _paint_badge(self, painter: QPainter) -> None:
        font = QFont(self.font())
        font.setBold(True)
        painter.save()
        painter.setFont(font)
        metrics = painter.fontMetrics()
        badges = [(self.badge, 10.0)]
        if self.splitting and self.badge_b:
            width = metrics.horizontalAdvance(self.badge_b) + 16
            badges.append((self.badge_b, self.width() - 10.0 - width))
        for text, x in badges:
            box = QRectF(x, 10, metrics.horizontalAdvance(text) + 16, metrics.height() + 8)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 160))
            painter.drawRoundedRect(box, 4, 4)
            painter.setPen(QColor(theme.TEXT))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    # ------------------------------------------------------------------ mouse: pan at 100 %

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and self.splitting:
            near = abs(event.position().x() - self.divider_x()) <= WIPE_GRAB_PX
            if near or (self.zoom == ZOOM_FIT and self.image_rect().contains(event.position())):
                self._wiping = True
                self._move_wipe(event.position().x())
                event.accept()
                return
        if self.zoom != ZOOM_FIT and event.button() == Qt.MouseButton.LeftButton:
            self._drag_from = event.position()
        super().mousePressEvent(event)

    def _move_wipe(self, x: float) -> None:
        target = self.image_rect()
        if target.width() <= 0:
            return
        self.wipe = min(max((x - target.x()) / target.width(), 0.0), 1.0)
        self.update()
        self.wipe_moved.emit(self.wipe)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._wiping:
            self._move_wipe(event.position().x())
            return
        if self.splitting and self._drag_from is None:
            near = abs(event.position().x() - self.divider_x()) <= WIPE_GRAB_PX
            self.setCursor(
                Qt.CursorShape.SplitHCursor
                if near or self.zoom == ZOOM_FIT
                else Qt.CursorShape.ArrowCursor
            )
        if self._drag_from is not None:
            self._pan += event.position() - self._drag_from
            self._drag_from = event.position()
            self.update()
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        self._wiping = False
        self._drag_from = None
        super().mouseReleaseEvent(event)

    # ------------------------------------------------------------------ drag and drop

    @staticmethod
    def _dropped_file(event) -> str | None:
        mime = event.mimeData()
        if not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile() and is_media_file(url.toLocalFile()):
                return url.toLocalFile()
        return None

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if self._dropped_file(event):
            self._drop_hover = True
            self.update()
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        self._drop_hover = False
        self.update()

    def dropEvent(self, event) -> None:  # noqa: N802
        self._drop_hover = False
        self.update()
        path = self._dropped_file(event)
        if path:
            event.acceptProposedAction()
            self.media_dropped.emit(path)
        else:
            event.ignore()
