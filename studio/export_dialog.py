"""The Export dialog: shot or sequence, MP4 or PNG frames, quality, frame rate, where."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from .export import ExportOptions


class ExportDialog(QDialog):
    def __init__(self, defaults: ExportOptions, has_sequence: bool, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.setMinimumWidth(460)
        form = QFormLayout(self)
        self.scope_box = QComboBox(self)
        self.scope_box.addItem("This shot (active take)", "shot")
        self.scope_box.addItem("Whole sequence (every shot's active take)", "sequence")
        self.scope_box.model().item(1).setEnabled(has_sequence)
        self.scope_box.setCurrentIndex(self.scope_box.findData(defaults.scope))
        form.addRow("Export", self.scope_box)
        self.format_box = QComboBox(self)
        self.format_box.addItem("MP4 video (H.264)", "mp4")
        self.format_box.addItem("PNG sequence (a folder of frames)", "png")
        self.format_box.setCurrentIndex(self.format_box.findData(defaults.format))
        self.format_box.currentIndexChanged.connect(self._on_format_changed)
        form.addRow("Format", self.format_box)
        self.path_edit = QLineEdit(str(defaults.path), self)
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        form.addRow("Save to", row)
        self.crf_spin = QSpinBox(self)
        self.crf_spin.setRange(0, 51)
        self.crf_spin.setValue(defaults.crf)
        self.crf_spin.setToolTip("Lower is better: 0 lossless, 18 visually lossless, 23 smaller")
        form.addRow("Quality (CRF)", self.crf_spin)
        self.fps_spin = QDoubleSpinBox(self)
        self.fps_spin.setRange(0, 240)
        self.fps_spin.setDecimals(3)
        self.fps_spin.setSpecialValueText("Project rate")
        self.fps_spin.setValue(defaults.fps or 0)
        form.addRow("Frame rate", self.fps_spin)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self._on_format_changed()

    def _on_format_changed(self) -> None:
        is_mp4 = self.format_box.currentData() == "mp4"
        self.crf_spin.setEnabled(is_mp4)
        path = Path(self.path_edit.text())
        self.path_edit.setText(str(path.with_suffix(".mp4") if is_mp4 else path.with_suffix("")))

    def _browse(self) -> None:
        if self.format_box.currentData() == "mp4":
            path, _ = QFileDialog.getSaveFileName(
                self, "Export to", self.path_edit.text(), "MP4 video (*.mp4)"
            )
        else:
            path = QFileDialog.getExistingDirectory(
                self, "Export frames into", self.path_edit.text()
            )
        if path:
            self.path_edit.setText(path)

    def options(self) -> ExportOptions:
        return ExportOptions(
            path=Path(self.path_edit.text()).expanduser(),
            scope=self.scope_box.currentData(),
            format=self.format_box.currentData(),
            crf=self.crf_spin.value(),
            fps=self.fps_spin.value() or None,
        )
