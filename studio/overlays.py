"""What the viewer draws over the picture, computed once per shot from engine objects.

The camera overlay is the camera's view over the keyframe at each frame (the output
rectangle carried back through the inverse of the frame's homography), so scrubbing a
keyframe shows where the camera will look. Stroke overlays are each region's outline,
filled lightly in its colour, and its path as the anchor travels it, frame by frame
(`trajectory_offsets`).
All coordinates are normalised to the frame (0..1), so one overlay fits any zoom or size.

Over a take, the overlays show what the take was made with (its request's own shot,
`take_shot`), not the shot as edited since; `since_take_note` says what differs. The
ask-versus-got overlay (`paint_obedience`) draws an `engine.obedience.Obedience`: each
stroke's asked path dashed beside the path its region took, solid, with the error as a
label, and the first frame's outline carried by the asked camera against the one seen.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPen, QPolygonF, QTransform

from engine.camera import homographies
from engine.errors import InvalidRequest
from engine.motion import MotionStroke, trajectory_offsets
from engine.obedience import Obedience, asked_shot
from engine.project import Shot, Take
from engine.takes import shot_changes

from . import theme

#: opacity of a region's tint over the picture
REGION_ALPHA = 0.28


@dataclass
class CameraOverlay:
    quads: np.ndarray  # (T, 4, 2) float32, normalised corners of the camera view over the keyframe
    homographies: np.ndarray  # (T, 3, 3) float64, normalised keyframe -> frame t coordinates

    def quad(self, frame: int) -> np.ndarray:
        return self.quads[min(max(frame, 0), len(self.quads) - 1)]

    def homography(self, frame: int) -> np.ndarray:
        return self.homographies[min(max(frame, 0), len(self.homographies) - 1)]


@dataclass
class StrokeOverlay:
    name: str
    kind: str  # "move" | "static"
    color: QColor
    region: QPainterPath  # outline of the painted region (mask >= 0.5), normalised
    anchor: np.ndarray  # (2,) normalised
    offsets: np.ndarray = field(repr=False)  # (T, 2) normalised, the anchor's travel
    label: str = ""  # shown by the region: a storyboard stroke's "red ball · bounces"

    def offset(self, frame: int) -> np.ndarray:
        return self.offsets[min(max(frame, 0), len(self.offsets) - 1)]

    @property
    def path(self) -> np.ndarray:
        """(T, 2) normalised positions of the anchor over the shot."""
        return self.anchor[None] + self.offsets


def camera_overlay(shot: Shot, width: int, height: int) -> CameraOverlay:
    frames = max(1, shot.duration)
    homs = homographies(shot.camera, frames, width, height).astype(np.float64)
    corners = np.array(
        [
            [-0.5, -0.5, 1],
            [width - 0.5, -0.5, 1],
            [width - 0.5, height - 0.5, 1],
            [-0.5, height - 0.5, 1],
        ]
    )  # pixel-edge corners of the output, homogeneous (4, 3)
    inverse = np.linalg.inv(homs)  # frame t pixels -> keyframe pixels, (T, 3, 3)
    mapped = np.einsum("tij,kj->tki", inverse, corners)  # (T, 4, 3)
    mapped = mapped[..., :2] / mapped[..., 2:3]
    scale = np.array([width, height], np.float64)
    quads = (mapped + 0.5) / scale
    # normalised coordinates u = (x + 0.5) / width, as everywhere in the document
    norm = np.array([[1 / width, 0, 0.5 / width], [0, 1 / height, 0.5 / height], [0, 0, 1]])
    normalised = norm[None] @ homs @ np.linalg.inv(norm)[None]
    return CameraOverlay(quads.astype(np.float32), normalised)


def planned_ids(shot: Shot) -> frozenset[str]:
    """The strokes the shot's storyboard plan placed (they carry its labels on screen)."""
    return frozenset(shot.plan.stroke_ids) if shot.plan is not None else frozenset()


def stroke_overlays(shot: Shot) -> list[StrokeOverlay]:
    frames = max(1, shot.duration)
    planned = planned_ids(shot)
    out = []
    for stroke in shot.strokes:
        if not stroke.visible:
            continue
        anchor = (
            np.array([stroke.trajectory[0].x, stroke.trajectory[0].y], np.float32)
            if stroke.trajectory
            else _mask_centre(stroke)
        )
        out.append(
            StrokeOverlay(
                name=stroke.name,
                kind=stroke.kind,
                color=QColor(stroke.color),
                region=region_outline(stroke.mask),
                anchor=anchor,
                offsets=trajectory_offsets(stroke, frames),
                label=stroke.name if stroke.id in planned else "",
            )
        )
    return out


def _mask_centre(stroke: MotionStroke) -> np.ndarray:
    mask = stroke.mask
    total = float(mask.sum())
    if total <= 0:
        return np.array([0.5, 0.5], np.float32)
    ys, xs = np.indices(mask.shape)
    return np.array(
        [(xs * mask).sum() / total / mask.shape[1], (ys * mask).sum() / total / mask.shape[0]],
        np.float32,
    )


def region_outline(mask: np.ndarray, level: float = 0.5) -> QPainterPath:
    """The mask's outline as a path in normalised coordinates (made once per shot).

    A vector outline, unlike a tinted image, costs the same to draw at any zoom and under
    the camera's perspective, so overlays stay cheap during playback.
    """
    h, w = mask.shape
    binary = (np.asarray(mask) >= level).astype(np.uint8)
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    path = QPainterPath()
    path.setFillRule(Qt.FillRule.WindingFill)
    tolerance = max(0.5, 0.004 * max(h, w))
    for contour in contours:
        points = cv2.approxPolyDP(contour, tolerance, True).reshape(-1, 2).astype(np.float64)
        if len(points) < 3:
            continue
        # pixel centres -> normalised frame coordinates
        points = (points + 0.5) / np.array([w, h], np.float64)
        path.addPolygon(QPolygonF([QPointF(x, y) for x, y in points]))
        path.closeSubpath()
    return path


def paint_trajectory(
    painter: QPainter, points: list[QPointF], colour: QColor, width: float, arrow: float
) -> None:
    """A stroke's path as a dark-haloed line ending in an arrowhead, readable on any picture.
    Shared by the viewer's overlay and the brush canvas so both draw a path the same way."""
    if len(points) < 2:
        return
    path = QPainterPath(points[0])
    for point in points[1:]:
        path.lineTo(point)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setPen(QPen(QColor(0, 0, 0, 145), width * 2))
    painter.drawPath(path)
    painter.setPen(QPen(colour, width))
    painter.drawPath(path)
    start, end = points[-2], points[-1]
    dx, dy = end.x() - start.x(), end.y() - start.y()
    length = (dx * dx + dy * dy) ** 0.5
    if length < 1e-3:
        return
    ux, uy = dx / length, dy / length
    left = end - QPointF(ux * arrow - uy * arrow * 0.5, uy * arrow + ux * arrow * 0.5)
    right = end - QPointF(ux * arrow + uy * arrow * 0.5, uy * arrow - ux * arrow * 0.5)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(colour))
    painter.drawPolygon(QPolygonF([end, left, right]))


def paint_label(painter: QPainter, anchor: QPointF, text: str, colour: QColor) -> None:
    """A small tag by a stroke ("red ball · bounces"): white text on a dark rounded chip with
    the stroke's colour as a dot, up and to the right of `anchor`, readable on any picture."""
    metrics = painter.fontMetrics()
    pad, dot = 5.0, 7.0
    width = metrics.horizontalAdvance(text) + 3 * pad + dot
    height = metrics.height() + pad
    box = QRectF(anchor.x() + 8, anchor.y() - height - 6, width, height)
    painter.save()
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(QColor(12, 14, 18, 200)))
    painter.drawRoundedRect(box, height / 2, height / 2)
    painter.setBrush(QBrush(colour))
    painter.setPen(QPen(QColor(255, 255, 255, 200), 1))
    painter.drawEllipse(QPointF(box.left() + pad + dot / 2, box.center().y()), dot / 2, dot / 2)
    painter.setPen(QColor("#ffffff"))
    text_box = box.adjusted(2 * pad + dot, 0, -pad, 0)
    painter.drawText(
        text_box, int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), text
    )
    painter.restore()


# ----------------------------------------------------------------------------- a take's own request


def take_shot(take: Take) -> Shot | None:
    """The shot `take` was made from, at the take's length; None when it records none."""
    if not take.request:
        return None
    try:
        shot = asked_shot(take.request)
    except InvalidRequest:
        return None
    frames = take.request.get("frames")
    if isinstance(frames, int) and frames > 0:
        shot.duration = frames
    return shot


#: mask id -> (the mask, its PNG text): `Shot.to_dict` encodes every mask again, tens of ms
#: for a full-HD one, and the note is worked out on the GUI thread at each edit of the shot
_MASK_PNGS: OrderedDict[int, tuple[np.ndarray, str]] = OrderedDict()
_MASK_PNGS_KEPT = 64


def _mask_png(stroke: MotionStroke) -> str:
    """The stroke's mask as `to_dict` writes it, encoded once per mask (edits replace a
    stroke's mask rather than paint into it, as the overlays' cache key relies on too)."""
    known = _MASK_PNGS.get(id(stroke.mask))
    if known is not None and known[0] is stroke.mask:
        _MASK_PNGS.move_to_end(id(stroke.mask))
        return known[1]
    text = stroke.to_dict()["mask_png"]
    _MASK_PNGS[id(stroke.mask)] = (stroke.mask, text)  # held, so the id is not reused
    while len(_MASK_PNGS) > _MASK_PNGS_KEPT:
        _MASK_PNGS.popitem(last=False)
    return text


def _comparable(shot: Shot) -> dict:
    """What `shot_changes` reads of a shot, as `Shot.to_dict` has it, masks encoded once."""
    return {
        "prompt": shot.prompt,
        "negative_prompt": shot.negative_prompt,
        "keyframe": shot.keyframe,
        "duration": shot.duration,
        "camera": shot.camera.to_dict(),
        "strokes": [
            {
                "kind": s.kind,
                "strength": float(s.strength),
                "trajectory": [point.to_dict() for point in s.trajectory],
                "mask_png": _mask_png(s),
            }
            for s in shot.strokes
        ],
    }


def since_take_note(shot: Shot, take: Take) -> str:
    """A quiet line for the picture when the shot's controls moved on since `take` was made
    ("strokes changed since this take"); "" when the take shows what the shot asks now."""
    recorded = take.request.get("shot") if take.request else None
    if not isinstance(recorded, dict):
        return ""
    words = shot_changes(_comparable(shot), recorded)
    if not words:
        return ""
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return f"{listed[0].upper()}{listed[1:]} changed since this take"


# ----------------------------------------------------------------------------- ask versus got

ASKED_COLOUR = QColor(theme.WARNING)  # the requested camera
GOT_COLOUR = QColor(theme.ACCENT)  # the camera the frames show


def _points(values: np.ndarray, to_widget: QTransform) -> list[QPointF]:
    return [to_widget.map(QPointF(float(x), float(y))) for x, y in values]


def _haloed(painter: QPainter, path: QPainterPath, colour: QColor, width: float, dashed: bool):
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setPen(QPen(QColor(0, 0, 0, 150), width + 2.5))
    painter.drawPath(path)
    pen = QPen(colour, width, Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    painter.drawPath(path)


def _polyline(points: list[QPointF], closed: bool = False) -> QPainterPath:
    path = QPainterPath(points[0])
    for point in points[1:]:
        path.lineTo(point)
    if closed:
        path.closeSubpath()
    return path


def paint_obedience(
    painter: QPainter, result: Obedience, frame: int, to_widget: QTransform
) -> list[tuple[QPointF, str, QColor]]:
    """Draw ask versus got at `frame`; returns the labels to place (anchor, text, colour)
    so the caller paints them last, above every line."""
    labels = []
    t = min(max(frame, 0), result.frames - 1)
    camera = result.camera
    if camera is not None:
        for quads, colour, dashed in (
            (camera.asked_quads, ASKED_COLOUR, True),
            (camera.got_quads, GOT_COLOUR, False),
        ):
            _haloed(painter, _polyline(_points(quads[t], to_widget), True), colour, 1.6, dashed)
        for centre, colour, dashed in (
            (camera.asked_centre, ASKED_COLOUR, True),
            (camera.got_centre, GOT_COLOUR, False),
        ):
            points = _points(centre, to_widget)
            if len(points) > 1:  # where the first frame's centre travels: the camera's trail
                _haloed(painter, _polyline(points), colour, 1.4, dashed)
            here = points[t]
            for dx, dy in ((7, 0), (0, 7)):
                line = QPainterPath(here - QPointF(dx, dy))
                line.lineTo(here + QPointF(dx, dy))
                _haloed(painter, line, colour, 1.8, False)
    for stroke in result.strokes:
        colour = QColor(stroke.color)
        asked, got = _points(stroke.asked, to_widget), _points(stroke.got, to_widget)
        if len(asked) > 1:
            _haloed(painter, _polyline(asked), colour, 2.0, True)
            _haloed(painter, _polyline(got), colour.lighter(140), 2.6, False)
        here_asked, here_got = asked[t], got[t]
        painter.setPen(QPen(QColor(255, 255, 255, 200), 1.2, Qt.PenStyle.DotLine))
        painter.drawLine(here_asked, here_got)  # the error, now
        painter.setPen(QPen(colour, 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(here_asked, 6, 6)
        painter.setPen(QPen(QColor("#ffffff"), 1.5))
        painter.setBrush(QBrush(colour))
        painter.drawEllipse(here_got, 5, 5)
        text = (
            f"{stroke.name}: {stroke.mean_error_pct:.1f} % off"
            f" (now {float(stroke.error_pct[t]):.1f} %)"
        )
        labels.append((here_got, text, colour))
    return labels


def paint_chip(
    painter: QPainter, box: QRectF, text: str, align: Qt.AlignmentFlag, dim: bool = False
) -> QRectF:
    """A line of text on a dark rounded chip, placed in `box` by `align`; returns its rect."""
    metrics = painter.fontMetrics()
    available = max(box.width() - 16, 0.0)
    advance = metrics.horizontalAdvance(text)
    if advance > available:
        text = metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(available))
        advance = metrics.horizontalAdvance(text)
    width = advance + 16
    height = metrics.height() + 8
    x = (
        box.left()
        if align & Qt.AlignmentFlag.AlignLeft
        else (
            box.right() - width
            if align & Qt.AlignmentFlag.AlignRight
            else box.center().x() - width / 2
        )
    )
    y = box.bottom() - height if align & Qt.AlignmentFlag.AlignBottom else box.top()
    chip = QRectF(x, y, width, height)
    painter.save()
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(12, 14, 18, 190))
    painter.drawRoundedRect(chip, 4, 4)
    painter.setPen(QColor(theme.DIM_TEXT if dim else theme.TEXT))
    painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, text)
    painter.restore()
    return chip


def paint_obedience_legend(painter: QPainter, box: QRectF, camera: bool) -> None:
    """Top right of the picture: which line is the ask and which the got."""
    metrics = painter.fontMetrics()
    white = QColor(theme.TEXT)
    items = [("asked", True, white), ("got", False, white)]
    if camera:
        items += [("camera asked", True, ASKED_COLOUR), ("camera got", False, GOT_COLOUR)]
    width = 16 + sum(metrics.horizontalAdvance(t) + 34 for t, _, _ in items)
    chip = QRectF(box.right() - width, box.top(), width, metrics.height() + 8)
    painter.save()
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(12, 14, 18, 190))
    painter.drawRoundedRect(chip, 4, 4)
    x = chip.left() + 8
    y = chip.center().y()
    for text, dashed, colour in items:
        pen = QPen(colour, 2, Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
        painter.setPen(pen)
        painter.drawLine(QPointF(x, y), QPointF(x + 22, y))
        painter.setPen(QColor(theme.TEXT))
        painter.drawText(QPointF(x + 26, y + metrics.ascent() / 2 - 1), text)
        x += metrics.horizontalAdvance(text) + 34
    painter.restore()
