"""The Export dialog: shot or sequence; a file, frames or a timeline; codec, quality, where.

Before anything is written it says what the export would meet (`engine.export.review_export`):
the shots that have no take yet, with "Generate missing" (the dialog closes, those shots
are queued, and the export runs once they have takes), and the takes that do not match
their shot, with what export does with each (letterbox, trim, hold the last frame) and
"Regenerate these". A refusal (a folder that does not exist, a codec that cannot hold the
choice) is shown inside the dialog, which stays open with everything as the user set it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
from engine.export import TIMELINE_CODEC, ExportReview
from engine.timelines import TIMELINE_LABELS

from . import theme
from .export import ExportOptions

#: scope -> what the export would meet; a refusal sentence for options, or ""
Review = Callable[[str], ExportReview]
Check = Callable[[ExportOptions], str]


@dataclass(frozen=True)
class GenerateFirst:
    """The user asked to generate shots first; the export runs with `options` afterwards."""

    options: ExportOptions
    shot_ids: tuple[str, ...]


class ExportDialog(QDialog):
    def __init__(
        self,
        defaults: ExportOptions,
        has_sequence: bool,
        parent: QWidget | None = None,
        *,
        review: Review | None = None,
        check: Check | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.setMinimumWidth(560)
        self._review = review
        self._check = check
        self._generate_ids: tuple[str, ...] = ()
        self._missing_ids: tuple[str, ...] = ()
        self._mismatched_ids: tuple[str, ...] = ()
        form = QFormLayout(self)
        self.scope_box = QComboBox(self)
        self.scope_box.addItem("This shot (active take)", "shot")
        self.scope_box.addItem("Whole sequence (every shot's active take)", "sequence")
        self.scope_box.model().item(1).setEnabled(has_sequence)
        self.scope_box.setCurrentIndex(
            max(0, self.scope_box.findData(defaults.scope if has_sequence else "shot"))
        )
        form.addRow("Export", self.scope_box)

        self.missing_label = QLabel(self)
        self.missing_label.setWordWrap(True)
        self.missing_label.setStyleSheet(f"color: {theme.WARNING};")
        self.generate_missing_button = QPushButton("Generate missing", self)
        self.generate_missing_button.setToolTip(
            "Queue every shot listed here; the export starts once they all have a take"
        )
        self.generate_missing_button.clicked.connect(
            lambda: self._generate_first(self._missing_ids)
        )
        form.addRow(self.missing_label)
        form.addRow("", self.generate_missing_button)
        self.mismatch_label = QLabel(self)
        self.mismatch_label.setWordWrap(True)
        self.mismatch_label.setObjectName("dim")
        self.regenerate_button = QPushButton("Regenerate these", self)
        self.regenerate_button.setToolTip(
            "Generate these shots again at the project's size and their own length; the "
            "export starts once they are done"
        )
        self.regenerate_button.clicked.connect(lambda: self._generate_first(self._mismatched_ids))
        form.addRow(self.mismatch_label)
        form.addRow("", self.regenerate_button)

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
        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {theme.DANGER};")
        self.error_label.hide()
        form.addRow(self.error_label)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.export_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.export_button.setText("Export")
        buttons.accepted.connect(self._on_export_clicked)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self._crf_defaults = {} if defaults.crf is None else {defaults.codec: defaults.crf}
        self.timeline_box.currentIndexChanged.connect(self._on_timeline_changed)
        self.codec_box.currentIndexChanged.connect(self._on_codec_changed)
        self._on_codec_changed()
        if defaults.preset:
            self.preset_box.setCurrentIndex(self.preset_box.findData(defaults.preset))
        self.scope_box.currentIndexChanged.connect(self._show_review)
        self._show_review()

    # -- what the export would meet

    def _show_review(self) -> None:
        review = self._review(self.scope_box.currentData()) if self._review else ExportReview()
        self._missing_ids = tuple(shot_id for shot_id, _label in review.missing)
        self._mismatched_ids = tuple(shot_id for shot_id, _line in review.mismatched)
        lines = []
        if review.missing:
            names = ", ".join(label for _id, label in review.missing)
            count = len(review.missing)
            lines.append(f"{count} shot{'s' if count > 1 else ''} without a take: {names}.")
        if review.lost:
            lines.append(
                "Active take missing from the project folder: " + ", ".join(review.lost) + "."
            )
        self.missing_label.setText(" ".join(lines))
        self.missing_label.setVisible(bool(lines))
        self.generate_missing_button.setVisible(bool(review.missing))
        self.generate_missing_button.setText(
            f"Generate missing ({len(review.missing)})" if review.missing else "Generate missing"
        )
        if review.mismatched:
            text = "Takes that do not match their shot:\n" + "\n".join(
                f"• {line}" for _id, line in review.mismatched
            )
        else:
            text = ""
        self.mismatch_label.setText(text)
        self.mismatch_label.setVisible(bool(text))
        self.regenerate_button.setVisible(bool(review.mismatched))
        blocked = bool(review.missing or review.lost)
        self.export_button.setEnabled(not blocked)
        self.export_button.setToolTip(
            "Every shot needs a take first: generate the missing ones" if blocked else ""
        )
        self.adjustSize()

    def _generate_first(self, shot_ids: tuple[str, ...]) -> None:
        if shot_ids:
            self._generate_ids = shot_ids
            self.accept()

    def _on_export_clicked(self) -> None:
        """Export, unless the options are refused: then say why and keep the dialog open."""
        problem = self._check(self.options()) if self._check else ""
        self.error_label.setText(problem)
        self.error_label.setVisible(bool(problem))
        if not problem:
            self._generate_ids = ()
            self.accept()

    def choice(self) -> ExportOptions | GenerateFirst | None:
        """What the user chose: the options to export with, shots to generate first, or None."""
        if self.result() != QDialog.DialogCode.Accepted:
            return None
        if self._generate_ids:
            return GenerateFirst(self.options(), self._generate_ids)
        return self.options()

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
