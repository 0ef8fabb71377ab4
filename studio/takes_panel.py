"""The current shot's takes: which one is active, compare one against it, reuse its seed,
delete, re-run.

Takes of one shot look alike in a list, so each row carries what tells it apart: a small
picture of its middle frame (from the take cache, made off the GUI thread), its seed,
backend, steps and time, and what its request changed from the take before it (prompt,
strokes, camera, seed...), or that it is the same request made again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QSignalBlocker, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.export import take_fit
from engine.project import Take
from engine.takes import request_changes

from . import theme
from .commands import DeleteTake, SetActiveTake, UseTakeSeed
from .document import Document
from .take_cache import THUMB_SIZE, TakeCache

#: how each difference between two takes' requests reads in a row
_CHANGE_WORDS = {
    "prompt": "prompt changed",
    "keyframe": "keyframe changed",
    "strokes": "strokes changed",
    "camera": "camera changed",
    "length": "length changed",
    "seed": "new seed",
    "backend": "backend changed",
    "steps": "steps changed",
    "guidance": "guidance changed",
    "size": "size changed",
}


def describe_changes(take: Take, previous: Take | None) -> str:
    """The row's last line: what this take's request changed from the take made before it."""
    if previous is None:
        return "first take of this shot"
    name = previous.label or "the previous take"
    if not take.request or not previous.request:
        return f"vs {name}: request not recorded"
    words = request_changes(take.request, previous.request)
    if not words:
        return f"same request as {name}: the same frames"
    if words == ["seed"]:
        return f"vs {name}: new seed only"
    return f"vs {name}: " + ", ".join(_CHANGE_WORDS.get(w, f"{w} changed") for w in words)


def describe_take(take: Take) -> str:
    """The row's second line: how the take was made."""
    parts = [take.backend]
    steps = take.request.get("steps") if take.request else None
    if steps and take.backend != "previs":  # the previs warps the keyframe: no steps to count
        parts.append(f"{steps} steps")
    parts.append(f"{take.width}×{take.height} · {take.frames} fr")
    when = _short_time(take.created)
    if when:
        parts.append(when)
    return " · ".join(parts)


class TakesPanel(QWidget):
    compare_requested = Signal(str)  # take id to show as B ("" ends the comparison)
    rerun_requested = Signal(str, object)  # shot id, Take

    def __init__(
        self,
        document: Document,
        parent: QWidget | None = None,
        *,
        take_cache: TakeCache | None = None,
        seed_locked: Callable[[], bool] = lambda: False,
        set_seed_locked: Callable[[bool], None] = lambda locked: None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.take_cache = take_cache
        self._seed_locked = seed_locked
        self._set_seed_locked = set_seed_locked
        self.compare_take = ""
        self.list = QListWidget(self)
        self.list.setAlternatingRowColors(True)
        self.list.setIconSize(QSize(*THUMB_SIZE))
        self.list.setSpacing(1)
        self.list.setUniformItemSizes(True)
        self.list.itemDoubleClicked.connect(lambda item: self.use_selected())
        self.list.currentItemChanged.connect(lambda *_: self._refresh_buttons())
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._on_context_menu)
        self.use_button = QPushButton("Use", self)
        self.use_button.setToolTip("Make the selected take the shot's active take (double-click)")
        self.use_button.clicked.connect(self.use_selected)
        self.compare_button = QPushButton("Compare", self)
        self.compare_button.setCheckable(True)
        self.compare_button.setToolTip(
            "Compare the selected take with the active one: a split wipe in the viewer, "
            "active take left, this one right (drag the divider; \\ flips to this one)"
        )
        self.compare_button.clicked.connect(self._on_compare_clicked)
        self.seed_button = QPushButton("Use seed", self)
        self.seed_button.setToolTip(
            "Use this take's seed: it becomes the shot's seed and the seed is locked, so "
            "Generate makes this take's picture again with today's edits (undoable)"
        )
        self.seed_button.clicked.connect(self.use_selected_seed)
        self.rerun_button = QPushButton("Re-run", self)
        self.rerun_button.setToolTip("Generate again with exactly the request that made this take")
        self.rerun_button.clicked.connect(self._on_rerun_clicked)
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.setToolTip("Delete the selected take (undoable)")
        self.delete_button.clicked.connect(self.delete_selected)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(6, 6, 6, 0)
        for button in (
            self.use_button,
            self.compare_button,
            self.seed_button,
            self.rerun_button,
            self.delete_button,
        ):
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
        document.shot_changed.connect(self._on_shot_changed)
        if take_cache is not None:
            take_cache.thumbnail_ready.connect(self._on_thumbnail_ready)
        document.project_changed.connect(self.refresh)  # size and rate: takes may stop fitting
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

    def item_for(self, take_id: str) -> QListWidgetItem | None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == take_id:
                return item
        return None

    def _on_shot_switched(self) -> None:
        self.set_compare("")
        self.refresh()

    def _on_takes_changed(self, shot_id: str) -> None:
        if shot_id == self.document.current_shot_id:
            shot = self.document.current_shot
            if self.compare_take and (shot is None or shot.take(self.compare_take) is None):
                self.set_compare("")
            self.refresh()

    def _on_shot_changed(self, shot_id: str) -> None:
        if shot_id == self.document.current_shot_id:
            self._refresh_buttons()  # the seed button knows whether the seed is in use
            shot = self.document.current_shot
            if shot is not None and shot.duration != self._shown_duration:
                self.refresh()  # a take may now be longer or shorter than its shot

    def refresh(self) -> None:
        shot = self.document.current_shot
        selected = (
            self.list.currentItem().data(Qt.ItemDataRole.UserRole)
            if self.list.currentItem()
            else None
        )
        takes = shot.takes if shot else []
        self._shown_duration = shot.duration if shot else None
        with QSignalBlocker(self.list):
            self.list.clear()
            for index in reversed(range(len(takes))):
                take = takes[index]
                previous = takes[index - 1] if index else None
                active = take.id == shot.active_take
                title = ("●  " if active else "") + (take.label or take.id)
                title += f"  ·  seed {take.seed}"
                if take.id == self.compare_take:
                    title += "   [B]"
                item = QListWidgetItem(
                    f"{title}\n{describe_take(take)}\n{describe_changes(take, previous)}"
                )
                item.setData(Qt.ItemDataRole.UserRole, take.id)
                item.setIcon(self._icon(take))
                if active:
                    font = QFont(item.font())
                    font.setBold(True)
                    item.setFont(font)
                if take.missing:
                    item.setForeground(QColor(theme.DIM_TEXT))
                    item.setToolTip("This take's files are missing from the project folder.")
                else:
                    item.setToolTip(f"Made {take.created or 'at an unknown time'}")
                fit = take_fit(self.document.project, shot, take)
                if not fit.matches and not take.missing:  # never stretched silently: said here
                    item.setText(f"{item.text()}\n⚠ {fit.badge}")
                    item.setForeground(QColor(theme.WARNING))
                    item.setToolTip(
                        f"{item.toolTip()}. On export: {fit.export_note}. Generate the shot "
                        "again to match."
                    )
                self.list.addItem(item)
            if selected:
                self.select_take(selected)
            elif self.list.count():
                self.list.setCurrentRow(0)
        self._refresh_buttons()

    def _icon(self, take: Take) -> QIcon:
        folder = self.document.project.folder
        picture = None
        if self.take_cache is not None and folder is not None and not take.missing:
            picture = self.take_cache.thumbnail(Path(folder), take)
        return _placeholder() if picture is None else _picture_icon(picture)

    def _on_thumbnail_ready(self, take_id: str, picture: np.ndarray) -> None:
        item = self.item_for(take_id)
        if item is not None:
            item.setIcon(_picture_icon(picture))

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
        self.seed_button.setEnabled(take is not None and shot is not None)
        if take is not None and shot is not None and take.seed == shot.seed:
            self.seed_button.setToolTip(
                f"The shot's seed is already {take.seed}, this take's; pressing locks it."
            )
        else:
            self.seed_button.setToolTip(
                "Use this take's seed: it becomes the shot's seed and the seed is locked, so "
                "Generate makes this take's picture again with today's edits (undoable)"
            )
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

    def use_selected_seed(self) -> None:
        """The shot's seed becomes the selected take's, locked: one undo step."""
        take, shot = self.selected_take(), self.document.current_shot
        if take is not None and shot is not None:
            self.document.push(
                UseTakeSeed(
                    self.document, shot.id, take, self._seed_locked(), self._set_seed_locked
                )
            )

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

    def context_menu(self) -> QMenu:
        """What a right-click on a take offers: the buttons' actions, for the selected take."""
        menu = QMenu(self)
        for button, text in (
            (self.use_button, "Use this take"),
            (self.compare_button, "Compare with the active take"),
            (self.seed_button, "Use this take's seed"),
            (self.rerun_button, "Re-run this take's request"),
            (self.delete_button, "Delete this take"),
        ):
            action = menu.addAction(text)
            action.setEnabled(button.isEnabled())
            action.setToolTip(button.toolTip())
            action.triggered.connect(button.click)
        return menu

    def _on_context_menu(self, position: QPoint) -> None:
        item = self.list.itemAt(position)
        if item is None:
            return
        self.list.setCurrentItem(item)
        menu = self.context_menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.list.viewport().mapToGlobal(position))


def _picture_icon(picture: np.ndarray) -> QIcon:
    height, width = picture.shape[:2]
    image = QImage(picture.data, width, height, width * 3, QImage.Format.Format_RGB888)
    return QIcon(QPixmap.fromImage(image.copy()))  # the copy owns its pixels


def _placeholder() -> QIcon:
    pixmap = QPixmap(*THUMB_SIZE)
    pixmap.fill(QColor(theme.BORDER))
    return QIcon(pixmap)


def _short_time(iso: str) -> str:
    try:
        stamp = datetime.fromisoformat(iso).astimezone()
    except ValueError:
        return ""
    if stamp.date() == datetime.now().astimezone().date():
        return stamp.strftime("%H:%M")
    return stamp.strftime("%d %b %H:%M")
