"""The timeline: the sequence of shots, a playhead across all of them, keys, takes, zoom.

Shots sit left to right as blocks as long as their duration, each with a thumbnail of its
active take (or its keyframe), its name and length. Below the selected shot, its camera
keys are diamonds on their own lane; below every shot, its takes are chips (click one to
use it). Gestures, as in an editor's timeline:

- click or drag in the ruler: scrub the playhead across the whole sequence
- click a block: select the shot; drag it sideways: reorder (a line marks where it lands)
- drag an edge between two shots: roll the cut (one shot gains what the other loses, the
  sequence keeps its length); with Shift, or with Ripple on, ripple the edge grabbed (that
  shot alone changes, the shots after it move); a left edge is a head trim (the shot starts
  later in its take), a right edge a tail trim
- drag a diamond: move the camera key in time; right-click it: easing
- edges and keys snap to cuts, camera keys and the playhead (S or the Snap button toggles)
- Ctrl+wheel or the zoom buttons: zoom around the mouse; wheel: scroll
- Delete removes the selected shot, Ctrl+D duplicates it

Frame-accurate: the playhead stands on whole frames, sequence frame g is frame
g - start(shot) of the shot it falls in, which shows its take's frame head + that, and that
is the frame export writes there (`engine.sequence` holds the arithmetic).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine import sequence
from engine.camera import CameraPath
from engine.project import Shot, Take

from . import theme
from . import timecode as time_format
from .camera_editor import EASING_LABELS, key_menu, with_easing
from .commands import AddShot, MoveShot, RemoveShot, SetActiveTake, SetCamera, TrimShots
from .commands import duplicate_shot as make_duplicate
from .document import Document
from .shortcuts import add_local_shortcuts
from .shot_list import new_shot_name

LEFT = 10.0  # where frame 0 starts
RULER_H = 22.0
SHOT_TOP = RULER_H + 4
SHOT_H = 58.0
KEYS_TOP = SHOT_TOP + SHOT_H + 3
KEYS_H = 16.0
TAKES_TOP = KEYS_TOP + KEYS_H + 3
TAKES_H = 16.0
CANVAS_H = int(TAKES_TOP + TAKES_H + 6)
EDGE_PX = 6.0  # how close to a block's edge a press trims
SNAP_PX = 8.0  # how close (pixels) an edge or key must come to a target to snap to it
DRAG_PX = 5.0  # how far a press must move before it drags
ZOOM_LIMITS = (0.5, 60.0)  # pixels per frame
TAKE_CHIP_W = 26.0


@dataclasses.dataclass
class _Drag:
    kind: str  # "scrub" | "move" | "trim" | "key" | "press"
    shot_id: str = ""
    origin: QPointF = dataclasses.field(default_factory=QPointF)
    frame: int = 0  # the key's frame (key drags) or the cut's sequence frame (trims)
    start_path: CameraPath | None = None
    moved: bool = False
    value: int = 0  # moves: insertion index; keys: current frame
    cut: int = 0  # trims: which cut (0 .. shots) and which side of it
    side: str = ""
    spans: list = dataclasses.field(default_factory=list)  # trims: the sequence at the press
    changes: dict = dataclasses.field(default_factory=dict)  # trims: shot id -> (head, duration)
    ripple: bool = False
    origin_shift: float = 0.0  # moves: how far the mouse has gone (the ghost follows)


class TimelineCanvas(QWidget):
    playhead_moved = Signal(int)  # sequence frame the user scrubbed to
    camera_previewed = Signal(str, object)  # shot id, the CameraPath a key drag is making
    edit_finished = Signal(str)  # shot id: a key drag ended
    file_dropped = Signal(str)  # a local file or folder dropped on the timeline

    def __init__(self, document: Document, thumbnails, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)  # a Kinema file dropped here becomes a shot
        self.document = document
        self.thumbnails = thumbnails  # callable: Shot -> QImage | None
        self.px_per_frame = 4.0
        self.playhead = 0  # sequence frame
        self.context_menu: QMenu | None = None
        self._drag: _Drag | None = None
        self._preview_path: CameraPath | None = None
        self._hover_edge = ""  # "cut:side" of the edge under the mouse
        self.snapping = True
        self.ripple = False  # what a plain edge drag does; Shift does the other
        self.snapped_to: float | None = None  # the target a drag is snapped to (drawn)
        # the playhead's (shot id, frame of its take, frame into the shot)
        self._anchor: tuple[str, int, int] | None = None
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setMinimumHeight(CANVAS_H)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self._resize_to_content()

    # ------------------------------------------------------------------ geometry

    @property
    def project(self):
        return self.document.project

    def total_frames(self) -> int:
        return self.project.total_frames()

    def x_of(self, frame: float) -> float:
        """Left edge of sequence frame `frame`."""
        return LEFT + frame * self.px_per_frame

    def frame_at(self, x: float) -> int:
        """The sequence frame under x, clamped to the sequence."""
        total = self.total_frames()
        frame = math.floor((x - LEFT) / self.px_per_frame)
        return min(max(frame, 0), max(total - 1, 0))

    def _trim_preview(self, shot: Shot) -> tuple[int, int]:
        """(head, duration) of `shot` as the trim being dragged makes it."""
        drag = self._drag
        if drag is not None and drag.kind == "trim" and shot.id in drag.changes:
            return drag.changes[shot.id]
        return shot.head, shot.duration

    def spans(self) -> list[sequence.Span]:
        """The sequence as drawn (a trim being dragged included)."""
        out, start = [], 0
        for index, shot in enumerate(self.project.shots):
            head, duration = self._trim_preview(shot)
            out.append(sequence.Span(index, shot.id, start, duration, head))
            start += duration
        return out

    def shot_rects(self) -> list[tuple[Shot, QRectF]]:
        return [
            (
                shot,
                QRectF(self.x_of(span.start), SHOT_TOP, span.duration * self.px_per_frame, SHOT_H),
            )
            for shot, span in zip(self.project.shots, self.spans())
        ]

    def shot_rect(self, shot_id: str) -> QRectF:
        return next((r for s, r in self.shot_rects() if s.id == shot_id), QRectF())

    def locate(self, frame: int) -> tuple[Shot, int] | None:
        """(shot, frame within it) of sequence frame `frame`."""
        found = sequence.locate(sequence.spans(self.project.shots), frame)
        if found is None:
            return None
        span, local = found
        return self.project.shots[span.index], local

    def key_points(self) -> list[tuple[int, QPointF]]:
        """(key frame, centre of its diamond) for the selected shot's camera keys."""
        shot = self.document.current_shot
        if shot is None:
            return []
        path = self._preview_path if self._preview_path is not None else shot.camera
        span = next(s for s in self.spans() if s.shot_id == shot.id)  # a trim's preview too
        y = KEYS_TOP + KEYS_H / 2
        return [
            (k.frame, QPointF(self.x_of(span.start + k.frame) + self.px_per_frame / 2, y))
            for k in path.sorted().keyframes
            if k.frame < span.duration
        ]

    def take_chips(self) -> list[tuple[Shot, Take, QRectF]]:
        chips = []
        for shot, rect in self.shot_rects():
            room = max(0, int((rect.width() - 4) // (TAKE_CHIP_W + 3)))
            for i, take in enumerate(shot.takes[:room]):
                x = rect.left() + 2 + i * (TAKE_CHIP_W + 3)
                chips.append((shot, take, QRectF(x, TAKES_TOP, TAKE_CHIP_W, TAKES_H)))
        return chips

    def _resize_to_content(self) -> None:
        width = int(self.x_of(self.total_frames()) + 80)
        self.setFixedSize(max(width, 200), CANVAS_H)

    def set_zoom(self, px_per_frame: float, anchor_x: float | None = None) -> float:
        """Zoom keeping the frame under `anchor_x` (canvas x) in place; returns its shift."""
        old = self.px_per_frame
        new = min(max(px_per_frame, ZOOM_LIMITS[0]), ZOOM_LIMITS[1])
        self.px_per_frame = new
        self._resize_to_content()
        self.update()
        if anchor_x is None:
            return 0.0
        frame = (anchor_x - LEFT) / old
        return LEFT + frame * new - anchor_x

    def set_playhead(self, frame: int) -> None:
        """Put the playhead on sequence frame `frame`, remembering the shot content under it."""
        self.playhead = min(max(int(frame), 0), max(self.total_frames() - 1, 0))
        found = self.locate(self.playhead)
        self._anchor = None
        if found is not None:
            shot, local = found
            self._anchor = (shot.id, shot.head + local, local)
        self.update()

    def refresh(self) -> None:
        """After an edit: the playhead stays on the same frame of the same take (a reorder or
        a trim of an earlier shot moves that shot, and the playhead goes with it; a head trim
        moves the frame within the shot, and the viewer is told)."""
        self._resize_to_content()
        shot = self.document.shot(self._anchor[0]) if self._anchor else None
        if shot is not None:
            shot_id, clip_frame, was_local = self._anchor
            local = min(max(clip_frame - shot.head, 0), shot.duration - 1)
            self.playhead = self.project.shot_start(shot) + local
            self._anchor = (shot_id, clip_frame, local)
            if local != was_local and shot_id == self.document.current_shot_id:
                self.playhead_moved.emit(self.playhead)
        else:
            self.playhead = min(self.playhead, max(self.total_frames() - 1, 0))
        self.update()

    # ------------------------------------------------------------------ painting

    # -- a Kinema file dropped here: its shots are recreated (see studio.media_import)

    @staticmethod
    def _dropped_path(event) -> str | None:
        from .frame_view import is_media_file

        mime = event.mimeData()
        for url in mime.urls() if mime.hasUrls() else []:
            path = url.toLocalFile() if url.isLocalFile() else ""
            if path and (is_media_file(path) or Path(path).is_dir()):
                return path
        return None

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if self._dropped_path(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802
        path = self._dropped_path(event)
        if path:
            event.acceptProposedAction()
            self.file_dropped.emit(path)
        else:
            event.ignore()

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor(theme.BASE))
        self._paint_ruler(painter)
        current = self.document.current_shot_id
        for number, (shot, rect) in enumerate(self.shot_rects(), 1):
            self._paint_shot(painter, shot, rect, number, shot.id == current)
        self._paint_keys(painter)
        self._paint_takes(painter)
        self._paint_move_ghost(painter)
        self._paint_snap(painter)
        x = self.x_of(self.playhead) + self.px_per_frame / 2
        painter.setPen(QPen(QColor(theme.WARNING), 1.5))
        painter.drawLine(QPointF(x, 2), QPointF(x, self.height()))
        painter.setBrush(QColor(theme.WARNING))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawPolygon(QPolygonF([QPointF(x - 5, 2), QPointF(x + 5, 2), QPointF(x, 10)]))
        painter.end()

    def _ruler_step(self, label_px: float) -> int:
        """Frames between labelled ticks: a round step whose label fits with room to spare."""
        fps = max(1, round(self.project.fps))
        steps = (1, 2, 5, 10, fps / 4, fps / 2, fps, 2 * fps, 5 * fps, 10 * fps, 15 * fps)
        steps += (30 * fps, 60 * fps, 120 * fps, 300 * fps, 600 * fps, 1800 * fps, 3600 * fps)
        for step in sorted({max(1, round(s)) for s in steps}):
            if step * self.px_per_frame >= label_px + 12:
                return step
        return 3600 * fps

    def _paint_ruler(self, painter: QPainter) -> None:
        painter.fillRect(QRectF(0, 0, self.width(), RULER_H), QColor(theme.WINDOW))
        total = self.total_frames()
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        painter.setFont(small)
        widest = painter.fontMetrics().horizontalAdvance(self.time_label(max(total, 1)))
        step = self._ruler_step(widest)
        minor = step / 4 if step % 4 == 0 else step / 2 if step % 2 == 0 else 0
        if minor and minor * self.px_per_frame >= 5:
            painter.setPen(QPen(QColor(theme.BORDER), 1))
            for i in range(int(total / minor) + 1):
                x = self.x_of(i * minor)
                painter.drawLine(QPointF(x, RULER_H - 4), QPointF(x, RULER_H))
        for frame in range(0, total + 1, step):
            x = self.x_of(frame)
            painter.setPen(QPen(QColor(theme.BORDER), 1))
            painter.drawLine(QPointF(x, RULER_H - 8), QPointF(x, RULER_H))
            painter.setPen(QColor(theme.DIM_TEXT))
            painter.drawText(QPointF(x + 3, RULER_H - 9), self.time_label(frame))

    def time_label(self, frame: int) -> str:
        """Sequence frame `frame` as the preference writes times (timecode or frame number)."""
        return time_format.format_frame(frame, self.project.fps)

    def _paint_shot(
        self, painter: QPainter, shot: Shot, rect: QRectF, number: int, current: bool
    ) -> None:
        dragging = self._drag is not None and self._drag.kind == "move" and self._drag.moved
        if dragging and shot.id == self._drag.shot_id:
            painter.setOpacity(0.35)
        path = QPainterPath()
        path.addRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        painter.fillPath(path, QColor("#25394d" if current else theme.PANEL))
        painter.save()
        painter.setClipPath(path)
        image = self.thumbnails(shot)
        text_left = rect.left() + 6
        if image is not None and rect.width() > 40:
            height = rect.height() - 8
            width = height * image.width() / max(image.height(), 1)
            target = QRectF(rect.left() + 4, rect.top() + 4, width, height)
            painter.drawImage(target, image)
            text_left = target.right() + 6
        painter.setPen(QColor(theme.TEXT))
        bold = QFont(self.font())
        bold.setBold(True)
        painter.setFont(bold)
        text_rect = QRectF(text_left, rect.top() + 4, rect.right() - text_left - 4, 18)
        painter.drawText(
            text_rect,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            painter.fontMetrics().elidedText(
                f"{number}  {shot.name}", Qt.TextElideMode.ElideRight, int(text_rect.width())
            ),
        )
        painter.setFont(self.font())
        painter.setPen(QColor(theme.DIM_TEXT))
        head, duration = self._trim_preview(shot)
        trimming = (head, duration) != (shot.head, shot.duration)
        if trimming:
            painter.setPen(QColor(theme.WARNING))
        detail = f"{duration / self.project.fps:.2f} s · {duration} f"
        if head:
            detail += f" · in {head}"
        painter.drawText(
            QRectF(text_left, rect.top() + 22, rect.right() - text_left - 4, 18),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            painter.fontMetrics().elidedText(
                detail, Qt.TextElideMode.ElideRight, int(rect.right() - text_left - 4)
            ),
        )
        painter.restore()
        edge = QColor(theme.ACCENT if current else theme.BORDER)
        painter.setPen(QPen(edge, 2 if current else 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
        # the trim handles: head on the left, tail on the right
        index = number - 1
        for cut, side, x in (
            (index, "head", rect.left() + 1),
            (index + 1, "tail", rect.right() - 4),
        ):
            name = f"{cut}:{side}"
            drag = self._drag
            dragged = drag is not None and drag.kind == "trim" and drag.cut == cut
            rolled = dragged and not drag.ripple and len(drag.changes) == 2
            hot = self._hover_edge == name or (dragged and (drag.side == side or rolled))
            handle = QRectF(x, rect.top() + 10, 3, rect.height() - 20)
            painter.fillRect(handle, QColor(theme.WARNING if hot else theme.BORDER))
        painter.setOpacity(1.0)

    def _paint_keys(self, painter: QPainter) -> None:
        shot = self.document.current_shot
        if shot is None:
            return
        rect = self.shot_rect(shot.id)
        painter.fillRect(
            QRectF(rect.left(), KEYS_TOP, rect.width(), KEYS_H), QColor(theme.ALT_BASE)
        )
        painter.setPen(QPen(QColor(theme.BASE), 1))
        painter.setBrush(QColor(theme.WARNING))
        for _frame, centre in self.key_points():
            r = 6.0
            painter.drawPolygon(
                QPolygonF(
                    [
                        centre + QPointF(0, -r),
                        centre + QPointF(r, 0),
                        centre + QPointF(0, r),
                        centre + QPointF(-r, 0),
                    ]
                )
            )

    def _paint_takes(self, painter: QPainter) -> None:
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        painter.setFont(small)
        for shot, take, rect in self.take_chips():
            active = take.id == shot.active_take
            painter.setPen(QPen(QColor(theme.ACCENT if active else theme.BORDER), 1))
            painter.setBrush(QColor(theme.ACCENT if active else theme.PANEL))
            painter.drawRoundedRect(rect, 3, 3)
            painter.setPen(QColor(theme.ACCENT_TEXT if active else theme.DIM_TEXT))
            label = take.label.replace("Take ", "T") if take.label else "T"
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)

    def drop_marker_x(self) -> float | None:
        """Where the shot being dragged would land (canvas x), or None when not reordering."""
        drag = self._drag
        if drag is None or drag.kind != "move" or not drag.moved:
            return None
        rects = self.shot_rects()
        if drag.value >= len(rects):
            return self.x_of(self.total_frames())
        return rects[drag.value][1].left()

    def _paint_move_ghost(self, painter: QPainter) -> None:
        x = self.drop_marker_x()
        if x is None:
            return
        drag = self._drag
        # the block under the mouse, as a ghost
        rect = self.shot_rect(drag.shot_id)
        ghost = QRectF(rect)
        ghost.moveLeft(rect.left() + drag.origin_shift)
        painter.setPen(QPen(QColor(theme.ACCENT), 1, Qt.PenStyle.DashLine))
        painter.setBrush(QColor(74, 163, 255, 50))
        painter.drawRoundedRect(ghost.adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        # the insertion line, across the whole lane, with caps so it reads over any block
        colour = QColor(theme.TEXT)
        painter.setPen(QPen(colour, 2))
        top, bottom = RULER_H + 1, TAKES_TOP + TAKES_H + 2
        painter.drawLine(QPointF(x, top), QPointF(x, bottom))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        for y, d in ((top, 1), (bottom, -1)):
            painter.drawPolygon(
                QPolygonF([QPointF(x - 6, y), QPointF(x + 6, y), QPointF(x, y + 7 * d)])
            )

    def _paint_snap(self, painter: QPainter) -> None:
        if self._drag is None or self.snapped_to is None:
            return
        x = self.x_of(self.snapped_to)
        painter.setPen(QPen(QColor(theme.SUCCESS), 1, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))

    # ------------------------------------------------------------------ mouse

    def _hit_key(self, pos: QPointF) -> int | None:
        for frame, centre in self.key_points():
            if abs(pos.x() - centre.x()) <= 7 and abs(pos.y() - centre.y()) <= 8:
                return frame
        return None

    def _hit_shot(self, pos: QPointF) -> tuple[Shot, QRectF] | None:
        for shot, rect in self.shot_rects():
            if rect.contains(pos):
                return shot, rect
        return None

    def _hit_edge(self, pos: QPointF) -> tuple[int, str] | None:
        """(cut, side) of the edge under `pos`: left of a cut is the tail of the shot before
        it, right of it the head of the shot after (the edges nearest the mouse)."""
        if not SHOT_TOP <= pos.y() <= SHOT_TOP + SHOT_H:
            return None
        all_spans = self.spans()
        count = len(all_spans)
        best = None
        for cut, frame in enumerate(sequence.cuts(all_spans)):
            distance = abs(pos.x() - self.x_of(frame))
            if distance <= EDGE_PX and (best is None or distance < best[0]):
                best = (distance, cut, frame)
        if best is None:
            return None
        _distance, cut, frame = best
        if cut == 0:
            return 0, "head"
        if cut == count:
            return cut, "tail"
        return cut, "tail" if pos.x() < self.x_of(frame) else "head"

    def snap_targets(self, exclude_cut: int | None = None) -> list[int]:
        """Sequence frames edges and keys snap to: cuts, the current shot's keys, the playhead."""
        all_spans = sequence.spans(self.project.shots)
        targets = [f for i, f in enumerate(sequence.cuts(all_spans)) if i != exclude_cut]
        shot = self.document.current_shot
        if shot is not None:
            start = self.project.shot_start(shot)
            targets += [start + k.frame for k in shot.camera.keyframes]
        targets.append(self.playhead)
        return targets

    def _snapped(self, frame: float, targets: list[int], modifiers) -> int:
        """`frame` pulled onto a target within SNAP_PX when snapping is on (Ctrl suspends it)."""
        suspended = bool(modifiers & Qt.KeyboardModifier.ControlModifier)
        if not self.snapping or suspended:
            self.snapped_to = None
            return round(frame)
        result, self.snapped_to = sequence.snap(frame, targets, self.px_per_frame, SNAP_PX)
        return result

    def mousePressEvent(self, event) -> None:  # noqa: N802
        pos = event.position()
        button = event.button()
        if button == Qt.MouseButton.RightButton:
            frame = self._hit_key(pos)
            if frame is not None:
                self._show_key_menu(frame, event.globalPosition().toPoint())
            event.accept()
            return
        if button != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        if pos.y() < RULER_H:
            self._drag = _Drag("scrub", origin=pos)
            self._scrub(pos.x())
            return
        frame = self._hit_key(pos)
        shot = self.document.current_shot
        if frame is not None and shot is not None:
            self._drag = _Drag(
                "key", shot.id, pos, frame, start_path=shot.camera.sorted(), value=frame
            )
            return
        edge = self._hit_edge(pos)
        if edge is not None:
            cut, side = edge
            all_spans = sequence.spans(self.project.shots)
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            trimmed = all_spans[cut - 1 if side == "tail" else cut]
            self._drag = _Drag(
                "trim",
                trimmed.shot_id,
                pos,
                frame=sequence.cuts(all_spans)[cut],
                cut=cut,
                side=side,
                spans=all_spans,
                ripple=self.ripple != shift,
            )
            self.update()
            return
        for shot_, take, rect in self.take_chips():
            if rect.contains(pos):
                self.document.set_current_shot(shot_.id)
                if take.id != shot_.active_take:
                    self.document.push(SetActiveTake(self.document, shot_.id, take.id))
                return
        hit = self._hit_shot(pos)
        if hit is not None:
            self.document.set_current_shot(hit[0].id)
            self._drag = _Drag("press", hit[0].id, pos)
            self.update()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        pos = event.position()
        drag = self._drag
        if drag is None:
            edge = self._hit_edge(pos)
            hover = f"{edge[0]}:{edge[1]}" if edge is not None else ""
            if hover != self._hover_edge:
                self._hover_edge = hover
                self.setCursor(
                    Qt.CursorShape.SizeHorCursor if hover else Qt.CursorShape.ArrowCursor
                )
                self.update()
            return
        if drag.kind == "scrub":
            self._scrub(pos.x())
        elif drag.kind in ("press", "move"):
            if drag.kind == "press" and abs(pos.x() - drag.origin.x()) >= DRAG_PX:
                drag.kind, drag.moved = "move", True
            if drag.kind == "move":
                drag.value = self._insertion_index(pos.x())
                drag.origin_shift = pos.x() - drag.origin.x()
                self.update()
        elif drag.kind == "trim":
            self._drag_trim(pos, event.modifiers())
        elif drag.kind == "key":
            self._drag_key(pos, event.modifiers())

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._drag is not None and event.button() == Qt.MouseButton.LeftButton:
            if self._drag.kind == "trim":
                self._drag_trim(event.position(), event.modifiers())
            elif self._drag.kind == "key":
                self._drag_key(event.position(), event.modifiers())
        drag, self._drag = self._drag, None
        self.snapped_to = None
        if drag is None or event.button() != Qt.MouseButton.LeftButton:
            return
        if drag.kind == "move":
            self._finish_move(drag)
        elif drag.kind == "trim":
            self._finish_trim(drag)
        elif drag.kind == "key":
            path, self._preview_path = self._preview_path, None
            shot = self.document.shot(drag.shot_id)
            if shot is not None and path is not None and drag.value != drag.frame:
                self.document.push(
                    SetCamera(
                        self.document, shot.id, path, f"Move camera key to frame {drag.value + 1}"
                    )
                )
            self.edit_finished.emit(drag.shot_id)
        self._resize_to_content()
        self.update()

    def wheelEvent(self, event) -> None:  # noqa: N802
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            factor = 1.25 if event.angleDelta().y() > 0 else 0.8
            shift = self.set_zoom(self.px_per_frame * factor, event.position().x())
            self.parent_scroll_by(shift)
            event.accept()
            return
        super().wheelEvent(event)

    def parent_scroll_by(self, dx: float) -> None:
        scroll = self.parentWidget().parentWidget() if self.parentWidget() else None
        if isinstance(scroll, QScrollArea):
            bar = scroll.horizontalScrollBar()
            bar.setValue(int(bar.value() + dx))

    def _scrub(self, x: float) -> None:
        frame = self.frame_at(x)
        if frame != self.playhead:
            self.set_playhead(frame)
        self.playhead_moved.emit(frame)

    def _insertion_index(self, x: float) -> int:
        for index, (_shot, rect) in enumerate(self.shot_rects()):
            if x < rect.center().x():
                return index
        return len(self.project.shots)

    def _finish_move(self, drag: _Drag) -> None:
        shot = self.document.shot(drag.shot_id)
        if shot is None:
            return
        old = self.project.shots.index(shot)
        new = drag.value - 1 if drag.value > old else drag.value
        if new != old:
            self.document.push(MoveShot(self.document, shot.id, new))

    def _drag_trim(self, pos: QPointF, modifiers) -> None:
        drag = self._drag
        ripple = drag.ripple  # chosen at the press: Shift then, or the Ripple button
        frame = (pos.x() - LEFT) / self.px_per_frame
        frame = self._snapped(frame, self.snap_targets(exclude_cut=drag.cut), modifiers)
        delta = frame - drag.frame
        result = sequence.trim(drag.spans, drag.cut, drag.side, delta, ripple)
        drag.changes = result.changes
        drag.moved = True
        self._resize_to_content()
        self.update()

    def _finish_trim(self, drag: _Drag) -> None:
        changes = {
            sid: value
            for sid, value in drag.changes.items()
            if (shot := self.document.shot(sid)) is not None and value != (shot.head, shot.duration)
        }
        if not changes:
            return
        if len(changes) == 2:
            text = "Roll cut"
        elif drag.side == "head":
            text = "Trim shot head"
        else:
            text = "Trim shot"
        self.document.push(TrimShots(self.document, changes, text))

    def _drag_key(self, pos: QPointF, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
        drag = self._drag if self._drag is not None else None
        if drag is None:
            return
        shot = self.document.shot(drag.shot_id)
        if shot is None or drag.start_path is None:
            return
        start = self.project.shot_start(shot)
        frame = (pos.x() - LEFT) / self.px_per_frame - 0.5
        keys = {start + k.frame for k in drag.start_path.keyframes}  # itself and the others
        targets = [t for t in self.snap_targets() if t not in keys]
        target = self._snapped(frame, targets, modifiers) - start
        target = min(max(target, 0), shot.duration - 1)
        others = {k.frame for k in drag.start_path.keyframes if k.frame != drag.frame}
        if target not in others and target != drag.value:
            drag.value = target
            key = drag.start_path.keyframe_at(drag.frame)
            moved = dataclasses.replace(key, frame=target)
            self._preview_path = drag.start_path.without_keyframe(drag.frame).with_keyframe(moved)
            self.camera_previewed.emit(shot.id, self._preview_path)
            self.update()

    def _show_key_menu(self, frame: int, global_pos) -> None:
        shot = self.document.current_shot
        key = shot.camera.keyframe_at(frame) if shot is not None else None
        if key is None:
            return
        last = frame == max(k.frame for k in shot.camera.keyframes)
        menu = key_menu(self, key.easing, last, lambda e: self._set_easing(frame, e))
        menu.addSeparator()
        delete = menu.addAction("Delete key")
        delete.triggered.connect(lambda: self._delete_key(frame))
        self.context_menu = menu
        menu.popup(global_pos)

    def _set_easing(self, frame: int, easing: str) -> None:
        shot = self.document.current_shot
        if shot is None:
            return
        path = with_easing(shot.camera, frame, easing)
        if path is not None:
            self.document.push(
                SetCamera(self.document, shot.id, path, f"Set easing to {EASING_LABELS[easing]}")
            )
            self.edit_finished.emit(shot.id)

    def _delete_key(self, frame: int) -> None:
        shot = self.document.current_shot
        if shot is not None and shot.camera.keyframe_at(frame) is not None:
            self.document.push(
                SetCamera(
                    self.document,
                    shot.id,
                    shot.camera.without_keyframe(frame),
                    f"Delete camera key at frame {frame + 1}",
                )
            )
            self.edit_finished.emit(shot.id)


class TimelineWidget(QWidget):
    """The timeline dock's content: a small toolbar over the scrolling canvas."""

    playhead_moved = Signal(int)  # sequence frame
    camera_previewed = Signal(str, object)
    edit_finished = Signal(str)
    file_dropped = Signal(str)  # a file dropped on the timeline (a Kinema export: new shots)

    def __init__(self, document: Document, thumbnails=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.canvas = TimelineCanvas(document, thumbnails or (lambda shot: None), self)
        self.canvas.file_dropped.connect(self.file_dropped)
        self.canvas.playhead_moved.connect(self.playhead_moved)
        self.canvas.camera_previewed.connect(self.camera_previewed)
        self.canvas.edit_finished.connect(self.edit_finished)
        self.scroll = QScrollArea(self)
        self.scroll.setWidget(self.canvas)
        self.scroll.setWidgetResizable(False)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setMinimumHeight(CANVAS_H + 14)
        self._fitted = False

        bar = QHBoxLayout()
        bar.setContentsMargins(6, 4, 6, 0)
        bar.setSpacing(4)
        self.add_button = QPushButton("Add shot", self)
        self.add_button.setToolTip("Add a shot after the selected one")
        self.add_button.clicked.connect(self.add_shot)
        self.duplicate_button = QPushButton("Duplicate", self)
        self.duplicate_button.setToolTip(
            "Duplicate the selected shot: prompt, keyframe, camera and strokes, no takes (Ctrl+D)"
        )
        self.duplicate_button.clicked.connect(self.duplicate_shot)
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.setToolTip("Delete the selected shot (Del; undoable)")
        self.delete_button.clicked.connect(self.delete_shot)
        self.info = QLabel(self)
        self.info.setObjectName("dim")
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.zoom_out_button = self._zoom_button("−", "Zoom out (Ctrl+wheel)", 0.8)
        self.zoom_in_button = self._zoom_button("+", "Zoom in (Ctrl+wheel)", 1.25)
        self.fit_button = QToolButton(self)
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Fit the whole sequence in view")
        self.fit_button.clicked.connect(self.fit)
        self.sequence_button = QToolButton(self)
        self.sequence_button.setText("Sequence")
        self.sequence_button.setCheckable(True)
        self.sequence_button.setToolTip(
            "Play sequence: Space, J and L play the whole sequence across its cuts, each "
            "shot's active take in order (Shift+Space plays the sequence at any time)"
        )
        self.snap_button = QToolButton(self)
        self.snap_button.setText("Snap")
        self.snap_button.setCheckable(True)
        self.snap_button.setChecked(True)
        self.snap_button.setToolTip(
            "Edges and keys snap to cuts, camera keys and the playhead (S; hold Ctrl to drag "
            "freely)"
        )
        self.snap_button.toggled.connect(self._on_snap_toggled)
        self.ripple_button = QToolButton(self)
        self.ripple_button.setText("Ripple")
        self.ripple_button.setCheckable(True)
        self.ripple_button.setToolTip(
            "Off: dragging an edge between two shots rolls the cut (the sequence keeps its "
            "length). On: it ripples, the later shots move. Shift does the other one."
        )
        self.ripple_button.toggled.connect(self._on_ripple_toggled)
        for widget in (self.add_button, self.duplicate_button, self.delete_button):
            bar.addWidget(widget)
        bar.addSpacing(12)
        bar.addWidget(self.info, 1)
        for widget in (self.sequence_button, self.snap_button, self.ripple_button):
            bar.addWidget(widget)
        for widget in (self.zoom_out_button, self.zoom_in_button, self.fit_button):
            bar.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.scroll, 1)

        add_local_shortcuts(
            self,
            (
                ("timeline_delete", self.delete_shot),
                ("timeline_duplicate", self.duplicate_shot),
                ("timeline_zoom_in", lambda: self.zoom(1.25)),
                ("timeline_zoom_out", lambda: self.zoom(0.8)),
                ("timeline_snap", self.snap_button.toggle),
            ),
        )

        document.project_replaced.connect(self._on_project_replaced)
        document.project_changed.connect(self.refresh)
        document.shot_changed.connect(lambda _id: self.refresh())
        document.takes_changed.connect(lambda _id: self.refresh())
        document.current_shot_changed.connect(lambda _id: self.refresh())
        self.refresh()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(800, CANVAS_H + 44)

    def _on_snap_toggled(self, on: bool) -> None:
        self.canvas.snapping = on

    def _on_ripple_toggled(self, on: bool) -> None:
        self.canvas.ripple = on

    def _zoom_button(self, text: str, tip: str, factor: float) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.clicked.connect(lambda: self.zoom(factor))
        return button

    # ------------------------------------------------------------------ view

    def refresh(self) -> None:
        project = self.document.project
        self.canvas.refresh()
        total = project.total_frames()
        shots = len(project.shots)
        self.info.setText(
            f"{shots} shot{'s' if shots != 1 else ''} · {total / project.fps:.2f} s · {total} frames"
        )
        self.delete_button.setEnabled(shots > 1)
        self.duplicate_button.setEnabled(self.document.current_shot is not None)

    def _on_project_replaced(self) -> None:
        self._fitted = False
        self.refresh()
        self.fit()

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._fitted:
            self.fit()

    def fit(self) -> None:
        total = max(self.document.project.total_frames(), 1)
        room = max(self.scroll.viewport().width() - LEFT - 60, 100)
        self.canvas.set_zoom(room / total)
        self._fitted = self.isVisible()

    def zoom(self, factor: float) -> None:
        viewport = self.scroll.viewport().width()
        bar = self.scroll.horizontalScrollBar()
        anchor = bar.value() + viewport / 2
        shift = self.canvas.set_zoom(self.canvas.px_per_frame * factor, anchor)
        bar.setValue(int(bar.value() + shift))

    def set_shot_frame(self, frame: int) -> None:
        """The viewer shows `frame` of the selected shot: put the playhead on it."""
        shot = self.document.current_shot
        if shot is None:
            return
        sequence_frame = self.document.project.shot_start(shot) + max(0, int(frame))
        self.set_sequence_frame(sequence_frame)

    def set_sequence_frame(self, sequence_frame: int) -> None:
        """Put the playhead on a sequence frame and keep it in view (sequence playback)."""
        sequence_frame = min(sequence_frame, max(self.document.project.total_frames() - 1, 0))
        if sequence_frame != self.canvas.playhead or self.canvas._anchor is None:
            self.canvas.set_playhead(sequence_frame)
            x = int(self.canvas.x_of(sequence_frame))
            self.scroll.ensureVisible(x, CANVAS_H // 2, 40, 0)

    # ------------------------------------------------------------------ editing

    def add_shot(self) -> None:
        project = self.document.project
        current = self.document.current_shot
        index = len(project.shots)
        if current is not None:
            index = project.shots.index(current) + 1
        shot = Shot(
            name=new_shot_name(project, index), duration=current.duration if current else 48
        )
        if current is not None:
            shot.settings.backend = current.settings.backend
        self.document.push(AddShot(self.document, shot, index))

    def duplicate_shot(self) -> None:
        current = self.document.current_shot
        if current is None:
            return
        index = self.document.project.shots.index(current) + 1
        twin = make_duplicate(current)
        self.document.push(AddShot(self.document, twin, index))

    def delete_shot(self) -> None:
        shot = self.document.current_shot
        if shot is not None and len(self.document.project.shots) > 1:
            self.document.push(RemoveShot(self.document, shot.id))


def thumbnail_image(frame: np.ndarray, height: int = int(SHOT_H - 8)) -> QImage:
    """A small QImage of an RGB frame (copied: the frame may go away)."""
    import cv2

    h, w = frame.shape[:2]
    width = max(1, round(w * height / h))
    small = np.ascontiguousarray(cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA))
    image = QImage(small.data, width, height, width * 3, QImage.Format.Format_RGB888)
    return image.copy()


class Thumbnails(QObject):
    """Small pictures for the shot blocks: the active take's first frame, else the keyframe.

    Callable with a shot; answers at once from memory and loads what is missing in the
    background (`changed` then asks the timeline to repaint).
    """

    changed = Signal()

    def __init__(self, document: Document, live, take_cache, tasks, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self._live = live
        self._take_cache = take_cache
        self._tasks = tasks
        self._images: dict[tuple, QImage] = {}
        self._loading: set[tuple] = set()
        live.base_ready.connect(lambda _id: self.changed.emit())
        take_cache.loaded.connect(lambda _id, _frames: self.changed.emit())
        document.project_replaced.connect(self._images.clear)

    def __call__(self, shot: Shot) -> QImage | None:
        take = shot.active()
        folder = self.document.project.folder
        if take is not None and not take.missing and folder is not None:
            image = self._take_image(folder, take)
            if image is not None:
                return image
        key = self._live.base_key(shot)
        image = self._images.get(key)
        if image is None:
            base = self._live.base_image(shot)  # starts loading it if needed
            if base is None:
                return None
            image = self._images[key] = thumbnail_image(base)
        return image

    def _take_image(self, folder, take: Take) -> QImage | None:
        from engine.media import read_image
        from engine.takes import frame_paths

        key = ("take", take.id)
        image = self._images.get(key)
        if image is not None:
            return image
        frames = self._take_cache.get(take.id)
        if frames is not None and len(frames):
            image = self._images[key] = thumbnail_image(frames[0])
            return image
        if key not in self._loading:
            self._loading.add(key)

            def load(_ctx):
                paths = frame_paths(folder, take)
                return read_image(paths[0]) if paths else None

            def done(frame):
                self._loading.discard(key)
                if frame is not None:
                    self._images[key] = thumbnail_image(frame)
                    self.changed.emit()

            self._tasks.submit(
                load,
                on_done=done,
                on_error=lambda _error: self._loading.discard(key),
                name="take thumbnail",
            )
        return None
