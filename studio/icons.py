"""Transport and tool icons drawn with QPainter, so they are crisp at any scale and
need no icon font (the glyphs ⏮ ⏭ are missing from many Linux fonts)."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

from . import theme

_SIZE = 64  # drawn large, scaled down by Qt; coordinates below are in a 0..64 box


def _triangle(x0: float, x1: float, pointing_right: bool = True) -> QPolygonF:
    if pointing_right:
        return QPolygonF([QPointF(x0, 14), QPointF(x1, 32), QPointF(x0, 50)])
    return QPolygonF([QPointF(x1, 14), QPointF(x0, 32), QPointF(x1, 50)])


def _paint(name: str, painter: QPainter, colour: QColor) -> None:
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    if name == "play":
        painter.drawPolygon(_triangle(18, 50))
    elif name == "pause":
        painter.drawRoundedRect(QRectF(17, 14, 11, 36), 2, 2)
        painter.drawRoundedRect(QRectF(36, 14, 11, 36), 2, 2)
    elif name == "step_forward":
        painter.drawPolygon(_triangle(16, 42))
        painter.drawRect(QRectF(44, 14, 6, 36))
    elif name == "step_back":
        painter.drawPolygon(_triangle(22, 48, False))
        painter.drawRect(QRectF(14, 14, 6, 36))
    elif name == "to_end":
        painter.drawPolygon(_triangle(10, 30))
        painter.drawPolygon(_triangle(28, 48))
        painter.drawRect(QRectF(48, 14, 6, 36))
    elif name == "to_start":
        painter.drawPolygon(_triangle(16, 36, False))
        painter.drawPolygon(_triangle(34, 54, False))
        painter.drawRect(QRectF(10, 14, 6, 36))
    elif name == "loop":
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(colour, 6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        path = QPainterPath()
        path.moveTo(20, 42)
        path.arcTo(QRectF(12, 18, 40, 28), 200, -250)
        painter.drawPath(path)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawPolygon(QPolygonF([QPointF(44, 8), QPointF(54, 20), QPointF(40, 24)]))
    elif name == "dice":
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(colour, 5))
        painter.drawRoundedRect(QRectF(12, 12, 40, 40), 8, 8)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        for x, y in ((22, 22), (42, 22), (32, 32), (22, 42), (42, 42)):
            painter.drawEllipse(QPointF(x, y), 4, 4)
    else:
        raise ValueError(f"no icon named {name!r}")


@cache
def icon(name: str, colour: str = theme.TEXT) -> QIcon:
    result = QIcon()
    for mode, tint in (
        (QIcon.Mode.Normal, colour),
        (QIcon.Mode.Disabled, "#5b6268"),
        (QIcon.Mode.Active, colour),
    ):
        pixmap = QPixmap(_SIZE, _SIZE)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        _paint(name, painter, QColor(tint))
        painter.end()
        result.addPixmap(pixmap, mode)
    return result
