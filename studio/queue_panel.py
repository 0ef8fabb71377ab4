"""The queue panel: every job with its status, progress, elapsed and remaining time, and
on a render farm the node that runs it (the Node column shows once a job has one).

A view over `JobListModel` plus the buttons that start and stop work. It emits requests;
the generation controller acts on them. A job whose decode ran out of memory shows "↻" in
its last column and enables "Decode again" (also in the row's context menu).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QPoint, QRect, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QPushButton,
    QSpinBox,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from .jobs_model import DECODE_AGAIN_TIP, JobListModel
from .labels import ElidedLabel

#: the widest text each sized column usually holds (a longer status message is elided)
_WIDEST = {
    JobListModel.STATUS: ("Saving take", "Cancelled", "Running"),
    JobListModel.NODE: ("gpu-node-00",),
    JobListModel.PROGRESS: ("888/888",),
    JobListModel.ELAPSED: ("88.8 s", "88:88"),
    JobListModel.REMAINING: ("estimating…", "finishing…", "88:88"),
}


class ProgressDelegate(QStyledItemDelegate):
    """Paints the progress column as a bar (no widget per row)."""

    def paint(self, painter, option, index: QModelIndex) -> None:
        fraction = index.data(Qt.ItemDataRole.UserRole) or 0.0
        bar = QStyleOptionProgressBar()
        bar.rect = QRect(option.rect.adjusted(4, 5, -4, -5))
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = int(round(float(fraction) * 1000))
        bar.text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        bar.textVisible = bool(bar.text)
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)


class QueuePanel(QWidget):
    generate_requested = Signal(int)  # how many variations (1 = a plain Generate)
    cancel_requested = Signal(str)  # job id
    cancel_all_requested = Signal()
    decode_again_requested = Signal(str)  # job id of a job whose decode ran out of memory
    finished_cleared = Signal(list)  # job ids whose rows went

    def __init__(self, model: JobListModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.table = QTableView(self)
        self.table.setModel(model)
        self.table.setItemDelegateForColumn(JobListModel.PROGRESS, ProgressDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(JobListModel.JOB, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(JobListModel.CANCEL, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(JobListModel.CANCEL, 28)
        self._fit_columns()
        self.table.clicked.connect(self._on_table_clicked)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._on_table_menu)
        self.table.selectionModel().selectionChanged.connect(self._refresh_summary)

        self.variations_spin = QSpinBox(self)
        self.variations_spin.setRange(2, 16)
        self.variations_spin.setValue(4)
        self.variations_spin.setToolTip("How many variations, with consecutive seeds")
        self.variations_button = QPushButton("Variations", self)
        self.variations_button.setToolTip(
            "Generate N variations of the shot on consecutive seeds: from a new seed, or "
            "from the one after the locked seed"
        )
        self.variations_button.clicked.connect(
            lambda: self.generate_requested.emit(self.variations_spin.value())
        )
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Cancel the selected job, or the running one (Esc)")
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.cancel_all_button = QPushButton("Cancel all", self)
        self.cancel_all_button.clicked.connect(self.cancel_all_requested)
        self.decode_button = QPushButton("Decode again", self)
        self.decode_button.setToolTip(DECODE_AGAIN_TIP)
        self.decode_button.clicked.connect(self._on_decode_clicked)
        self.clear_button = QPushButton("Clear", self)
        self.clear_button.setToolTip("Remove finished, cancelled and failed jobs from the list")
        self.clear_button.clicked.connect(self._on_clear_clicked)
        # the room left over, never more: a job starting must not widen the dock (the window)
        self.summary = ElidedLabel(self)
        self.summary.setObjectName("dim")
        self.summary.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        toolbar = QHBoxLayout()
        toolbar.setContentsMargins(6, 6, 6, 0)
        toolbar.setSpacing(4)
        toolbar.addWidget(self.variations_spin)
        toolbar.addWidget(self.variations_button)
        toolbar.addWidget(self.summary, 1)
        toolbar.addWidget(self.decode_button)
        toolbar.addWidget(self.cancel_button)
        toolbar.addWidget(self.cancel_all_button)
        toolbar.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(toolbar)
        layout.addWidget(self.table, 1)
        for signal in (model.rowsInserted, model.rowsRemoved, model.dataChanged, model.modelReset):
            signal.connect(self._refresh_summary)
        self._refresh_summary()

    def _fit_columns(self) -> None:
        """Each column as wide as its header and its widest usual text, in this font: a
        header never clips and "estimating…" fits (fixed sizes clipped under larger fonts)."""
        header = self.table.horizontalHeader()
        header.ensurePolished()
        self.table.ensurePolished()
        metrics = self.table.fontMetrics()
        margin = 2 * self.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin) + 10
        for column, texts in _WIDEST.items():
            width = max(metrics.horizontalAdvance(text) for text in texts) + margin
            header.resizeSection(column, max(width, header.sectionSizeHint(column)))

    def changeEvent(self, event) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange) and hasattr(
            self, "table"
        ):
            self._fit_columns()

    def _selected_job(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(Qt.ItemDataRole.UserRole) if rows else None

    def _on_table_clicked(self, index: QModelIndex) -> None:
        if index.column() != JobListModel.CANCEL or not index.data():
            return
        job_id = index.siblingAtColumn(0).data(Qt.ItemDataRole.UserRole)
        record = self.model.record(job_id)
        if record is not None and record.decodable:
            self.decode_again_requested.emit(job_id)
        else:
            self.cancel_requested.emit(job_id)

    def _on_table_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        record = (
            self.model.record(index.data(Qt.ItemDataRole.UserRole)) if index.isValid() else None
        )
        if record is None:
            return
        menu = QMenu(self)
        decode = menu.addAction("Decode again")
        decode.setEnabled(record.decodable)
        decode.triggered.connect(lambda: self.decode_again_requested.emit(record.job_id))
        cancel = menu.addAction("Cancel")
        cancel.setEnabled(record.status in ("queued", "running"))
        cancel.triggered.connect(lambda: self.cancel_requested.emit(record.job_id))
        menu.exec(self.table.viewport().mapToGlobal(pos))
        menu.deleteLater()

    def decodable_job(self) -> str | None:
        """The selected job if it can be decoded again, else the newest one that can."""
        job_id = self._selected_job()
        record = self.model.record(job_id) if job_id else None
        if record is not None and record.decodable:
            return job_id
        decodable = [r for r in self.model.records() if r.decodable]
        return decodable[-1].job_id if decodable else None

    def _on_decode_clicked(self) -> None:
        job_id = self.decodable_job()
        if job_id is not None:
            self.decode_again_requested.emit(job_id)

    def _on_cancel_clicked(self) -> None:
        job_id = self._selected_job()
        record = self.model.record(job_id) if job_id else None
        if record is not None and record.status in ("queued", "running"):
            self.cancel_requested.emit(job_id)
        else:
            running = next((r for r in self.model.records() if r.status == "running"), None)
            if running is not None:
                self.cancel_requested.emit(running.job_id)

    def _on_clear_clicked(self) -> None:
        self.finished_cleared.emit(self.model.clear_finished())

    def _refresh_summary(self, *args) -> None:
        records = self.model.records()
        running = sum(r.status == "running" for r in records)
        queued = sum(r.status == "queued" for r in records)
        text = f"{running} running · {queued} queued" if running or queued else ""
        self.summary.setText(text)
        self.cancel_button.setEnabled(bool(running or queued))
        self.cancel_all_button.setEnabled(bool(running or queued))
        hide_nodes = not self.model.has_nodes()
        if self.table.isColumnHidden(JobListModel.NODE) != hide_nodes:
            self.table.setColumnHidden(JobListModel.NODE, hide_nodes)
        self.decode_button.setVisible(any(r.decodable for r in records))
        self.decode_button.setEnabled(self.decodable_job() is not None)
