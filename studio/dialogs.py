"""Every question the studio asks the user, behind one object the tests can replace.

The window never calls `QFileDialog` or `QMessageBox` itself: it asks `Dialogs`. The real
one below shows modal dialogs; tests pass a scripted stand-in with the same methods, so
no modal `exec()` ever blocks an offscreen test.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from engine.media import IMAGE_EXTS, VIDEO_EXTS

from .export import ExportOptions
from .preferences import Preferences

PROJECT_FILTER = "Kinema projects (project.json *.kinema)"


class Dialogs:
    """Modal dialogs parented to the main window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.parent = parent

    # -------------------------------------------------------------- files

    def open_project_path(self, start: Path | None) -> Path | None:
        folder = QFileDialog.getExistingDirectory(
            self.parent, "Open a Kinema project (a .kinema folder)", str(start or Path.home())
        )
        return Path(folder) if folder else None

    def new_project_path(self, start: Path | None) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(
            self.parent, "New project", str((start or Path.home()) / "Untitled.kinema")
        )
        return Path(path) if path else None

    def save_project_path(self, start: Path | None) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(
            self.parent, "Save project as", str(start or Path.home())
        )
        return Path(path) if path else None

    def import_media_path(self, start: Path | None) -> Path | None:
        patterns = " ".join(f"*{ext}" for ext in (*IMAGE_EXTS, *VIDEO_EXTS))
        path, _ = QFileDialog.getOpenFileName(
            self.parent,
            "Import a keyframe image or video",
            str(start or Path.home()),
            f"Images and videos ({patterns})",
        )
        return Path(path) if path else None

    def export_options(self, defaults: ExportOptions, has_sequence: bool) -> ExportOptions | None:
        from .export_dialog import ExportDialog

        dialog = ExportDialog(defaults, has_sequence, self.parent)
        return dialog.options() if dialog.exec() else None

    def model_folder_path(self, start: Path | None) -> Path | None:
        folder = QFileDialog.getExistingDirectory(
            self.parent, "A folder that holds video models", str(start or Path.home())
        )
        return Path(folder) if folder else None

    def preferences(self, current: Preferences) -> Preferences | None:
        """Edit > Preferences; the edited preferences on OK, None on Cancel."""
        from .preferences_dialog import PreferencesDialog

        dialog = PreferencesDialog(current, self.parent, choose_folder=self.model_folder_path)
        try:
            return dialog.preferences() if dialog.exec() else None
        finally:
            dialog.deleteLater()

    # -------------------------------------------------------------- questions

    def unsaved_changes(self, project_name: str) -> str:
        """'save', 'discard' or 'cancel'."""
        box = QMessageBox(self.parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Unsaved changes")
        box.setText(f"Save the changes to '{project_name}' before closing it?")
        box.setInformativeText("Your changes are lost if you don't save them.")
        box.setStandardButtons(
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel
        )
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        return {
            QMessageBox.StandardButton.Save: "save",
            QMessageBox.StandardButton.Discard: "discard",
        }.get(QMessageBox.StandardButton(answer), "cancel")

    def offer_recovery(self, project_name: str, saved_at: datetime) -> bool:
        answer = QMessageBox.question(
            self.parent,
            "Recover unsaved work?",
            f"Kinema did not close normally last time. It kept the changes to '{project_name}' "
            f"from {saved_at:%d %b %Y, %H:%M}.\n\nRecover them? (You can undo the recovery.)",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes,
        )
        return answer == QMessageBox.StandardButton.Yes

    def confirm_quit_while_busy(self, jobs: int) -> bool:
        answer = QMessageBox.question(
            self.parent,
            "Jobs still running",
            f"{jobs} generation job(s) are still running or queued. Quit and cancel them?",
        )
        return answer == QMessageBox.StandardButton.Yes

    # -------------------------------------------------------------- messages

    def error(self, title: str, message: str) -> None:
        QMessageBox.warning(self.parent, title, message)

    def about(self, title: str, text: str) -> None:
        QMessageBox.about(self.parent, title, text)
