"""File > Project Settings: the size and frame rate every shot of the project is made at.

They belong to the project, not to a shot (as a Resolve timeline's resolution does), so
they live here and not in the shot inspector. OK applies them as one undo step. Input is
never corrected silently: a value out of range keeps OK disabled and says why beside the
field; a width or height that is not a multiple of 8 (the built-in model's VAE works in
8-pixel blocks, and encoders in 8- or 16-pixel blocks) is rounded, and the line beside it
says to what. Takes already made at another size or rate are counted, since export
letterboxes or retimes them rather than matching them.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.project import MAX_SIDE, MIN_SIDE

from . import theme
from .document import Document

FPS_PRESETS = (23.976, 24.0, 25.0, 29.97, 30.0, 48.0, 50.0, 60.0)
SIZE_PRESETS = (
    (512, 288),
    (512, 512),
    (768, 432),
    (1024, 576),
    (1280, 720),
    (1920, 1080),
    (288, 512),
    (720, 1280),
)
SIZE_MULTIPLE = 8
MIN_FPS, MAX_FPS = 1.0, 240.0


def checked_side(value: int, name: str) -> tuple[int | None, str]:
    """A width or height as the project takes it, and the line that says what happened to
    the input: (None, why) when it cannot be used; (rounded, "...rounded...") or (value, "")."""
    if value < MIN_SIDE or value > MAX_SIDE:
        return None, f"{name} must be between {MIN_SIDE} and {MAX_SIDE} pixels."
    rounded = max(MIN_SIDE, round(value / SIZE_MULTIPLE) * SIZE_MULTIPLE)
    if rounded != value:
        return rounded, f"{name} is rounded to a multiple of {SIZE_MULTIPLE}: {rounded}."
    return value, ""


def checked_fps(value: float) -> tuple[float | None, str]:
    if value < MIN_FPS or value > MAX_FPS:
        return None, f"Frame rate must be between {MIN_FPS:g} and {MAX_FPS:g} fps."
    return value, ""


def warning_label(parent: QWidget) -> QLabel:
    """The line beside a field that says what became of the input (hidden while empty)."""
    label = QLabel(parent)
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {theme.WARNING};")
    label.hide()
    return label


def show_warning(label: QLabel, text: str) -> None:
    label.setText(text)
    label.setVisible(bool(text))


class ProjectSettingsDialog(QDialog):
    """Width, height and frame rate of the whole project; OK pushes one command."""

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        project = document.project
        self.setWindowTitle("Project Settings")
        self.setMinimumWidth(520)
        column = QVBoxLayout(self)
        intro = QLabel(
            f"Every shot of '{project.name}' is generated and exported at this size and "
            "frame rate.",
            self,
        )
        intro.setWordWrap(True)
        column.addWidget(intro)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        column.addLayout(form)

        self.size_box = QComboBox(self)
        for width, height in SIZE_PRESETS:
            self.size_box.addItem(f"{width} × {height}", f"{width}x{height}")
        self.size_box.addItem("Custom", None)
        self.size_box.activated.connect(self._on_preset)
        form.addRow("Size", self.size_box)
        self.width_spin = QSpinBox(self)
        self.height_spin = QSpinBox(self)
        row = QHBoxLayout()
        for spin in (self.width_spin, self.height_spin):
            spin.setRange(0, 99_999)  # anything can be typed; `checked_side` says what is used
            spin.setSingleStep(SIZE_MULTIPLE)
            spin.setSuffix(" px")
            spin.valueChanged.connect(self._check)
        row.addWidget(self.width_spin, 1)
        row.addWidget(QLabel("×", self))
        row.addWidget(self.height_spin, 1)
        form.addRow("", row)
        self.width_note = warning_label(self)
        form.addRow("", self.width_note)
        self.height_note = warning_label(self)
        form.addRow("", self.height_note)

        self.fps_box = QComboBox(self)
        for fps in FPS_PRESETS:
            self.fps_box.addItem(f"{fps:g} fps", fps)
        self.fps_box.addItem("Custom", None)
        self.fps_box.activated.connect(self._on_fps_preset)
        self.fps_spin = QDoubleSpinBox(self)
        self.fps_spin.setRange(0.0, 1000.0)
        self.fps_spin.setDecimals(3)
        self.fps_spin.setSuffix(" fps")
        self.fps_spin.valueChanged.connect(self._check)
        fps_row = QHBoxLayout()
        fps_row.addWidget(self.fps_box, 1)
        fps_row.addWidget(self.fps_spin, 1)
        form.addRow("Frame rate", fps_row)
        self.fps_note = warning_label(self)
        form.addRow("", self.fps_note)

        self.takes_note = QLabel(self)
        self.takes_note.setObjectName("dim")
        self.takes_note.setWordWrap(True)
        column.addWidget(self.takes_note)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.buttons.accepted.connect(self.apply)
        self.buttons.rejected.connect(self.reject)
        column.addWidget(self.buttons)

        self.width_spin.setValue(project.width)
        self.height_spin.setValue(project.height)
        self.fps_spin.setValue(project.fps)
        self._check()

    # -- reading the fields

    def chosen(self) -> tuple[int | None, int | None, float | None]:
        """Width, height and frame rate as they would be applied (None: not usable)."""
        width, _ = checked_side(self.width_spin.value(), "Width")
        height, _ = checked_side(self.height_spin.value(), "Height")
        fps, _ = checked_fps(self.fps_spin.value())
        return width, height, fps

    def _on_preset(self, index: int) -> None:
        size = self.size_box.itemData(index)
        if size is None:
            self.width_spin.setFocus()
            self.width_spin.selectAll()
            return
        width, height = (int(v) for v in size.split("x"))
        self.width_spin.setValue(width)
        self.height_spin.setValue(height)

    def _on_fps_preset(self, index: int) -> None:
        fps = self.fps_box.itemData(index)
        if fps is None:
            self.fps_spin.setFocus()
            self.fps_spin.selectAll()
            return
        self.fps_spin.setValue(fps)

    def _check(self, *_args) -> None:
        width, width_why = checked_side(self.width_spin.value(), "Width")
        height, height_why = checked_side(self.height_spin.value(), "Height")
        fps, fps_why = checked_fps(self.fps_spin.value())
        show_warning(self.width_note, width_why)
        show_warning(self.height_note, height_why)
        show_warning(self.fps_note, fps_why)
        ok = None not in (width, height, fps)
        self.ok_button.setEnabled(ok)
        self.ok_button.setToolTip("" if ok else "Fix the fields marked above first.")
        index = self.size_box.findData(f"{width}x{height}") if ok else -1
        self.size_box.setCurrentIndex(index if index >= 0 else self.size_box.count() - 1)
        index = self.fps_box.findData(fps) if fps is not None else -1
        self.fps_box.setCurrentIndex(index if index >= 0 else self.fps_box.count() - 1)
        self.takes_note.setText(self._takes_line(width, height, fps) if ok else "")
        QTimer.singleShot(0, self._fit)  # a warning shown or hidden: room for it

    def _fit(self) -> None:
        self.resize(max(self.width(), 520), self.heightForWidth(max(self.width(), 520)))

    def _takes_line(self, width: int, height: int, fps: float) -> str:
        """How many active takes would not match: export letterboxes or retimes those."""
        takes = [s.active() for s in self.document.project.shots]
        off = [
            t
            for t in takes
            if t is not None and ((t.width, t.height) != (width, height) or abs(t.fps - fps) > 1e-3)
        ]
        if not off:
            return "Every shot's active take matches these settings."
        return (
            f"{len(off)} shot(s) have an active take made at another size or frame rate: "
            "they are marked in the Takes panel, and export letterboxes them (or plays them "
            "at this rate) until you generate them again."
        )

    # -- applying

    def apply(self) -> None:
        width, height, fps = self.chosen()
        if None in (width, height, fps):
            return
        document, project = self.document, self.document.project
        size_changed = (width, height) != (project.width, project.height)
        fps_changed = abs(fps - project.fps) > 1e-9
        if size_changed or fps_changed:
            from .commands import SetProjectField, SetResolution

            stack = document.undo_stack
            stack.beginMacro("Change project settings")
            if size_changed:
                document.push(SetResolution(document, width, height))
            if fps_changed:
                document.push(SetProjectField(document, "fps", fps, None, merge=False))
            stack.endMacro()
        self.accept()
