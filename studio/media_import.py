"""Files into the document: a keyframe (File > Import, or a drop on the viewer), and the
shots a Kinema export carries (a drop on the timeline).

The file is checked and copied into the project's `media/` on a worker thread (a big
video must not freeze the window); a video contributes its first frame, saved as a PNG.
Only when that worked does an undoable command point the shot at the new file. A Kinema
file's recipe (`engine.recipe`) is read on a worker thread too; its shots are then added
by one undoable command each, after the selected shot.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from engine.errors import InvalidRequest, MediaError, ProjectError
from engine.media import VIDEO_EXTS, read_keyframe, read_video, write_image
from engine.project import Project

from .commands import AddShot, SetShotField
from .document import Document
from .tasks import TaskRunner


def import_keyframe_file(project: Project, source: Path) -> str:
    """Copy an image (or a video's first frame) into `media/`; returns its relative path."""
    source = Path(source)
    if source.suffix.lower() in VIDEO_EXTS:
        frames, _fps = read_video(source, max_frames=1)
        with tempfile.TemporaryDirectory() as scratch:
            still = Path(scratch) / f"{source.stem}.png"
            write_image(still, frames[0])
            return project.import_media(still)
    read_keyframe(source)  # refuse what cannot be read (or is no keyframe) before copying
    return project.import_media(source)


class KeyframeImporter(QObject):
    imported = Signal(str, str)  # shot id, relative path
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

    def import_file(self, path: Path | str, shot_id: str | None = None) -> bool:
        shot = self.document.shot(shot_id) if shot_id else self.document.current_shot
        if shot is None:
            self.failed.emit("Select a shot first: the keyframe belongs to a shot.")
            return False
        if refusal := self._write_refusal():
            self.failed.emit(refusal)
            return False
        project = self.document.project
        source = Path(path)
        target_shot = shot.id

        def done(relative: str) -> None:
            if self.document.project is not project or self.document.shot(target_shot) is None:
                return
            self.document.push(
                SetShotField(
                    self.document,
                    target_shot,
                    "keyframe",
                    relative,
                    f"Set keyframe to {source.name}",
                    merge=False,
                )
            )
            self.imported.emit(target_shot, relative)

        def failed(error: BaseException) -> None:
            if isinstance(error, (MediaError, ProjectError)):
                self.failed.emit(str(error))
            else:
                self.failed.emit(f"Could not import '{source.name}': {error}")

        self._tasks.submit(
            lambda ctx: import_keyframe_file(project, source),
            on_done=done,
            on_error=failed,
            name="import keyframe",
        )
        return True


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
