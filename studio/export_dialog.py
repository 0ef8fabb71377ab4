"""The Export dialog: shot or sequence; a file, frames or a timeline; codec, quality, where."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from engine.codecs import CODECS, PRESETS
from engine.export import TIMELINE_CODEC
from engine.timelines import TIMELINE_LABELS

from .export import ExportOptions


class ExportDialog(QDialog):
    def __init__(self, defaults: ExportOptions, has_sequence: bool, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.setMinimumWidth(520)
        form = QFormLayout(self)
        self.scope_box = QComboBox(self)
        self.scope_box.addItem("This shot (active take)", "shot")
        self.scope_box.addItem("Whole sequence (every shot's active take)", "sequence")
        self.scope_box.model().item(1).setEnabled(has_sequence)
        self.scope_box.setCurrentIndex(self.scope_box.findData(defaults.scope))
        form.addRow("Export", self.scope_box)

        self.timeline_box = QComboBox(self)
        self.timeline_box.addItem("One file (or one folder of frames)", "")
        for suffix, label in TIMELINE_LABELS.items():
            self.timeline_box.addItem(f"Timeline: {label}, media beside it", suffix)
        self.timeline_box.setToolTip(
            "A timeline references one media file per shot, written into a folder beside "
            "it, with shot names, durations and takes: open it in Resolve or Premiere."
        )
        suffix = defaults.path.suffix.lower()
        self.timeline_box.setCurrentIndex(max(0, self.timeline_box.findData(suffix)))
        form.addRow("As", self.timeline_box)

        self.codec_box = QComboBox(self)
        for name, codec in CODECS.items():
            self.codec_box.addItem(codec.label, name)
            self.codec_box.setItemData(
                self.codec_box.count() - 1, codec.note, Qt.ItemDataRole.ToolTipRole
            )
        self.codec_box.setCurrentIndex(max(0, self.codec_box.findData(defaults.codec)))
        form.addRow("Codec", self.codec_box)

        self.path_edit = QLineEdit(str(defaults.path), self)
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        form.addRow("Save to", row)

        self.crf_spin = QSpinBox(self)
        self.crf_spin.setToolTip("Lower is better: 0 is lossless")
        form.addRow("Quality (CRF)", self.crf_spin)
        self.preset_box = QComboBox(self)
        for preset in PRESETS:
            self.preset_box.addItem(preset, preset)
        self.preset_box.setToolTip("Slower presets make smaller files at the same quality")
        form.addRow("Speed preset", self.preset_box)
        self.fps_spin = QDoubleSpinBox(self)
        self.fps_spin.setRange(0, 240)
        self.fps_spin.setDecimals(3)
        self.fps_spin.setSpecialValueText("Project rate")
        self.fps_spin.setValue(defaults.fps or 0)
        form.addRow("Frame rate", self.fps_spin)
        self.note_label = QLabel(self)
        self.note_label.setWordWrap(True)
        form.addRow(self.note_label)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self._crf_defaults = {} if defaults.crf is None else {defaults.codec: defaults.crf}
        self.timeline_box.currentIndexChanged.connect(self._on_timeline_changed)
        self.codec_box.currentIndexChanged.connect(self._on_codec_changed)
        self._on_codec_changed()
        if defaults.preset:
            self.preset_box.setCurrentIndex(self.preset_box.findData(defaults.preset))

    # -- reacting to choices

    def _codec(self):
        return CODECS[self.codec_box.currentData()]

    def _on_timeline_changed(self) -> None:
        timeline = self.timeline_box.currentData()
        model = self.codec_box.model()
        for row, codec in enumerate(CODECS.values()):
            model.item(row).setEnabled(not (timeline and codec.sequence))
        if timeline and self._codec().sequence:
            self.codec_box.setCurrentIndex(self.codec_box.findData(TIMELINE_CODEC))
        self._on_codec_changed()

    def _on_codec_changed(self) -> None:
        codec = self._codec()
        self.crf_spin.setEnabled(codec.crf is not None)
        if codec.crf is not None:
            best, worst, default = codec.crf
            self.crf_spin.setRange(best, worst)
            self.crf_spin.setValue(self._crf_defaults.get(codec.name, default))
        self.preset_box.setEnabled(bool(codec.default_preset))
        if codec.default_preset:
            self.preset_box.setCurrentIndex(self.preset_box.findData(codec.default_preset))
        self.note_label.setText(codec.note[0].upper() + codec.note[1:] + "." if codec.note else "")
        path = Path(self.path_edit.text())
        timeline = self.timeline_box.currentData()
        if timeline:
            path = path.with_suffix(timeline)
        elif codec.sequence:
            path = path.with_suffix("")
        elif path.suffix.lower() not in codec.extensions:
            path = path.with_suffix(codec.extensions[0])
        self.path_edit.setText(str(path))

    def _browse(self) -> None:
        codec, timeline = self._codec(), self.timeline_box.currentData()
        if codec.sequence and not timeline:
            path = QFileDialog.getExistingDirectory(
                self, "Export frames into", self.path_edit.text()
            )
        else:
            pattern = f"*{timeline}" if timeline else " ".join(f"*{e}" for e in codec.extensions)
            label = TIMELINE_LABELS[timeline] if timeline else codec.label
            path, _ = QFileDialog.getSaveFileName(
                self, "Export to", self.path_edit.text(), f"{label} ({pattern})"
            )
        if path:
            self.path_edit.setText(path)

    def options(self) -> ExportOptions:
        codec = self._codec()
        return ExportOptions(
            path=Path(self.path_edit.text()).expanduser(),
            scope=self.scope_box.currentData(),
            codec=codec.name,
            crf=self.crf_spin.value() if codec.crf is not None else None,
            preset=self.preset_box.currentData() if codec.default_preset else None,
            fps=self.fps_spin.value() or None,
        )
