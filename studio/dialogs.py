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

    def export_options(self, defaults: ExportOptions, has_sequence: bool, **kwargs):
        """The Export dialog: `ExportOptions`, `GenerateFirst` (shots to make first) or None.
        `review` and `check` (keyword) let it list missing takes and show refusals inline."""
        from .export_dialog import ExportDialog

        dialog = ExportDialog(defaults, has_sequence, self.parent, **kwargs)
        try:
            dialog.exec()
            return dialog.choice()
        finally:
            dialog.deleteLater()

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

    def project_locked(self, project_name: str, holder: str) -> str:
        """Another Kinema holds the project: 'read-only', 'take-over' or 'cancel'."""
        box = QMessageBox(self.parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Project open elsewhere")
        box.setText(f"'{project_name}' is open in another Kinema: {holder}.")
        box.setInformativeText(
            "Open it read-only to look without changing it, or take it over if that Kinema is "
            "no longer in use (it then stops saving into this project)."
        )
        read_only = box.addButton("Open read-only", QMessageBox.ButtonRole.AcceptRole)
        take_over = box.addButton("Take over", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(read_only)
        box.exec()
        clicked = box.clickedButton()
        return (
            "read-only"
            if clicked is read_only
            else "take-over"
            if clicked is take_over
            else "cancel"
        )

    def switch_while_busy(self, jobs: int, project_name: str) -> str:
        """Opening another project while jobs run: 'cancel', 'keep' or 'stay'."""
        box = QMessageBox(self.parent)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Jobs still running")
        box.setText(f"{jobs} generation job(s) for '{project_name}' are running or queued.")
        box.setInformativeText(
            "Keep them running and their takes are saved in that project and offered when "
            "you open it again; or cancel them."
        )
        keep = box.addButton("Keep running", QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton("Cancel jobs", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Stay here", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.exec()
        clicked = box.clickedButton()
        return "keep" if clicked is keep else "cancel" if clicked is cancel else "stay"

    def offer_orphans(self, project_name: str, count: int) -> str:
        """Takes on disk the project does not list: 'add', 'discard' or 'later'."""
        box = QMessageBox(self.parent)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Takes not in the project")
        box.setText(
            f"{count} take(s) of '{project_name}' finished after it was closed (or before "
            "Kinema stopped) and were never added to it."
        )
        box.setInformativeText("Add them to their shots? (You can undo this.)")
        add = box.addButton("Add them", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Delete them", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(add)
        box.exec()
        clicked = box.clickedButton()
        return "add" if clicked is add else "discard" if clicked is discard else "later"

    def missing_media(self, project_name: str, missing: list[str]) -> None:
        lines = "\n".join(f"• {line}" for line in missing[:12])
        more = f"\n… and {len(missing) - 12} more" if len(missing) > 12 else ""
        QMessageBox.warning(
            self.parent,
            "Files missing",
            f"Some files of '{project_name}' are missing from its folder:\n\n{lines}{more}\n\n"
            "Relink a keyframe by importing the image again (Edit > Relink keyframe), or "
            "remove it (Edit > Remove keyframe); delete a missing take in the Takes panel.",
        )

    # -------------------------------------------------------------- messages

    def error(self, title: str, message: str) -> None:
        QMessageBox.warning(self.parent, title, message)

    def about(self, title: str, text: str) -> None:
        QMessageBox.about(self.parent, title, text)
