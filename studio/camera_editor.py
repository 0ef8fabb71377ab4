"""The camera-path editor: one curve per pose parameter, keys to drag, easing, presets.

A graph editor in the way Blender's is: each parameter the path moves (pan, tilt, roll,
zoom, dolly, truck, pedestal) gets its own curve in its own units, stacked on one time
axis; the channel buttons show or hide curves. Dragging a key moves it in time (the whole
pose: a keyframe is one pose) and in value (that parameter). A segment's easing is chosen
from the key's right-click menu or the Easing box; a Bezier segment shows its two handles
on every curve, and dragging one reshapes the timing of the whole move. Presets replace
the path over the shot. A small top view shows where the camera travels.

Edits reach the document only as commands, one per gesture. While a key or handle is
dragged, `path_previewed` carries the path being made, so the viewer can show its previs
before the mouse is released.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import weakref

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.camera import (
    DEFAULT_FOV_DEG,
    EASINGS,
    POSE_FIELDS,
    PRESETS,
    CameraKeyframe,
    CameraPath,
    Pose,
    preset,
)

from . import theme
from . import timecode as time_format
from .commands import SetCamera
from .document import Document
from .shortcuts import add_local_shortcuts


@dataclasses.dataclass(frozen=True)
class Channel:
    label: str
    unit: str
    colour: str
    span: tuple[float, float]  # the smallest range shown, so a flat curve is not blown up
    limits: tuple[float, float]  # what a drag may reach


CHANNELS: dict[str, Channel] = {
    "pan": Channel("Pan", "°", "#ff7b6b", (-5.0, 5.0), (-180.0, 180.0)),
    "tilt": Channel("Tilt", "°", "#5ccf7a", (-5.0, 5.0), (-89.0, 89.0)),
    "roll": Channel("Roll", "°", "#f0b54a", (-5.0, 5.0), (-180.0, 180.0)),
    "zoom": Channel("Zoom", "×", "#4aa3ff", (0.9, 1.1), (0.1, 10.0)),
    "dolly": Channel("Dolly", "", "#c38cff", (-0.1, 0.1), (-5.0, 0.9)),
    "truck": Channel("Truck", "", "#4dd0c8", (-0.1, 0.1), (-5.0, 5.0)),
    "pedestal": Channel("Pedestal", "", "#ff9ed2", (-0.1, 0.1), (-5.0, 5.0)),
}
EASING_LABELS = {
    "hold": "Hold",
    "linear": "Linear",
    "ease-in": "Ease in",
    "ease-out": "Ease out",
    "ease-in-out": "Ease in-out",
    "bezier": "Bezier",
}
#: handles a segment starts with when it becomes a Bezier: the shape it had before
_BEZIER_START = {
    "hold": (0.42, 0.0, 0.58, 1.0),
    "linear": (1 / 3, 1 / 3, 2 / 3, 2 / 3),
    "ease-in": (0.42, 0.0, 1.0, 1.0),
    "ease-out": (0.0, 0.0, 0.58, 1.0),
    "ease-in-out": (0.42, 0.0, 0.58, 1.0),
}
#: how close (pixels) a click must land to a key or handle to pick it
HIT_PX = 9.0
#: curve samples per frame, so holds and eases read as their shape
_SAMPLES_PER_FRAME = 4
#: the reference plane the camera looks at sits at this depth (engine.camera's default)
DEPTH = 1.0


def _default(channel: str) -> float:
    return getattr(Pose(), channel)


def channel_varies(path: CameraPath, channel: str) -> bool:
    """True when the path moves `channel` or holds it away from its rest value."""
    values = {getattr(k.pose, channel) for k in path.keyframes}
    return len(values) > 1 or (bool(values) and values != {_default(channel)})


def sample_poses(path: CameraPath, frames: int) -> tuple[np.ndarray, list[Pose]]:
    """The poses the editor draws: `_SAMPLES_PER_FRAME` a frame over frames 0 .. frames - 1."""
    last = max(frames - 1, 0)
    xs = np.linspace(0.0, last, last * _SAMPLES_PER_FRAME + 1)
    keys = path.sorted()
    return xs, [keys.sample(float(x)) for x in xs]


def sample_curve(path: CameraPath, frames: int, channel: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the curve as the editor draws it: `channel` over frames 0 .. frames - 1."""
    xs, poses = sample_poses(path, frames)
    return xs, np.array([getattr(p, channel) for p in poses])


def key_menu(parent, current: str, last: bool, choose) -> QMenu:
    """A camera key's right-click menu: one checkable easing per segment kind, disabled on the
    last key (it starts no segment). The camera editor and the timeline both show it."""
    menu = QMenu(parent)
    group = QActionGroup(menu)
    for easing in EASINGS:
        action = QAction(EASING_LABELS[easing], menu)
        action.setCheckable(True)
        action.setChecked(easing == current)
        action.setEnabled(not last)
        action.setData(easing)
        action.triggered.connect(lambda _c=False, e=easing: choose(e))
        group.addAction(action)
        menu.addAction(action)
    return menu


def with_easing(path: CameraPath, frame: int, easing: str) -> CameraPath | None:
    """The path with the segment starting at `frame` eased by `easing` (None: no change).

    A segment that becomes a Bezier starts from handles giving the shape it had, so
    switching changes nothing until a handle is dragged; handles are kept when switching
    away, so switching back restores them.
    """
    key = path.keyframe_at(frame)
    if key is None or easing not in EASINGS or key.easing == easing:
        return None
    handles = key.handles
    if easing == "bezier" and handles is None:
        handles = _BEZIER_START.get(key.easing, _BEZIER_START["ease-in-out"])
    return path.with_keyframe(dataclasses.replace(key, easing=easing, handles=handles))


class _Points(pg.ScatterPlotItem):
    """Dots the editor hit-tests itself; drags and clicks go to the editor.

    It knows its plot only weakly: no reference cycle holds Qt objects, so nothing of the
    editor is ever left for the cycle collector (which may run on a worker thread).
    """

    def __init__(self, plot: _ChannelPlot, role: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self._plot = weakref.ref(plot)
        self.role = role  # "keys" | "handles"

    def _editor(self):
        plot = self._plot()
        editor = plot.editor() if plot is not None else None
        return plot, editor

    def mouseDragEvent(self, ev) -> None:  # noqa: N802 (pyqtgraph's name)
        plot, editor = self._editor()
        if editor is None:
            ev.ignore()
        elif self.role == "keys":
            editor._on_key_drag(plot, ev)
        else:
            editor._on_handle_drag(plot, ev)

    def mouseClickEvent(self, ev) -> None:  # noqa: N802
        plot, editor = self._editor()
        if editor is None or self.role != "keys":
            ev.ignore()
        else:
            editor._on_key_click(plot, ev)


class _Playhead(pg.InfiniteLine):
    """The playhead line, which gives way to a key: a press near a key drags the key.

    pyqtgraph hands a drag to the item that claimed it while the mouse hovered, and the
    line's grip is wide; without this a key under the playhead could not be picked up.
    """

    def __init__(self, plot: _ChannelPlot, **kwargs) -> None:
        super().__init__(**kwargs)
        self._plot = weakref.ref(plot)
        self._to_key = False

    def _key_near(self, scene_pos) -> bool:
        plot = self._plot()
        return plot is not None and plot.hit(scene_pos, plot.key_points) is not None

    def hoverEvent(self, ev) -> None:  # noqa: N802 (pyqtgraph's name)
        if not ev.isExit() and self._key_near(ev.scenePos()):
            self.setMouseHover(False)  # the key claims the drag (see _Points.hoverEvent)
            return
        super().hoverEvent(ev)

    def mouseDragEvent(self, ev) -> None:  # noqa: N802
        plot = self._plot()
        editor = plot.editor() if plot is not None else None
        if ev.isStart():
            self._to_key = editor is not None and self._key_near(ev.buttonDownScenePos())
        if self._to_key:
            editor._on_key_drag(plot, ev)
            if ev.isFinish():
                self._to_key = False
            return
        super().mouseDragEvent(ev)

    def mouseClickEvent(self, ev) -> None:  # noqa: N802
        plot = self._plot()
        editor = plot.editor() if plot is not None else None
        if editor is not None and self._key_near(ev.scenePos()):
            editor._on_key_click(plot, ev)
            return
        super().mouseClickEvent(ev)


class _EntrySpin:
    """A spin box of the key's fields: Enter applies, Escape puts the key's values back,
    and the editor's own keys (Delete deletes a key) do not fire while typing in it."""

    def _setup_entry(self, apply, cancel) -> None:
        self._apply, self._cancel = apply, cancel
        self.setKeyboardTracking(False)

    def event(self, ev):  # noqa: D102
        from PySide6.QtCore import QEvent

        if ev.type() == QEvent.Type.ShortcutOverride:
            ev.accept()  # typed keys belong to the field while it has the focus
            return True
        return super().event(ev)

    def keyPressEvent(self, ev) -> None:  # noqa: N802
        if ev.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.interpretText()
            self._apply()
            ev.accept()
        elif ev.key() == Qt.Key.Key_Escape:
            self._cancel()
            ev.accept()
        else:
            super().keyPressEvent(ev)


class _FrameEntry(_EntrySpin, QSpinBox):
    pass


class _ValueEntry(_EntrySpin, QDoubleSpinBox):
    pass


#: frames between labelled time ticks, in seconds (multiplied by the rate) or frames
_TICK_SECONDS = (0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)
_TICK_FRAMES = (1, 2, 5, 10)


class _TimeAxis(pg.AxisItem):
    """Frames written as the preference writes times; the spacing fits the labels.

    The step is the smallest round one (frames, then quarter seconds up to hours) whose
    labels keep a gap between them at the current zoom, so a long shot never smears them.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fps = 24.0

    def set_fps(self, fps: float) -> None:
        self.fps = fps
        self.picture = None
        self.update()

    def label_px(self, frame: float) -> float:
        from PySide6.QtGui import QFontMetricsF

        font = self.style.get("tickFont") or self.font()
        return QFontMetricsF(font).horizontalAdvance(self.tickStrings([frame], 1, 1)[0])

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802 (pyqtgraph's name)
        span = max(maxVal - minVal, 1e-9)
        px_per_frame = size / span
        room = self.label_px(max(abs(minVal), abs(maxVal))) + 16
        per_second = time_format.nominal_rate(self.fps)
        steps = sorted({*_TICK_FRAMES, *(max(1, round(s * per_second)) for s in _TICK_SECONDS)})
        major = next((s for s in steps if s * px_per_frame >= room), steps[-1])
        smaller = [s for s in steps if s < major and major % s == 0]
        minor = smaller[-1] if smaller else major
        return [(float(major), 0.0), (float(minor), 0.0)]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph's name)
        return [time_format.format_frame(round(v), self.fps) for v in values]


class _ChannelPlot:
    """One parameter's plot: its curve, keys, Bezier handles and the playhead."""

    def __init__(self, editor: CameraPathEditor, plot: pg.PlotItem, channel: str) -> None:
        self.editor = weakref.ref(editor)
        self.channel = channel
        self.plot = plot
        spec = CHANNELS[channel]
        colour = QColor(spec.colour)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        # time zooms (wheel) and pans (drag the background); values keep their fitted range
        plot.setMouseEnabled(x=True, y=False)
        plot.showGrid(x=True, y=True, alpha=0.12)
        axis = plot.getAxis("left")
        axis.setWidth(58)
        axis.enableAutoSIPrefix(False)
        plot.setLabel("left", f"{spec.label} {spec.unit}".strip(), color=spec.colour)
        self.curve = plot.plot(pen=pg.mkPen(colour, width=2))
        self.handle_lines = pg.PlotDataItem(
            pen=pg.mkPen(QColor(theme.DIM_TEXT), width=1, style=Qt.PenStyle.DashLine),
            connect="pairs",
        )
        plot.addItem(self.handle_lines)
        self.playhead = _Playhead(
            self, angle=90, movable=True, pen=pg.mkPen(theme.WARNING, width=1.5)
        )
        self.playhead.setHoverPen(pg.mkPen(theme.WARNING, width=3))
        self.playhead.setZValue(5)
        plot.addItem(self.playhead)
        self.handles = _Points(
            self,
            "handles",
            size=9,
            symbol="s",
            pen=pg.mkPen(colour, width=1.5),
            brush=pg.mkBrush(theme.BASE),
        )
        self.handles.setZValue(10)
        plot.addItem(self.handles)
        self.keys = _Points(
            self,
            "keys",
            size=12,
            symbol="d",
        )
        self.keys.setZValue(11)
        plot.addItem(self.keys)
        self.key_points: list[tuple[float, float, int]] = []  # (x, y, frame)
        self.handle_points: list[tuple[float, float, tuple[int, int]]] = []  # (x, y, (seg, 1|2))

    def scene_pos(self, x: float, y: float) -> QPointF:
        return self.plot.vb.mapViewToScene(QPointF(x, y))

    def widget_pos(self, x: float, y: float, view) -> QPoint:
        """Where (frame, value) lands in `view`'s viewport (tests aim the mouse with it)."""
        return view.mapFromScene(self.scene_pos(x, y))

    def hit(self, scene_pos: QPointF, points) -> object | None:
        best = None
        for x, y, data in points:
            p = self.scene_pos(x, y)
            distance = math.hypot(p.x() - scene_pos.x(), p.y() - scene_pos.y())
            if distance <= HIT_PX and (best is None or distance < best[0]):
                best = (distance, data)
        return None if best is None else best[1]


class TopView(pg.PlotWidget):
    """The camera's travel seen from above: truck across, dolly forward, the subject ahead."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent=parent, background=theme.BASE)
        self.setMenuEnabled(False)
        self.hideButtons()
        self.setMouseEnabled(x=False, y=False)
        self.setAspectLocked(True)
        self.showGrid(x=True, y=True, alpha=0.1)
        self.getAxis("bottom").setLabel("truck")
        self.getAxis("left").setLabel("dolly")
        for name in ("bottom", "left"):
            self.getAxis(name).enableAutoSIPrefix(False)
        self.setTitle("Top view", color=theme.DIM_TEXT, size="9pt")
        self.subject = self.plot(pen=pg.mkPen(theme.SUCCESS, width=3))
        self.path = self.plot(pen=pg.mkPen(theme.ACCENT, width=2))
        self.frustum = self.plot(pen=pg.mkPen(theme.WARNING, width=2))
        self.camera = self.plot(
            pen=None, symbol="o", symbolSize=8, symbolBrush=pg.mkBrush(theme.WARNING)
        )

    def show_path(self, poses: list[Pose], playhead: int) -> None:
        """The whole path (`poses`, one a frame) and the camera at the playhead."""
        xs = np.array([p.truck for p in poses])
        zs = np.array([p.dolly for p in poses])
        self.path.setData(xs, zs)
        self.subject.setData([-0.45, 0.45], [DEPTH, DEPTH])
        self.show_camera(poses, playhead)
        x_lo, x_hi = min(-0.5, xs.min() - 0.2), max(0.5, xs.max() + 0.2)
        z_lo, z_hi = min(-0.3, zs.min() - 0.2), max(DEPTH + 0.1, zs.max() + 0.35)
        self.setRange(xRange=(x_lo, x_hi), yRange=(z_lo, z_hi), padding=0)

    def show_camera(self, poses: list[Pose], playhead: int) -> None:
        """Only the camera's place and view cone at the playhead (what playback moves)."""
        here = poses[min(max(playhead, 0), len(poses) - 1)]
        half = math.atan(math.tan(math.radians(DEFAULT_FOV_DEG / 2)) / here.zoom)
        heading = math.radians(here.pan)
        reach = 0.3
        rays = []
        for side in (-half, half):
            angle = heading + side
            rays.append(
                (here.truck + reach * math.sin(angle), here.dolly + reach * math.cos(angle))
            )
        (lx, lz), (rx, rz) = rays
        self.frustum.setData([lx, here.truck, rx, lx], [lz, here.dolly, rz, lz])
        self.camera.setData([here.truck], [here.dolly])


class CameraPathEditor(QWidget):
    path_previewed = Signal(str, object)  # shot id, the CameraPath a drag is making
    playhead_moved = Signal(int)  # the user dragged the playhead to this frame
    edit_finished = Signal(str)  # shot id: an edit was made, or a drag ended without one

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.path = CameraPath()  # what is drawn: the shot's path, or the one being dragged
        self.frames = 1
        self.playhead = 0
        self.selected: int | None = None  # frame of the selected key
        self.selected_channel = ""  # the curve it was picked on: what the Value field edits
        self._fitted_for: tuple | None = None  # (shot id, frames) the view was last fitted to
        self._drawn_for: tuple | None = None  # what the curves were last drawn from
        self._double_on_key = False
        self._user_zoomed = False  # the wheel or a pan changed the time range since the fit
        self.context_menu: QMenu | None = None
        self._drag: dict | None = None
        self._pinned: set[str] = set()
        self._hidden: set[str] = set()
        self._plots: list[_ChannelPlot] = []
        self._shown: tuple[str, ...] = ()
        self._frame_poses: list[Pose] = [Pose()]  # the path sampled once a frame
        self._build()
        document.current_shot_changed.connect(lambda _id: self._on_document_changed())
        document.project_replaced.connect(self._on_project_replaced)
        document.project_changed.connect(self._on_document_changed)
        document.shot_changed.connect(self._on_shot_changed)
        self._on_document_changed()

    # ------------------------------------------------------------------ building

    def _build(self) -> None:
        channels = QVBoxLayout()
        channels.setContentsMargins(4, 4, 0, 4)
        channels.setSpacing(2)
        self.channel_buttons: dict[str, QToolButton] = {}
        for name, spec in CHANNELS.items():
            button = QToolButton(self)
            button.setText(spec.label)
            button.setCheckable(True)
            button.setToolTip(f"Show the {spec.label.lower()} curve")
            button.setStyleSheet(
                f"QToolButton {{ padding: 1px 4px; }} QToolButton:checked {{ color: {spec.colour}; }}"
            )
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            button.toggled.connect(lambda on, n=name: self._on_channel_toggled(n, on))
            self.channel_buttons[name] = button
            channels.addWidget(button)
        channels.addStretch(1)

        bar = QHBoxLayout()
        bar.setContentsMargins(6, 4, 6, 0)
        bar.setSpacing(3)
        self.add_button = QPushButton("Add key", self)
        self.add_button.setToolTip("Add a key at the playhead, keeping the move as it is (I)")
        self.add_button.clicked.connect(self.add_key_at_playhead)
        self.delete_button = QPushButton("Delete key", self)
        self.delete_button.setToolTip("Delete the selected key (Del)")
        self.delete_button.clicked.connect(self.delete_selected_key)
        self.easing_box = QComboBox(self)
        for easing in EASINGS:
            self.easing_box.addItem(EASING_LABELS[easing], easing)
        self.easing_box.setToolTip("Easing of the segment that starts at the selected key")
        self.easing_box.activated.connect(
            lambda i: self.set_easing(self.selected, self.easing_box.itemData(i))
        )
        self.preset_box = QComboBox(self)
        for name, description in PRESETS.items():
            self.preset_box.addItem(name.replace("-", " ").capitalize(), name)
            self.preset_box.setItemData(
                self.preset_box.count() - 1, description, Qt.ItemDataRole.ToolTipRole
            )
        self.preset_box.setCurrentIndex(self.preset_box.findData("pan-right"))
        self.preset_box.setToolTip("A camera move to put over the whole shot")
        for box in (self.easing_box, self.preset_box):
            box.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            box.setMinimumContentsLength(7)
        self.strength_spin = QDoubleSpinBox(self)
        self.strength_spin.setRange(0.1, 3.0)
        self.strength_spin.setSingleStep(0.25)
        self.strength_spin.setValue(1.0)
        self.strength_spin.setSuffix("×")
        self.strength_spin.setToolTip("How strong the preset move is (1 suits a 2-4 s shot)")
        self.preset_button = QPushButton("Apply", self)
        self.preset_button.setToolTip("Replace the shot's camera path with this move (undoable)")
        self.preset_button.clicked.connect(
            lambda: self.apply_preset(self.preset_box.currentData(), self.strength_spin.value())
        )
        self.key_label = QLabel("Key", self)
        self.key_label.setObjectName("dim")
        self.key_frame_spin = _FrameEntry(self)
        self.key_frame_spin._setup_entry(self.apply_key_entry, self._refresh_controls)
        self.key_frame_spin.setPrefix("frame ")
        self.key_frame_spin.setSpecialValueText("frame –")
        self.key_frame_spin.setToolTip(
            "The selected key's frame (from 1): type, then Enter; Escape puts it back "
            "(double-click a key to come here)"
        )
        self.key_value_spin = _ValueEntry(self)
        self.key_value_spin._setup_entry(self.apply_key_entry, self._refresh_controls)
        self.key_value_spin.setDecimals(3)
        self.key_value_spin.setSpecialValueText("value –")
        self.key_value_spin.setToolTip(
            "The selected key's value on the curve it was picked on: type, then Enter"
        )
        for widget in (self.add_button, self.delete_button, self.easing_box):
            bar.addWidget(widget)
        bar.addStretch(1)
        for widget in (self.preset_box, self.strength_spin, self.preset_button):
            bar.addWidget(widget)

        self.graph = pg.GraphicsLayoutWidget(self)
        self.graph.setBackground(theme.BASE)
        self.graph.ci.layout.setSpacing(2)
        self.graph.ci.setContentsMargins(2, 4, 8, 2)
        self.graph.setMinimumWidth(160)
        self.graph.scene().sigMouseClicked.connect(self._on_graph_click)
        self.top_view = TopView(self)
        self.top_view.setFixedWidth(170)
        self.hint = QLabel(self)
        self.hint.setObjectName("dim")
        self.hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(2)
        body.addLayout(channels)
        body.addWidget(self.graph, 1)
        body.addWidget(self.top_view)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addLayout(body, 1)
        footer = QHBoxLayout()  # the hint, and the selected key's typed frame and value
        footer.setContentsMargins(0, 0, 6, 2)
        footer.setSpacing(4)
        footer.addWidget(self.hint, 1)
        for widget in (self.key_label, self.key_frame_spin, self.key_value_spin):
            footer.addWidget(widget)
        layout.addLayout(footer)

        add_local_shortcuts(
            self,
            (
                ("camera_add_key", self.add_key_at_playhead),
                ("camera_delete_key", self.delete_selected_key),
            ),
        )

    # ------------------------------------------------------------------ reading the document

    @property
    def shot(self):
        return self.document.current_shot

    @property
    def plots(self) -> dict[str, _ChannelPlot]:
        return {p.channel: p for p in self._plots}

    def shown_channels(self) -> tuple[str, ...]:
        shown = tuple(
            c
            for c in POSE_FIELDS
            if c in self._pinned or (channel_varies(self.path, c) and c not in self._hidden)
        )
        return shown or ("pan",)

    def _on_shot_changed(self, shot_id: str) -> None:
        if shot_id == self.document.current_shot_id and self._drag is None:
            if self._drawn_for is not None and self._drawn_for == self._drawing_inputs():
                return  # another field (a new seed at every Generate): nothing here moved
            self._on_document_changed()

    def _drawing_inputs(self) -> tuple | None:
        """What the editor draws from: the shot, its path, its length, the project's rate."""
        shot = self.shot
        if shot is None:
            return None
        camera = copy.deepcopy(shot.camera.sorted())  # its own keys: edits in place still show
        return (shot.id, camera, max(1, shot.duration), self.document.project.fps)

    def _on_view_zoomed(self, *_args) -> None:
        self._user_zoomed = True

    def _on_view_resized(self, *_args) -> None:
        """A fitted view stays fitted when the panel is resized (until the user zooms)."""
        if not self._user_zoomed:
            for item in self._plots:
                item.plot.setXRange(-0.5, self.frames - 0.5, padding=0)

    def _on_project_replaced(self) -> None:
        self._fitted_for = None  # another project: fit its shot afresh
        self._on_document_changed()

    def _on_document_changed(self) -> None:
        if self._drag is not None:
            return
        shot = self.shot
        self.setEnabled(shot is not None)
        self.path = CameraPath() if shot is None else shot.camera.sorted()
        self.frames = 1 if shot is None else max(1, shot.duration)
        for item in self._plots:
            item.plot.getAxis("bottom").set_fps(self.document.project.fps)
        if self.selected is not None and self.path.keyframe_at(self.selected) is None:
            self.selected = None
        # the view is fitted for another shot or length only: an edit never moves the axes
        fitted_for = (None if shot is None else shot.id, self.frames)
        self._redraw(rescale=fitted_for != self._fitted_for)
        self._drawn_for = self._drawing_inputs()

    # ------------------------------------------------------------------ drawing

    def _rebuild_plots(self, shown: tuple[str, ...]) -> None:
        retired = [item.plot for item in self._plots]
        self.graph.clear()
        for plot in retired:  # freed here, on the GUI thread, not by a collector elsewhere
            plot.deleteLater()
        self._plots = []
        fps = self.document.project.fps
        for row, channel in enumerate(shown):
            axis = _TimeAxis("bottom")
            axis.set_fps(fps)
            plot = self.graph.addPlot(row=row, col=0, axisItems={"bottom": axis})
            item = _ChannelPlot(self, plot, channel)
            item.playhead.sigDragged.connect(self._on_playhead_line_dragged)
            if self._plots:
                plot.setXLink(self._plots[0].plot)
            plot.vb.sigResized.connect(self._on_view_resized)
            plot.vb.sigRangeChangedManually.connect(self._on_view_zoomed)
            plot.getAxis("bottom").setStyle(showValues=row == len(shown) - 1)
            self._plots.append(item)
        self._shown = shown
        with_blocked = [(b, b.blockSignals(True)) for b in self.channel_buttons.values()]
        for name, button in self.channel_buttons.items():
            button.setChecked(name in shown)
        for button, _was in with_blocked:
            button.blockSignals(False)

    def _redraw(self, rescale: bool = False) -> None:
        shown = self.shown_channels()
        if shown != self._shown:
            self._rebuild_plots(shown)
            rescale = True
        keys = self.path.sorted().keyframes
        last = self.frames - 1
        xs, poses = sample_poses(self.path, self.frames)  # once for every curve
        for item in self._plots:
            channel = item.channel
            ys = np.array([getattr(p, channel) for p in poses])
            item.curve.setData(xs, ys)
            item.key_points = [(k.frame, getattr(k.pose, channel), k.frame) for k in keys]
            spots = []
            for x, y, frame in item.key_points:
                chosen = frame == self.selected
                spots.append(
                    {
                        "pos": (x, y),
                        "size": 15 if chosen else 12,
                        "brush": pg.mkBrush("#ffffff" if chosen else CHANNELS[channel].colour),
                        "pen": pg.mkPen("#ffffff" if chosen else theme.BASE, width=1.5),
                    }
                )
            item.keys.setData(spots=spots)
            item.handle_points, lines = self._handles(keys, channel)
            item.handles.setData(pos=[(x, y) for x, y, _ in item.handle_points] or np.zeros((0, 2)))
            item.handle_lines.setData(*lines) if lines[0] else item.handle_lines.setData([], [])
            item.playhead.setValue(self.playhead)
            item.playhead.setBounds((0, last))
            if rescale:
                low, high = CHANNELS[channel].span
                y_lo, y_hi = min(low, float(ys.min())), max(high, float(ys.max()))
                pad = (y_hi - y_lo) * 0.15
                item.plot.setYRange(y_lo - pad, y_hi + pad, padding=0)
                item.plot.setLimits(xMin=-0.5, xMax=last + 0.5, minXRange=min(4.0, last + 1))
            elif self._drag is None:
                self._keep_in_view(item, ys)
        if rescale:  # after every plot's limits: a linked plot's limits move the others
            for item in self._plots:
                item.plot.setXRange(-0.5, last + 0.5, padding=0)
            shot = self.shot
            self._fitted_for = (None if shot is None else shot.id, self.frames)
            self._user_zoomed = False
        self._frame_poses = self.path.sorted().sample_frames(self.frames)
        self.top_view.show_path(self._frame_poses, self.playhead)
        self._refresh_controls()

    @staticmethod
    def _keep_in_view(item: _ChannelPlot, ys: np.ndarray) -> None:
        """Grow the value range only as far as a curve left it (never shrink, never jump)."""
        (low, high) = item.plot.viewRange()[1]
        y_lo, y_hi = float(ys.min()), float(ys.max())
        if low <= y_lo and y_hi <= high:
            return
        pad = (max(high, y_hi) - min(low, y_lo)) * 0.1
        item.plot.setYRange(
            y_lo - pad if y_lo < low else low, y_hi + pad if y_hi > high else high, padding=0
        )

    @staticmethod
    def _handles(keys: list[CameraKeyframe], channel: str):
        points, line_x, line_y = [], [], []
        for i, (start, end) in enumerate(zip(keys, keys[1:])):
            if start.easing != "bezier" or start.handles is None:
                continue
            x1, y1, x2, y2 = start.handles
            t0, t1 = start.frame, end.frame
            v0, v1 = getattr(start.pose, channel), getattr(end.pose, channel)
            h1 = (t0 + x1 * (t1 - t0), v0 + y1 * (v1 - v0))
            h2 = (t0 + x2 * (t1 - t0), v0 + y2 * (v1 - v0))
            points += [(*h1, (i, 1)), (*h2, (i, 2))]
            line_x += [t0, h1[0], t1, h2[0]]
            line_y += [v0, h1[1], v1, h2[1]]
        return points, (line_x, line_y)

    def _entry_channel(self) -> str:
        shown = self._shown or self.shown_channels()
        return self.selected_channel if self.selected_channel in shown else shown[0]

    def _refresh_controls(self) -> None:
        key = self.path.keyframe_at(self.selected) if self.selected is not None else None
        channel = self._entry_channel()
        spec = CHANNELS[channel]
        for spin in (self.key_frame_spin, self.key_value_spin):
            spin.setEnabled(key is not None)
            spin.blockSignals(True)
        low, high = spec.limits
        self.key_value_spin.setSuffix(f" {spec.unit}" if spec.unit else "")
        self.key_value_spin.setPrefix(f"{spec.label.lower()} ")
        if key is not None:
            self.key_frame_spin.setRange(1, max(1, self.frames))
            self.key_value_spin.setRange(low, high)
            self.key_frame_spin.setValue(key.frame + 1)
            self.key_value_spin.setValue(getattr(key.pose, channel))
        else:  # no key selected: the fields read as empty, not as a key at frame 1
            self.key_frame_spin.setRange(0, max(1, self.frames))
            self.key_frame_spin.setValue(0)
            self.key_value_spin.setRange(low - 1, high)
            self.key_value_spin.setValue(low - 1)
        for spin in (self.key_frame_spin, self.key_value_spin):
            spin.blockSignals(False)
        self.delete_button.setEnabled(key is not None)
        self.easing_box.setEnabled(key is not None and not self._is_last(key.frame))
        if key is not None:
            self.easing_box.blockSignals(True)
            self.easing_box.setCurrentIndex(self.easing_box.findData(key.easing))
            self.easing_box.blockSignals(False)
        if not self.path.keyframes:
            self.hint.setText(
                "  Locked-off camera. Apply a preset, or press Add key (I) at two frames and drag."
            )
        elif len(self.path.keyframes) == 1:
            self.hint.setText("  One key holds the camera. Add another at a later frame to move.")
        else:
            self.hint.setText("  Drag keys · right-click: easing · double-click: type")

    def _is_last(self, frame: int) -> bool:
        return frame == max(k.frame for k in self.path.keyframes)

    # ------------------------------------------------------------------ playhead

    def set_playhead(self, frame: int) -> None:
        self.playhead = int(frame)
        for item in self._plots:
            item.playhead.blockSignals(True)
            item.playhead.setValue(self.playhead)
            item.playhead.blockSignals(False)
        self.top_view.show_camera(self._frame_poses, self.playhead)

    def _on_playhead_line_dragged(self, line) -> None:
        self._on_playhead_dragged(int(round(line.value())))

    def _on_playhead_dragged(self, frame: int) -> None:
        frame = min(max(frame, 0), self.frames - 1)
        if frame != self.playhead:
            self.set_playhead(frame)
            self.playhead_moved.emit(frame)

    # ------------------------------------------------------------------ editing

    def _commit(self, path: CameraPath, text: str) -> None:
        shot = self.shot
        if shot is None:
            return
        if path.to_dict() == shot.camera.to_dict():
            self._on_document_changed()
        else:
            self.document.push(SetCamera(self.document, shot.id, path, text))
        self.edit_finished.emit(shot.id)

    def add_key_at_playhead(self) -> None:
        """A key at the playhead holding the pose the path has there (the move is unchanged)."""
        if self.shot is None:
            return
        frame = min(max(self.playhead, 0), self.frames - 1)
        existing = self.path.keyframe_at(frame)
        if existing is not None:
            self.selected = frame
            self._redraw()
            return
        keys = self.path.sorted()
        before = [k for k in keys.keyframes if k.frame < frame]
        easing = before[-1].easing if before else "ease-in-out"
        handles = before[-1].handles if before else None
        key = CameraKeyframe(frame, keys.sample(frame), easing, handles)
        self.selected = frame
        self._commit(keys.with_keyframe(key), f"Add camera key at frame {frame + 1}")

    def apply_key_entry(self) -> None:
        """Enter in the key's fields: move it to the typed frame and value, one undo step."""
        key = self.path.keyframe_at(self.selected) if self.selected is not None else None
        if key is None or self.shot is None:
            return
        channel = self._entry_channel()
        frame = int(self.key_frame_spin.value()) - 1
        value = float(self.key_value_spin.value())
        if frame != key.frame and self.path.keyframe_at(frame) is not None:
            self.hint.setText(f"  Frame {frame + 1} already has a key: choose another frame.")
            return
        pose = dataclasses.replace(key.pose, **{channel: value})
        moved = dataclasses.replace(key, frame=frame, pose=pose)
        self.selected = frame
        path = self.path.without_keyframe(key.frame).with_keyframe(moved)
        self._commit(path, f"Set camera key at frame {frame + 1}")

    def focus_key_entry(self) -> None:
        """Double-click on a key: its frame field takes the keyboard, all selected."""
        self.key_frame_spin.setFocus(Qt.FocusReason.MouseFocusReason)
        self.key_frame_spin.selectAll()

    def delete_selected_key(self) -> None:
        if self.selected is None or self.path.keyframe_at(self.selected) is None:
            return
        frame, self.selected = self.selected, None
        self._commit(self.path.without_keyframe(frame), f"Delete camera key at frame {frame + 1}")

    def set_easing(self, frame: int | None, easing: str) -> None:
        path = with_easing(self.path, frame, easing) if frame is not None else None
        if path is not None:
            self._commit(path, f"Set easing to {EASING_LABELS[easing]}")

    def apply_preset(self, name: str, strength: float = 1.0) -> None:
        shot = self.shot
        if shot is None:
            return
        path = preset(name, max(1, shot.duration), strength)
        self._hidden.clear()
        self._pinned = {c for c in self._pinned if channel_varies(path, c)}
        self.selected = None
        label = self.preset_box.itemText(self.preset_box.findData(name)) or name
        self._commit(path, f"Camera preset: {label}")

    # ------------------------------------------------------------------ mouse

    def _on_channel_toggled(self, channel: str, on: bool) -> None:
        if on:
            self._pinned.add(channel)
            self._hidden.discard(channel)
        else:
            self._pinned.discard(channel)
            self._hidden.add(channel)
        self._redraw(rescale=True)

    def _on_graph_click(self, ev) -> None:
        on_key, self._double_on_key = self._double_on_key, False
        if ev.double() and ev.button() == Qt.MouseButton.LeftButton and not on_key:
            self.fit_view()

    def fit_view(self) -> None:
        """The whole shot in view again, after zooming into part of it."""
        self._redraw(rescale=True)

    def refresh_time_labels(self) -> None:
        """The time preference changed: write the axis afresh."""
        for item in self._plots:
            item.plot.getAxis("bottom").set_fps(self.document.project.fps)

    def _on_key_click(self, item: _ChannelPlot, ev) -> None:
        frame = item.hit(ev.scenePos(), item.key_points)
        if frame is None:
            ev.ignore()
            return
        ev.accept()
        self.selected = int(frame)
        self.selected_channel = item.channel
        self._redraw()
        if ev.button() == Qt.MouseButton.RightButton:
            self._show_key_menu(int(frame), ev.screenPos())
        elif ev.double():
            self._double_on_key = True  # the graph's own double-click (fit) leaves it be
            self.focus_key_entry()

    def _show_key_menu(self, frame: int, screen_pos) -> None:
        key = self.path.keyframe_at(frame)
        if key is None:
            return
        last = self._is_last(frame)
        menu = key_menu(self, key.easing, last, lambda e: self.set_easing(frame, e))
        if last:
            menu.addSection("The last key starts no segment")
        menu.addSeparator()
        delete = menu.addAction("Delete key")
        delete.triggered.connect(
            lambda: (setattr(self, "selected", frame), self.delete_selected_key())
        )
        self.context_menu = menu
        menu.popup(QPointF(screen_pos).toPoint())

    def _on_key_drag(self, item: _ChannelPlot, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        if ev.isStart():
            frame = item.hit(ev.buttonDownScenePos(), item.key_points)
            if frame is None or self.shot is None:
                ev.ignore()
                return
            self._drag = {"kind": "key", "frame": int(frame), "start": self.path, "now": int(frame)}
            self.selected = int(frame)
            self.selected_channel = item.channel
        elif self._drag is None or self._drag["kind"] != "key":
            ev.ignore()
            return
        ev.accept()
        drag = self._drag
        start: CameraPath = drag["start"]
        key = start.keyframe_at(drag["frame"])
        target = min(max(int(round(ev.pos().x())), 0), self.frames - 1)
        others = {k.frame for k in start.keyframes if k.frame != drag["frame"]}
        frame = target if target not in others else drag["now"]
        low, high = CHANNELS[item.channel].limits
        value = min(max(float(ev.pos().y()), low), high)
        pose = dataclasses.replace(key.pose, **{item.channel: value})
        moved = dataclasses.replace(key, frame=frame, pose=pose)
        drag["now"] = frame
        self.selected = frame
        self._update_drag(start.without_keyframe(drag["frame"]).with_keyframe(moved))
        if ev.isFinish():
            self._finish_drag(f"Move camera key to frame {frame + 1}")

    def _on_handle_drag(self, item: _ChannelPlot, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        if ev.isStart():
            hit = item.hit(ev.buttonDownScenePos(), item.handle_points)
            if hit is None or self.shot is None:
                ev.ignore()
                return
            self._drag = {"kind": "handle", "handle": hit, "start": self.path}
        elif self._drag is None or self._drag["kind"] != "handle":
            ev.ignore()
            return
        ev.accept()
        start: CameraPath = self._drag["start"]
        segment, which = self._drag["handle"]
        keys = start.sorted().keyframes
        first, second = keys[segment], keys[segment + 1]
        x1, y1, x2, y2 = first.handles
        u = (ev.pos().x() - first.frame) / (second.frame - first.frame)
        u = min(max(u, 0.0), 1.0)
        v0, v1 = getattr(first.pose, item.channel), getattr(second.pose, item.channel)
        span = v1 - v0
        if which == 1:
            x1 = u
            y1 = (ev.pos().y() - v0) / span if abs(span) > 1e-9 else y1
            y1 = min(max(y1, -1.0), 2.0)
        else:
            x2 = u
            y2 = (ev.pos().y() - v0) / span if abs(span) > 1e-9 else y2
            y2 = min(max(y2, -1.0), 2.0)
        shaped = dataclasses.replace(first, handles=(x1, y1, x2, y2))
        self.selected = first.frame
        self._update_drag(start.with_keyframe(shaped))
        if ev.isFinish():
            self._finish_drag("Shape easing")

    def _update_drag(self, path: CameraPath) -> None:
        self.path = path
        self._redraw()
        shot = self.shot
        if shot is not None:
            self.path_previewed.emit(shot.id, path)

    def _finish_drag(self, text: str) -> None:
        self._drag = None
        self._commit(self.path, text)
        self._redraw()  # the axes stay as they were while the key was dragged
