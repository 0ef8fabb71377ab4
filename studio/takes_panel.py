"""The current shot's takes: which one is active, compare one against it, delete, re-run."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.project import Take

from . import theme
from .commands import DeleteTake, SetActiveTake
from .document import Document


class TakesPanel(QWidget):
    compare_requested = Signal(str)  # take id to show as B ("" ends the comparison)
    rerun_requested = Signal(str, object)  # shot id, Take

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.compare_take = ""
        self.list = QListWidget(self)
        self.list.setAlternatingRowColors(True)
        self.list.itemDoubleClicked.connect(lambda item: self.use_selected())
        self.list.currentItemChanged.connect(lambda *_: self._refresh_buttons())
        self.use_button = QPushButton("Use", self)
        self.use_button.setToolTip("Make the selected take the shot's active take (double-click)")
        self.use_button.clicked.connect(self.use_selected)
        self.compare_button = QPushButton("Compare", self)
        self.compare_button.setCheckable(True)
        self.compare_button.setToolTip(
            "Compare the selected take with the active one (A/B in the viewer)"
        )
        self.compare_button.clicked.connect(self._on_compare_clicked)
        self.rerun_button = QPushButton("Re-run", self)
        self.rerun_button.setToolTip("Generate again with exactly the request that made this take")
        self.rerun_button.clicked.connect(self._on_rerun_clicked)
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.setToolTip("Delete the selected take (undoable)")
        self.delete_button.clicked.connect(self.delete_selected)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(6, 6, 6, 0)
        for button in (self.use_button, self.compare_button, self.rerun_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(buttons)
        layout.addWidget(self.list, 1)
        document.project_replaced.connect(self.refresh)
        document.current_shot_changed.connect(lambda _id: self._on_shot_switched())
        document.takes_changed.connect(self._on_takes_changed)
        self.refresh()

    def selected_take(self) -> Take | None:
        item = self.list.currentItem()
        shot = self.document.current_shot
        if item is None or shot is None:
            return None
        return shot.take(item.data(Qt.ItemDataRole.UserRole))

    def select_take(self, take_id: str) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == take_id:
                self.list.setCurrentRow(row)

    def _on_shot_switched(self) -> None:
        self.set_compare("")
        self.refresh()

    def _on_takes_changed(self, shot_id: str) -> None:
        if shot_id == self.document.current_shot_id:
            shot = self.document.current_shot
            if self.compare_take and (shot is None or shot.take(self.compare_take) is None):
                self.set_compare("")
            self.refresh()

    def refresh(self) -> None:
        shot = self.document.current_shot
        selected = (
            self.list.currentItem().data(Qt.ItemDataRole.UserRole)
            if self.list.currentItem()
            else None
        )
        with QSignalBlocker(self.list):
            self.list.clear()
            for take in reversed(shot.takes if shot else []):
                active = take.id == shot.active_take
                when = _short_time(take.created)
                marks = ("●  " if active else "    ") + (take.label or take.id)
                if take.id == self.compare_take:
                    marks += "   [B]"
                item = QListWidgetItem(
                    f"{marks}\n      {take.backend} · seed {take.seed} · {take.width}×{take.height}"
                    f" · {take.frames} fr{' · ' + when if when else ''}"
                )
                item.setData(Qt.ItemDataRole.UserRole, take.id)
                if active:
                    font = QFont(item.font())
                    font.setBold(True)
                    item.setFont(font)
                if take.missing:
                    item.setForeground(QColor(theme.DIM_TEXT))
                    item.setToolTip("This take's files are missing from the project folder.")
                self.list.addItem(item)
            if selected:
                self.select_take(selected)
            elif self.list.count():
                self.list.setCurrentRow(0)
        self._refresh_buttons()

    def _refresh_buttons(self) -> None:
        take = self.selected_take()
        shot = self.document.current_shot
        is_active = take is not None and shot is not None and take.id == shot.active_take
        self.use_button.setEnabled(take is not None and not is_active and not take.missing)
        self.compare_button.setEnabled(
            (take is not None and not is_active and not take.missing) or bool(self.compare_take)
        )
        with QSignalBlocker(self.compare_button):
            self.compare_button.setChecked(bool(self.compare_take))
        self.rerun_button.setEnabled(take is not None and bool(take.request))
        self.delete_button.setEnabled(take is not None)

    def use_selected(self) -> None:
        take, shot = self.selected_take(), self.document.current_shot
        if (
            take is not None
            and shot is not None
            and take.id != shot.active_take
            and not take.missing
        ):
            if take.id == self.compare_take:
                self.set_compare("")
            self.document.push(SetActiveTake(self.document, shot.id, take.id))

    def delete_selected(self) -> None:
        take, shot = self.selected_take(), self.document.current_shot
        if take is not None and shot is not None:
            self.document.push(DeleteTake(self.document, shot.id, take.id))

    def set_compare(self, take_id: str) -> None:
        if take_id != self.compare_take:
            self.compare_take = take_id
            self.compare_requested.emit(take_id)
            self.refresh()

    def _on_compare_clicked(self) -> None:
        take = self.selected_take()
        if self.compare_take or take is None:
            self.set_compare("")
        else:
            self.set_compare(take.id)

    def _on_rerun_clicked(self) -> None:
        take, shot = self.selected_take(), self.document.current_shot
        if take is not None and shot is not None:
            self.rerun_requested.emit(shot.id, take)


def _short_time(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%H:%M")
    except ValueError:
        return ""
