"""Edit > Preferences: the folders that hold real models, the GPU memory mode, the
render farm that jobs run on, and how times read (timecode or frame numbers).

The dialog edits a `Preferences` value and nothing else: OK hands it back (the main window
stores and applies it), Cancel drops it. The list under the folders shows what discovery
finds in them right now, each model by the label the backend menu will show, or by the
sentence saying why it cannot run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.backends.diffusers.memory import MODES

from . import theme
from .preferences import FoundModel, Preferences, farm_problem, found_models, memory_label
from .timecode import STYLE_LABELS

FolderChooser = Callable[[Path | None], Path | None]

FARM_HINT = (
    "Leave empty to generate on this machine. To share the work across machines, start a "
    "Ray farm (see the README: ray start --head, then ray start --address on each GPU box and "
    "on this machine) and enter its head node as HOST:PORT, or 'auto' for the farm this "
    "machine joined. Every GPU becomes a render slot; the queue shows which node runs each "
    "job. A Ray farm runs any code a connected machine sends: keep it on a network you trust, "
    "with Ray's token authentication on."
)

_MODE_HINTS = {
    "auto": "Picks the fastest mode predicted to fit this GPU.",
    "gpu": "Every part of the model stays on the GPU: fastest, needs the most memory.",
    "model-offload": "One part of the model on the GPU at a time: a little slower, much "
    "leaner. Needs a GPU.",
    "group-offload": "The transformer streams its layers from main memory while it runs. "
    "Needs a GPU.",
    "sequential-offload": "Every layer moves to the GPU only while it runs: leanest, slowest. "
    "Needs a GPU.",
}


class PreferencesDialog(QDialog):
    def __init__(
        self,
        current: Preferences,
        parent: QWidget | None = None,
        choose_folder: FolderChooser | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setMinimumWidth(620)
        if choose_folder is None:
            from .dialogs import Dialogs

            choose_folder = Dialogs(self).model_folder_path
        self._choose_folder = choose_folder
        self._found: list[FoundModel] = []

        models = QGroupBox("Model folders", self)
        intro = QLabel(
            "Folders holding diffusers video models (Wan, LTX-Video, CogVideoX): a model's own "
            "folder, with its model_index.json, or a folder of them. Models already in the "
            "Hugging Face cache are found too. Nothing is downloaded.",
            models,
        )
        intro.setObjectName("dim")
        intro.setWordWrap(True)
        self.folder_list = QListWidget(models)
        self.folder_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.folder_list.setMaximumHeight(96)
        for folder in current.model_folders:
            self.folder_list.addItem(folder)
        self.folder_list.currentRowChanged.connect(self._update_buttons)
        self.add_button = QPushButton("Add…", models)
        self.add_button.clicked.connect(self._on_add_clicked)
        self.remove_button = QPushButton("Remove", models)
        self.remove_button.clicked.connect(self.remove_selected)
        buttons_column = QVBoxLayout()
        buttons_column.addWidget(self.add_button)
        buttons_column.addWidget(self.remove_button)
        buttons_column.addStretch(1)
        folders_row = QHBoxLayout()
        folders_row.addWidget(self.folder_list, 1)
        folders_row.addLayout(buttons_column)
        self.models_summary = QLabel(models)
        self.models_summary.setWordWrap(True)
        self.model_list = QListWidget(models)
        self.model_list.setWordWrap(True)
        self.model_list.setSpacing(3)
        self.model_list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.model_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.model_list.setMinimumHeight(120)
        models_layout = QVBoxLayout(models)
        models_layout.addWidget(intro)
        models_layout.addLayout(folders_row)
        models_layout.addWidget(self.models_summary)
        models_layout.addWidget(self.model_list, 1)

        memory = QGroupBox("GPU memory", self)
        self.memory_box = QComboBox(memory)
        for mode in MODES:
            self.memory_box.addItem(memory_label(mode), mode)
            self.memory_box.setItemData(
                self.memory_box.count() - 1, _MODE_HINTS.get(mode, ""), Qt.ItemDataRole.ToolTipRole
            )
        self.memory_box.setCurrentIndex(max(0, self.memory_box.findData(current.memory)))
        self.memory_box.currentIndexChanged.connect(self._show_memory_hint)
        self.memory_hint = QLabel(memory)
        self.memory_hint.setObjectName("dim")
        self.memory_hint.setWordWrap(True)
        memory_row = QHBoxLayout()
        memory_row.addWidget(QLabel("Memory mode", memory))
        memory_row.addWidget(self.memory_box, 1)
        memory_layout = QVBoxLayout(memory)
        memory_layout.addLayout(memory_row)
        memory_layout.addWidget(self.memory_hint)

        farm = QGroupBox("Render farm", self)
        self.farm_edit = QLineEdit(current.farm_address, farm)
        self.farm_edit.setPlaceholderText("this machine (no farm)")
        self.farm_edit.setToolTip("The Ray head node, HOST:PORT (6379 by default), or auto")
        self.farm_edit.textChanged.connect(self._check_farm)
        farm_hint = QLabel(FARM_HINT, farm)
        farm_hint.setObjectName("dim")
        farm_hint.setWordWrap(True)
        self.farm_problem = QLabel(farm)
        self.farm_problem.setWordWrap(True)
        self.farm_problem.setStyleSheet(f"color: {theme.DANGER}")
        farm_row = QHBoxLayout()
        farm_row.addWidget(QLabel("Address", farm))
        farm_row.addWidget(self.farm_edit, 1)
        farm_layout = QVBoxLayout(farm)
        farm_layout.addLayout(farm_row)
        farm_layout.addWidget(self.farm_problem)
        farm_layout.addWidget(farm_hint)

        imports = QGroupBox("Importing images", self)
        self.keep_originals_box = QCheckBox("Keep originals of imported images", imports)
        self.keep_originals_box.setChecked(current.keep_originals)
        self.keep_originals_box.setToolTip(
            "Off: an image more than twice the project's size is scaled down to it on import "
            "(a 12000x8000 photo becomes a few hundred kilobytes). On: it is copied whole."
        )
        imports_layout = QVBoxLayout(imports)
        imports_layout.addWidget(self.keep_originals_box)

        display = QGroupBox("Display", self)
        self.time_box = QComboBox(display)
        for style, label in STYLE_LABELS.items():
            self.time_box.addItem(label, style)
        self.time_box.setCurrentIndex(max(0, self.time_box.findData(current.time_display)))
        self.time_box.setToolTip(
            "How the timeline's ruler, the viewer and the camera editor write a time: "
            "00:00:01:00 is one second"
        )
        time_row = QHBoxLayout(display)
        time_row.addWidget(QLabel("Show times as", display))
        time_row.addWidget(self.time_box, 1)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(models, 1)
        layout.addWidget(memory)
        layout.addWidget(farm)
        layout.addWidget(imports)
        layout.addWidget(display)
        layout.addWidget(self.buttons)
        self._check_farm()
        self._show_memory_hint()
        self._update_buttons()
        self.refresh_models()
        self.resize(680, 680)

    # ------------------------------------------------------------------ folders

    @property
    def folders(self) -> list[str]:
        return [self.folder_list.item(i).text() for i in range(self.folder_list.count())]

    def _on_add_clicked(self) -> None:
        folders = self.folders
        folder = self._choose_folder(Path(folders[-1]) if folders else None)
        if folder is not None:
            self.add_folder(folder)

    def add_folder(self, folder: Path | str) -> None:
        text = str(Path(folder).expanduser())
        if text in self.folders:
            return
        self.folder_list.addItem(text)
        self.folder_list.setCurrentRow(self.folder_list.count() - 1)
        self.refresh_models()

    def remove_selected(self) -> None:
        row = self.folder_list.currentRow()
        if row < 0:
            return
        self.folder_list.takeItem(row)
        self.refresh_models()

    def _update_buttons(self, *args) -> None:
        self.remove_button.setEnabled(self.folder_list.currentRow() >= 0)

    # ------------------------------------------------------------------ what they hold

    @property
    def found(self) -> list[FoundModel]:
        return list(self._found)

    def refresh_models(self) -> None:
        """List what discovery finds in the folders as they stand in the dialog."""
        self._found = found_models(self.folders)
        ready = [m for m in self._found if not m.problem]
        self.model_list.clear()
        if not self._found:
            self.models_summary.setText(
                "No models found. Add a folder that holds one: a downloaded model folder "
                "has a model_index.json at its top."
            )
        else:
            broken = len(self._found) - len(ready)
            text = f"{len(self._found)} model{'s' if len(self._found) != 1 else ''} found"
            self.models_summary.setText(
                f"{text}: {len(ready)} ready, {broken} cannot run." if broken else f"{text}."
            )
        for model in self._found:
            if model.problem:
                item = QListWidgetItem(f"{model.label}: {model.problem}")
                item.setForeground(QColor(theme.DANGER))
            else:
                item = QListWidgetItem(f"{model.label}\n{model.path}")
            item.setToolTip(f"{model.backend}\n{model.path}")
            item.setData(Qt.ItemDataRole.UserRole, model.backend)
            self.model_list.addItem(item)
        self.model_list.setVisible(bool(self._found))

    def model_texts(self) -> list[str]:
        return [self.model_list.item(i).text() for i in range(self.model_list.count())]

    # ------------------------------------------------------------------ memory

    def _show_memory_hint(self, *args) -> None:
        self.memory_hint.setText(_MODE_HINTS.get(self.memory_box.currentData(), ""))

    # ------------------------------------------------------------------ farm

    def _check_farm(self, *args) -> None:
        problem = farm_problem(self.farm_edit.text())
        self.farm_problem.setText(problem)
        self.farm_problem.setVisible(bool(problem))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problem)

    # ------------------------------------------------------------------ result

    def preferences(self) -> Preferences:
        return Preferences(
            model_folders=tuple(self.folders),
            memory=self.memory_box.currentData(),
            farm_address=self.farm_edit.text().strip(),
            keep_originals=self.keep_originals_box.isChecked(),
            time_display=self.time_box.currentData(),
        )
