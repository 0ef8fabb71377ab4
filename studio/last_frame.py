"""The shot's last frame: the inspector's slot for it, and its import.

Where a model takes one (Wan FLF2V, Wan 2.2 I2V), the clip ends on the last keyframe as it
starts on the keyframe. The image comes in the keyframe's way (`import_keyframe_file`:
checked, a huge one scaled down, copied into `media/` on the task pool), and one undoable
command points the shot at it; Clear is one more. The slot says when the shot's backend
ignores a last frame, and which backends here take one: the engine's `Capabilities`
decide, as for every other control.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QImageReader, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from engine.backends import Capabilities
from engine.errors import Cancelled, MediaError, ProjectError
from engine.project import Shot

from .commands import ImportKeyframe, SetShotField
from .document import Document
from .labels import WrappedLabel
from .media_import import Imported, import_keyframe_file
from .tasks import TaskRunner

#: the slot's picture, at most this many pixels each way
THUMB = QSize(96, 54)


def last_frame_note(caps: Capabilities | None, capabilities: dict[str, Capabilities]) -> str:
    """What the slot says about the shot's backend: "" when it honours a last frame."""
    if caps is None or caps.last_frame:
        return ""
    takers = [c.label for c in capabilities.values() if c.last_frame and not c.unavailable]
    where = (
        f"Taken by {', '.join(takers)}."
        if takers
        else "No backend here takes one (Wan FLF2V and Wan 2.2 I2V do)."
    )
    return f"{caps.label} takes no last frame; it is ignored. {where}"


class LastFrameSlot(QWidget):
    """Picture, file name, Choose… and Clear for the shot's last keyframe, and the note."""

    choose_requested = Signal()

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._thumb_key: tuple | None = None
        self.picture = QLabel(self)
        self.picture.setFixedSize(THUMB)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setObjectName("dim")
        self.name_label = WrappedLabel(self)
        self.name_label.setObjectName("dim")
        self.choose_button = QPushButton("Choose…", self)
        self.choose_button.setToolTip("Choose the image the shot ends on")
        self.choose_button.clicked.connect(self.choose_requested)
        self.clear_button = QPushButton("Clear", self)
        self.clear_button.setToolTip("The shot ends wherever the model takes it")
        self.clear_button.clicked.connect(self.clear)
        self.note = WrappedLabel(self)
        self.note.setObjectName("dim")

        # picture and name above the buttons: the slot is no wider than the inspector's
        # narrowest field, so the dock never scrolls sideways
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.picture)
        top.addWidget(self.name_label, 1)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.choose_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(top)
        column.addLayout(buttons)
        column.addWidget(self.note)

    def show_shot(
        self, shot: Shot, caps: Capabilities | None, capabilities: dict[str, Capabilities]
    ) -> None:
        relative = shot.last_keyframe
        path = self.document.project.last_keyframe_path(shot) if relative else None
        if relative is None:
            self.name_label.setText("None: the model decides how the shot ends")
        elif shot.last_keyframe_missing or path is None or not path.is_file():
            self.name_label.setText(f"'{relative}' is missing: choose it again or clear it")
        else:
            self.name_label.setText(Path(relative).name)
        self.clear_button.setEnabled(relative is not None)
        self._show_picture(path)
        note = last_frame_note(caps, capabilities)
        self.note.setText(note)
        self.note.setVisible(bool(note))

    def _show_picture(self, path: Path | None) -> None:
        """A small picture, read at its small size (the inspector refreshes per keystroke,
        so it is read once per file and change)."""
        try:
            key = (str(path), path.stat().st_mtime_ns) if path is not None else None
        except OSError:
            key = None
        if key == self._thumb_key:
            return
        self._thumb_key = key
        self.picture.clear()
        self.picture.setText("—")
        if key is None:
            return
        reader = QImageReader(str(path))
        reader.setAutoTransform(True)
        size = reader.size()
        if size.isValid():
            reader.setScaledSize(size.scaled(THUMB, Qt.AspectRatioMode.KeepAspectRatio))
        image = reader.read()
        if not image.isNull():
            self.picture.setPixmap(QPixmap.fromImage(image))

    def clear(self) -> None:
        shot = self.document.current_shot
        if shot is None or shot.last_keyframe is None:
            return
        self.document.push(
            SetShotField(self.document, shot.id, "last_keyframe", None, "Clear last frame", False)
        )


class LastFrameImporter(QObject):
    """Asks for an image and makes it the current shot's last keyframe (one undo step)."""

    imported = Signal(str, str)  # shot id, relative path
    noted = Signal(str)  # what the import did to the file (scaled down)
    failed = Signal(str)

    def __init__(
        self,
        document: Document,
        tasks: TaskRunner,
        choose_path: Callable[[Path | None], Path | str | None],
        parent: QObject | None = None,
        write_refusal: Callable[[], str] = lambda: "",
        keep_originals: Callable[[], bool] = lambda: False,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self._tasks = tasks
        self._choose_path = choose_path
        self._write_refusal = write_refusal
        self._keep_originals = keep_originals
        self.busy = False

    def choose(self) -> None:
        shot = self.document.current_shot
        if shot is None:
            return
        folder = self.document.project.folder
        path = self._choose_path(folder.parent if folder else None)
        if path is not None:
            self.import_file(path, shot.id)

    def import_file(self, path: Path | str, shot_id: str) -> bool:
        if refusal := self._write_refusal():
            self.failed.emit(refusal)
            return False
        if self.busy:
            self.failed.emit("An import is still running: wait for it.")
            return False
        project = self.document.project
        source = Path(path)
        keep = self._keep_originals()

        def done(result: Imported) -> None:
            self.busy = False
            if self.document.project is not project or self.document.shot(shot_id) is None:
                project.discard_media(result.relative)  # the shot went while it was copied
                return
            text = f"Set last frame to {source.name}"
            self.document.push(
                ImportKeyframe(self.document, shot_id, result.relative, text, "last_keyframe")
            )
            self.imported.emit(shot_id, result.relative)
            if result.note:
                self.noted.emit(result.note)

        def failed(error: BaseException) -> None:
            self.busy = False
            if isinstance(error, Cancelled):
                return
            if isinstance(error, (MediaError, ProjectError)):
                self.failed.emit(str(error))
            else:
                self.failed.emit(f"Could not import '{source.name}': {error}")

        self.busy = True
        self._tasks.submit(
            lambda ctx: import_keyframe_file(project, source, keep, ctx.check, ctx.progress),
            on_done=done,
            on_error=failed,
            name="import last frame",
        )
        return True
