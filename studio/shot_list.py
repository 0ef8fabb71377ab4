"""The shot list: the project's shots in order, the selected one, add and remove.

It stands in for the timeline until that arrives: selecting a row selects the shot
everywhere (inspector, viewer, takes).
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.project import Project, Shot

from .commands import AddShot, RemoveShot
from .document import Document


def new_shot_name(project: Project, index: int) -> str:
    """The name of a shot added at `index` (0-based): "Shot N" for its place in the
    sequence, or the next number no shot has if another shot is called that already, so
    "Shot 2" follows "Shot 1" and no two shots share a name."""
    taken = {shot.name for shot in project.shots}
    number = index + 1
    while f"Shot {number}" in taken:
        number += 1
    return f"Shot {number}"


class ShotListWidget(QWidget):
    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.list = QListWidget(self)
        self.list.setAlternatingRowColors(True)
        self.list.currentItemChanged.connect(self._on_current_item_changed)
        self.add_button = QPushButton("Add shot", self)
        self.add_button.clicked.connect(self.add_shot)
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.clicked.connect(self.remove_shot)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(6, 6, 6, 0)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(buttons)
        layout.addWidget(self.list, 1)
        document.project_replaced.connect(self.refresh)
        document.project_changed.connect(self.refresh)
        document.shot_changed.connect(lambda _id: self.refresh())
        document.takes_changed.connect(lambda _id: self.refresh())
        document.current_shot_changed.connect(lambda _id: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        project = self.document.project
        with QSignalBlocker(self.list):
            self.list.clear()
            for number, shot in enumerate(project.shots, 1):
                seconds = shot.duration / project.fps
                takes = len(shot.takes)
                item = QListWidgetItem(
                    f"{number:>2}   {shot.name}\n      {seconds:.2f} s · {shot.duration} frames · "
                    f"{takes} take{'s' if takes != 1 else ''}"
                )
                item.setData(Qt.ItemDataRole.UserRole, shot.id)
                item.setToolTip(shot.prompt or "(no prompt)")
                self.list.addItem(item)
                if shot.id == self.document.current_shot_id:
                    self.list.setCurrentItem(item)
        self.remove_button.setEnabled(len(project.shots) > 1)

    def _on_current_item_changed(self, current: QListWidgetItem | None, _previous) -> None:
        if current is not None:
            self.document.set_current_shot(current.data(Qt.ItemDataRole.UserRole))

    def add_shot(self) -> None:
        project = self.document.project
        current = self.document.current_shot
        shot = Shot(
            name=new_shot_name(project, len(project.shots)),
            duration=current.duration if current else 48,
        )
        if current is not None:
            shot.settings.backend = current.settings.backend
        self.document.push(AddShot(self.document, shot))

    def remove_shot(self) -> None:
        shot = self.document.current_shot
        if shot is not None and len(self.document.project.shots) > 1:
            self.document.push(RemoveShot(self.document, shot.id))
