"""Files into the document: a keyframe (File > Import, or a drop on the viewer), and the
shots a Kinema export carries (a drop on the timeline).

The file is checked and copied into the project's `media/` on a worker thread (a big
video must not freeze the window); a video contributes its first frame, saved as a PNG.
An image more than twice the project's size each way is scaled down to just cover the
project's frame (a 12000x8000 photo would otherwise be decoded again by every previs),
unless the user keeps originals (Preferences). A progress dialog with Cancel shows while it
works. Only when that worked does an undoable command point the shot at the new file; its
undo takes the copy out of `media/` again. A Kinema file's recipe (`engine.recipe`) is read
on a worker thread too; its shots are then added by one undoable command each, after the
selected shot.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from engine.errors import Cancelled, InvalidRequest, MediaError, ProjectError
from engine.media import (
    VIDEO_EXTS,
    cover_scale,
    image_file_size,
    read_keyframe,
    read_video,
    scale_to_cover,
    write_image,
)
from engine.project import Project

from .commands import AddShot, ImportKeyframe
from .document import Document
from .tasks import Task, TaskRunner

#: an image is scaled down on import when covering the project's frame takes less than this
HUGE_SCALE = 0.5
#: the progress dialog shows once an import has run this long (a small file never flashes it)
PROGRESS_DELAY_MS = 300


#: a file this large shows its progress at once, whatever its pixels
BIG_FILE_BYTES = 8 * 2**20


def _file_bytes(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _is_huge(size: tuple[int, int] | None, project: Project) -> bool:
    """An image (of header `size`) more than twice the project's frame each way."""
    return size is not None and cover_scale(size, project.width, project.height) < HUGE_SCALE


@dataclass(frozen=True)
class Imported:
    relative: str  # the file in media/
    note: str = ""  # what was done to it (scaled down), for the status bar


def import_keyframe_file(
    project: Project,
    source: Path,
    keep_original: bool = True,
    check: Callable[[], None] = lambda: None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> Imported:
    """Copy an image (or a video's first frame) into `media/`; a huge image is scaled down
    to cover the project's frame unless `keep_original`. `check` raises to cancel."""
    source = Path(source)
    progress(0, 3)
    if source.suffix.lower() in VIDEO_EXTS:
        frames, _fps = read_video(source, max_frames=1)
        check()
        progress(2, 3)
        with tempfile.TemporaryDirectory() as scratch:
            still = Path(scratch) / f"{source.stem}.png"
            write_image(still, frames[0])
            return Imported(project.import_media(still))
    frame = (project.width, project.height)
    size = image_file_size(source)
    if keep_original or not _is_huge(size, project):
        read_keyframe(source)  # refuse what cannot be read (or is no keyframe) before copying
        check()
        progress(2, 3)
        return Imported(project.import_media(source))
    image = read_keyframe(source, cover=frame)
    check()
    progress(1, 3)
    image = scale_to_cover(image, *frame)
    check()
    progress(2, 3)
    with tempfile.TemporaryDirectory() as scratch:
        still = Path(scratch) / f"{source.stem}.png"
        write_image(still, image)
        relative = project.import_media(still)
    height, width = image.shape[:2]
    note = (
        f"{source.name} ({size[0]}x{size[1]}) was scaled down to {width}x{height}, the "
        f"project's {frame[0]}x{frame[1]} frame; to import images whole, tick 'Keep "
        "originals of imported images' in Preferences."
    )
    return Imported(relative, note)


class KeyframeImporter(QObject):
    imported = Signal(str, str)  # shot id, relative path
    noted = Signal(str)  # what the import did to the file (scaled down), for the status bar
    failed = Signal(str)
    cancelled = Signal()

    def __init__(
        self,
        document: Document,
        tasks: TaskRunner,
        parent: QObject | None = None,
        write_refusal: Callable[[], str] = lambda: "",
        keep_originals: Callable[[], bool] = lambda: False,
    ):
        super().__init__(parent)
        self.document = document
        self._tasks = tasks
        self._write_refusal = write_refusal  # a read-only project's media must not change
        self._keep_originals = keep_originals
        self._task: Task | None = None
        self._cancelled = False
        self.progress_dialog: QProgressDialog | None = None
        self._show_timer = QTimer(self)
        self._show_timer.setSingleShot(True)
        self._show_timer.timeout.connect(self._show_progress)

    @property
    def busy(self) -> bool:
        return self._task is not None

    def import_file(self, path: Path | str, shot_id: str | None = None) -> bool:
        shot = self.document.shot(shot_id) if shot_id else self.document.current_shot
        if shot is None:
            self.failed.emit("Select a shot first: the keyframe belongs to a shot.")
            return False
        if refusal := self._write_refusal():
            self.failed.emit(refusal)
            return False
        if self._task is not None:
            self.failed.emit("An import is still running: wait for it or cancel it.")
            return False
        project = self.document.project
        source = Path(path)
        target_shot = shot.id
        keep = self._keep_originals()

        def done(result: Imported) -> None:
            self._end()
            if (
                self._cancelled  # Cancel was pressed after the copy was made
                or self.document.project is not project
                or self.document.shot(target_shot) is None
            ):
                project.discard_media(result.relative)  # what undone imports left stays
                if self._cancelled:
                    self.cancelled.emit()
                return
            self.document.push(
                ImportKeyframe(
                    self.document, target_shot, result.relative, f"Set keyframe to {source.name}"
                )
            )
            self.imported.emit(target_shot, result.relative)
            if result.note:
                self.noted.emit(result.note)

        def failed(error: BaseException) -> None:
            self._end()
            if isinstance(error, Cancelled):
                self.cancelled.emit()
            elif isinstance(error, (MediaError, ProjectError)):
                self.failed.emit(str(error))
            else:
                self.failed.emit(f"Could not import '{source.name}': {error}")

        self._cancelled = False
        self._task = self._tasks.submit(
            lambda ctx: import_keyframe_file(project, source, keep, ctx.check, ctx.progress),
            on_done=done,
            on_error=failed,
            on_progress=self._on_progress,
            name="import keyframe",
        )
        huge = _is_huge(image_file_size(source), project)
        self._make_progress(source.name, at_once=huge or _file_bytes(source) > BIG_FILE_BYTES)
        return True

    def cancel(self) -> None:
        if self._task is not None:
            self._cancelled = True
            self._task.cancel()

    def empty_trash(self) -> None:
        """What undone imports took out of `media/` goes for good (the window closes)."""
        if not self._write_refusal():
            self.document.project.empty_trash()

    # -- the progress dialog

    def _make_progress(self, name: str, at_once: bool) -> None:
        parent = self.parent() if isinstance(self.parent(), QWidget) else None
        dialog = QProgressDialog(f"Importing {name}…", "Cancel", 0, 3, parent)
        dialog.setWindowTitle("Import")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(self.cancel)
        dialog.hide()
        self.progress_dialog = dialog
        if at_once:  # a huge image: seconds of work, said at once
            dialog.show()
        else:
            self._show_timer.start(PROGRESS_DELAY_MS)

    def _show_progress(self) -> None:
        if self.progress_dialog is not None and self._task is not None:
            self.progress_dialog.show()

    def _on_progress(self, done: int, total: int) -> None:
        dialog = self.progress_dialog
        if dialog is not None:
            labels = {0: "Reading", 1: "Scaling down", 2: "Copying into the project"}
            name = dialog.labelText().split("\n")[0]
            dialog.setLabelText(f"{name}\n{labels.get(done, '')}")
            # last: a window-modal dialog's setValue runs the event loop, where the import
            # can finish and `_end` let go of the dialog
            dialog.setValue(done)

    def _end(self) -> None:
        self._task = None
        self._show_timer.stop()
        dialog, self.progress_dialog = self.progress_dialog, None
        if dialog is not None:
            dialog.canceled.disconnect(self.cancel)
            dialog.close()
            dialog.deleteLater()


class ShotImporter(QObject):
    """Recreates the shots of a Kinema file dropped on the timeline (undoable)."""

    imported = Signal(str)  # what was added, and the notes, for the status bar
    failed = Signal(str)

    def __init__(
        self,
        document: Document,
        tasks: TaskRunner,
        parent: QObject | None = None,
        write_refusal: Callable[[], str] = lambda: "",
    ):
        super().__init__(parent)
        self.document = document
        self._tasks = tasks
        self._write_refusal = write_refusal  # a read-only project's media must not change

    def import_file(self, path: Path | str) -> bool:
        from engine.recipe import shots_from_file

        if refusal := self._write_refusal():  # its keyframes would be copied into media/
            self.failed.emit(refusal)
            return False
        project = self.document.project
        source = Path(path)

        def done(result) -> None:
            shots, notes = result
            if self.document.project is not project:
                return
            current = self.document.current_shot
            index = project.shots.index(current) + 1 if current else len(project.shots)
            stack = self.document.undo_stack
            stack.beginMacro(f"Import shots from {source.name}")
            for offset, shot in enumerate(shots):
                self.document.push(AddShot(self.document, shot, index + offset))
            stack.endMacro()
            names = ", ".join(f"'{shot.name}'" for shot in shots)
            self.imported.emit(" ".join([f"Added {names} from {source.name}.", *notes]))

        def failed(error: BaseException) -> None:
            if isinstance(error, (InvalidRequest, MediaError, ProjectError)):
                self.failed.emit(str(error))
            else:
                self.failed.emit(f"Could not import shots from '{source.name}': {error}")

        self._tasks.submit(
            lambda ctx: shots_from_file(source, project),
            on_done=done,
            on_error=failed,
            name="import shots",
        )
        return True
