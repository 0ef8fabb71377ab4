"""Every edit of the document as a `QUndoCommand` with the name Edit > Undo shows.

Commands are the only code that writes to the `Project`. Each keeps what it needs to undo
itself, and tells the `Document` what changed so views refresh. Typing in a text field or
dragging a spin box makes one command per burst, not per keystroke: consecutive edits of
the same field merge while they come less than `MERGE_WINDOW_S` apart.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from PySide6.QtGui import QUndoCommand

from engine.camera import CameraPath
from engine.fields import clean_text, has_lone_surrogate
from engine.motion import MotionStroke
from engine.project import Project, Shot, Take, new_id
from engine.storyboard import ScenePlan

from .document import Document

#: edits of the same field closer together than this become one undo step
MERGE_WINDOW_S = 2.0

_SHOT_FIELD_NAMES = {
    "name": "Rename shot",
    "prompt": "Edit prompt",
    "negative_prompt": "Edit negative prompt",
    "seed": "Change seed",
    "duration": "Change duration",
    "keyframe": "Set keyframe",
    "last_keyframe": "Set last frame",
}
_SETTING_NAMES = {
    "backend": "Change backend",
    "steps": "Change steps",
    "guidance": "Change guidance",
    "guide_strength": "Change guide strength",
}
_PROJECT_FIELD_NAMES = {"fps": "Change frame rate", "width": "Change size", "height": "Change size"}

_MERGE_SHOT_FIELD, _MERGE_SETTING, _MERGE_PROJECT = 1001, 1002, 1003


class _FieldEdit(QUndoCommand):
    """Set one attribute of an object found through the document; merges bursts of edits."""

    merge_id = -1

    def __init__(self, document: Document, key: tuple, value: Any, text: str, merge: bool):
        super().__init__(text)
        self.document = document
        self.key = key
        if isinstance(value, str) and has_lone_surrogate(value):
            # pasted text can carry half a UTF-16 pair: no file can hold it, so it is
            # repaired here, at the door, rather than failing every save from now on
            value = clean_text(value)
            document.notice.emit(
                "The text held a character no file can store (half of a UTF-16 pair, from "
                "pasted text); it was replaced with \ufffd."
            )
        self.value = value
        self.old = copy.deepcopy(getattr(self._target(), key[-1]))
        self.merge = merge
        self.stamp = time.monotonic()

    # subclasses: where the attribute lives and whom to tell
    def _target(self) -> Any:
        raise NotImplementedError

    def _notify(self) -> None:
        raise NotImplementedError

    def _set(self, value: Any) -> None:
        setattr(self._target(), self.key[-1], copy.deepcopy(value))
        self._notify()

    def redo(self) -> None:
        self._set(self.value)

    def undo(self) -> None:
        self._set(self.old)

    def id(self) -> int:
        return self.merge_id if self.merge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if (
            not isinstance(other, type(self))
            or not other.merge
            or other.key != self.key
            or other.stamp - self.stamp > MERGE_WINDOW_S
        ):
            return False
        self.value = other.value
        self.stamp = other.stamp
        self.setObsolete(self.value == self.old)
        return True


class SetShotField(_FieldEdit):
    """A shot's own field: name, prompt, negative prompt, seed, duration, keyframe, last
    keyframe."""

    merge_id = _MERGE_SHOT_FIELD

    def __init__(
        self,
        document: Document,
        shot_id: str,
        field: str,
        value: Any,
        text: str | None = None,
        merge: bool = True,
    ):
        if field not in _SHOT_FIELD_NAMES:
            raise ValueError(f"not an editable shot field: {field}")
        self.shot_id = shot_id
        super().__init__(document, (shot_id, field), value, text or _SHOT_FIELD_NAMES[field], merge)

    def _target(self) -> Shot:
        shot = self.document.shot(self.shot_id)
        assert shot is not None, f"shot {self.shot_id} vanished under an undo command"
        return shot

    def _notify(self) -> None:
        if self.key[-1] == "keyframe":  # a relinked keyframe is no longer missing
            shot = self._target()
            path = self.document.project.keyframe_path(shot)
            shot.keyframe_missing = shot.keyframe is not None and (
                path is None or not path.is_file()
            )
        if self.key[-1] == "last_keyframe":
            shot = self._target()
            path = self.document.project.last_keyframe_path(shot)
            shot.last_keyframe_missing = shot.last_keyframe is not None and (
                path is None or not path.is_file()
            )
        self.document.shot_changed.emit(self.shot_id)


class ImportKeyframe(SetShotField):
    """A keyframe (or last keyframe, `field`) just copied into `media/`: undo takes the copy out of `media/` too (into
    the project's trash, emptied on close) unless another shot uses it; redo brings it back."""

    def __init__(
        self, document: Document, shot_id: str, relative: str, text: str, field: str = "keyframe"
    ):
        super().__init__(document, shot_id, field, relative, text, merge=False)
        self.project = document.project

    def redo(self) -> None:
        if self.document.project is self.project:
            self.project.restore_media(self.value)
        super().redo()

    def undo(self) -> None:
        super().undo()
        if self.document.project is self.project:
            self.project.trash_media(self.value)


class SetShotSetting(_FieldEdit):
    """One of a shot's generation settings: backend, steps, guidance, guide strength."""

    merge_id = _MERGE_SETTING

    def __init__(
        self,
        document: Document,
        shot_id: str,
        field: str,
        value: Any,
        text: str | None = None,
        merge: bool = True,
    ):
        if field not in _SETTING_NAMES:
            raise ValueError(f"not a shot setting: {field}")
        self.shot_id = shot_id
        super().__init__(document, (shot_id, field), value, text or _SETTING_NAMES[field], merge)

    def _target(self):
        shot = self.document.shot(self.shot_id)
        assert shot is not None, f"shot {self.shot_id} vanished under an undo command"
        return shot.settings

    def _notify(self) -> None:
        self.document.shot_changed.emit(self.shot_id)


class SetProjectField(_FieldEdit):
    """A project-wide field: frame rate, width or height."""

    merge_id = _MERGE_PROJECT

    def __init__(
        self,
        document: Document,
        field: str,
        value: Any,
        text: str | None = None,
        merge: bool = True,
    ):
        if field not in _PROJECT_FIELD_NAMES:
            raise ValueError(f"not an editable project field: {field}")
        super().__init__(
            document, ("project", field), value, text or _PROJECT_FIELD_NAMES[field], merge
        )

    def _target(self) -> Project:
        return self.document.project

    def _notify(self) -> None:
        self.document.project_changed.emit()


class SetResolution(QUndoCommand):
    """Width and height together, as one step (a preset picks both)."""

    def __init__(self, document: Document, width: int, height: int):
        super().__init__(f"Change size to {width}x{height}")
        self.document = document
        self.new = (width, height)
        project = document.project
        self.old = (project.width, project.height)

    def _set(self, size: tuple[int, int]) -> None:
        self.document.project.width, self.document.project.height = size
        self.document.project_changed.emit()

    def redo(self) -> None:
        self._set(self.new)

    def undo(self) -> None:
        self._set(self.old)


class AddTake(QUndoCommand):
    """A finished generation joins its shot and becomes the active take."""

    def __init__(self, document: Document, shot_id: str, take: Take, make_active: bool = True):
        shot = document.shot(shot_id)
        assert shot is not None
        super().__init__(f"Add {take.label or 'take'} to {shot.name}")
        self.document = document
        self.shot_id = shot_id
        self.take = take
        self.make_active = make_active
        self.previous_active = shot.active_take

    def redo(self) -> None:
        shot = self.document.shot(self.shot_id)
        shot.takes.append(self.take)
        if self.make_active:
            shot.active_take = self.take.id
        self.document.takes_changed.emit(self.shot_id)

    def undo(self) -> None:
        shot = self.document.shot(self.shot_id)
        shot.takes = [t for t in shot.takes if t.id != self.take.id]
        shot.active_take = self.previous_active
        self.document.takes_changed.emit(self.shot_id)


class UseNewTake(QUndoCommand):
    """A finished generation: its take joins the shot for good and becomes the active take.

    The take's files are on disk and the queue says it was made, so undo does not unmake
    it: undo gives the shot its previous active take back and the new take stays listed
    until the user deletes it (`DeleteTake`, undoable on its own).
    """

    def __init__(self, document: Document, shot_id: str, take: Take):
        shot = document.shot(shot_id)
        assert shot is not None
        super().__init__(f"Use {take.label or 'new take'} (generated) in {shot.name}")
        self.document = document
        self.shot_id = shot_id
        self.take = take
        self.previous_active = shot.active_take

    def redo(self) -> None:
        shot = self.document.shot(self.shot_id)
        if shot.take(self.take.id) is None:
            shot.takes.append(self.take)
        shot.active_take = self.take.id
        self.document.takes_changed.emit(self.shot_id)

    def undo(self) -> None:
        shot = self.document.shot(self.shot_id)
        previous = self.previous_active
        shot.active_take = previous if previous is None or shot.take(previous) else None
        self.document.takes_changed.emit(self.shot_id)


class UseTakeSeed(QUndoCommand):
    """The shot takes a take's seed and the seed is locked, so Generate makes that take's
    picture again with today's edits; one step, and undo gives back the seed and the lock."""

    def __init__(self, document: Document, shot_id: str, take: Take, locked, set_locked):
        shot = document.shot(shot_id)
        assert shot is not None
        super().__init__(f"Use the seed of {take.label or 'take'} ({take.seed})")
        self.document = document
        self.shot_id = shot_id
        self.seed = int(take.seed)
        self.old_seed = shot.seed
        self.was_locked = bool(locked)
        self.set_locked = set_locked

    def _set(self, seed: int, locked: bool) -> None:
        self.document.shot(self.shot_id).seed = seed
        self.set_locked(locked)
        self.document.shot_changed.emit(self.shot_id)

    def redo(self) -> None:
        self._set(self.seed, True)

    def undo(self) -> None:
        self._set(self.old_seed, self.was_locked)


class DeleteTake(QUndoCommand):
    """Drop a take from its shot; its files go at the next save (so undo can bring it back)."""

    def __init__(self, document: Document, shot_id: str, take_id: str):
        shot = document.shot(shot_id)
        assert shot is not None
        take = shot.take(take_id)
        assert take is not None
        super().__init__(f"Delete {take.label or 'take'}")
        self.document = document
        self.shot_id = shot_id
        self.take = take
        self.index = shot.takes.index(take)
        self.previous_active = shot.active_take

    def redo(self) -> None:
        shot = self.document.shot(self.shot_id)
        shot.takes = [t for t in shot.takes if t.id != self.take.id]
        if shot.active_take == self.take.id:
            shot.active_take = shot.takes[-1].id if shot.takes else None
        self.document.takes_changed.emit(self.shot_id)

    def undo(self) -> None:
        shot = self.document.shot(self.shot_id)
        shot.takes.insert(self.index, self.take)
        shot.active_take = self.previous_active
        self.document.takes_changed.emit(self.shot_id)


class SetActiveTake(QUndoCommand):
    def __init__(self, document: Document, shot_id: str, take_id: str | None):
        shot = document.shot(shot_id)
        assert shot is not None
        take = shot.take(take_id) if take_id else None
        super().__init__(f"Use {take.label or 'take'}" if take else "Clear active take")
        self.document = document
        self.shot_id = shot_id
        self.new = take_id
        self.old = shot.active_take

    def _set(self, take_id: str | None) -> None:
        self.document.shot(self.shot_id).active_take = take_id
        self.document.takes_changed.emit(self.shot_id)

    def redo(self) -> None:
        self._set(self.new)

    def undo(self) -> None:
        self._set(self.old)


class AddShot(QUndoCommand):
    def __init__(self, document: Document, shot: Shot, index: int | None = None):
        super().__init__(f"Add shot {shot.name}")
        self.document = document
        self.shot = shot
        self.index = len(document.project.shots) if index is None else index
        self.previous_current = document.current_shot_id

    def redo(self) -> None:
        self.document.project.shots.insert(self.index, self.shot)
        self.document.project_changed.emit()
        self.document.set_current_shot(self.shot.id)

    def undo(self) -> None:
        self.document.project.shots.remove(self.shot)
        self.document.project_changed.emit()
        self.document.set_current_shot(self.previous_current)
        self.document.ensure_current_shot()


class RemoveShot(QUndoCommand):
    def __init__(self, document: Document, shot_id: str):
        shot = document.shot(shot_id)
        assert shot is not None
        super().__init__(f"Remove shot {shot.name}")
        self.document = document
        self.shot = shot
        self.index = document.project.shots.index(shot)

    def redo(self) -> None:
        self.document.project.shots.remove(self.shot)
        self.document.project_changed.emit()
        self.document.ensure_current_shot()

    def undo(self) -> None:
        self.document.project.shots.insert(self.index, self.shot)
        self.document.project_changed.emit()
        self.document.set_current_shot(self.shot.id)


class ReplaceContent(QUndoCommand):
    """Swap the whole document for another version of it (recovering an autosave)."""

    _FIELDS = ("name", "fps", "width", "height", "shots")

    def __init__(self, document: Document, replacement: Project, text: str):
        super().__init__(text)
        self.document = document
        self.new = {f: getattr(replacement, f) for f in self._FIELDS}
        self.old = {f: getattr(document.project, f) for f in self._FIELDS}

    def _set(self, values: dict) -> None:
        for name, value in values.items():
            setattr(self.document.project, name, value)
        self.document.project_replaced.emit()
        self.document.ensure_current_shot()

    def redo(self) -> None:
        self._set(self.new)

    def undo(self) -> None:
        self._set(self.old)


# ----------------------------------------------------------------------------- sequence


class MoveShot(QUndoCommand):
    """Reorder: the shot moves to `index` in the sequence (the timeline's drag)."""

    def __init__(self, document: Document, shot_id: str, index: int):
        shot = document.shot(shot_id)
        assert shot is not None
        super().__init__(f"Move shot {shot.name}")
        self.document = document
        self.shot = shot
        self.old = document.project.shots.index(shot)
        self.new = min(max(int(index), 0), len(document.project.shots) - 1)

    def _move_to(self, index: int) -> None:
        shots = self.document.project.shots
        shots.remove(self.shot)
        shots.insert(index, self.shot)
        self.document.project_changed.emit()

    def redo(self) -> None:
        self._move_to(self.new)

    def undo(self) -> None:
        self._move_to(self.old)


class TrimShots(QUndoCommand):
    """One trim gesture: new (head, duration) for the shot it trimmed, or the two shots a
    rolled cut changes, as one undo step."""

    def __init__(self, document: Document, changes: dict, text: str = "Trim shot"):
        super().__init__(text)
        self.document = document
        self.new = {sid: (int(h), int(d)) for sid, (h, d) in changes.items()}
        self.old = {}
        for shot_id in self.new:
            shot = document.shot(shot_id)
            assert shot is not None
            self.old[shot_id] = (shot.head, shot.duration)

    def _set(self, values: dict) -> None:
        for shot_id, (head, duration) in values.items():
            shot = self.document.shot(shot_id)
            shot.head, shot.duration = head, duration
        for shot_id in values:
            self.document.shot_changed.emit(shot_id)

    def redo(self) -> None:
        self._set(self.new)

    def undo(self) -> None:
        self._set(self.old)


def duplicate_shot(shot: Shot, name: str | None = None) -> Shot:
    """A fresh shot with the same prompt, keyframe, camera path, strokes and settings.

    Takes stay with the shot that made them; the copy starts with none.
    """
    twin = copy.deepcopy(shot)
    twin.id = new_id()
    twin.name = name or f"{shot.name} copy"
    twin.takes, twin.active_take = [], None
    return twin


# ----------------------------------------------------------------------------- camera path


class SetCamera(QUndoCommand):
    """Replace a shot's camera path (a key moved, added, deleted, re-eased, or a preset)."""

    def __init__(
        self, document: Document, shot_id: str, camera: CameraPath, text: str = "Edit camera path"
    ):
        shot = document.shot(shot_id)
        assert shot is not None
        camera.validate()
        super().__init__(text)
        self.document = document
        self.shot_id = shot_id
        self.new = copy.deepcopy(camera.sorted())
        self.old = copy.deepcopy(shot.camera)

    def _set(self, camera: CameraPath) -> None:
        self.document.shot(self.shot_id).camera = copy.deepcopy(camera)
        self.document.shot_changed.emit(self.shot_id)

    def redo(self) -> None:
        self._set(self.new)

    def undo(self) -> None:
        self._set(self.old)


# ----------------------------------------------------------------------------- strokes
#
# Strokes are replaced, never changed in place: a stroke object and its mask, once in the
# document, stay as they are, so a previs running on another thread can read them safely
# and undo can hand back exactly the object it took away.


class AddStroke(QUndoCommand):
    def __init__(
        self,
        document: Document,
        shot_id: str,
        stroke: MotionStroke,
        index: int | None = None,
        text: str | None = None,
    ):
        shot = document.shot(shot_id)
        assert shot is not None
        stroke.validate()
        super().__init__(text or f"Add stroke {stroke.name}".rstrip())
        self.document = document
        self.shot_id = shot_id
        self.stroke = stroke
        self.index = len(shot.strokes) if index is None else index

    def redo(self) -> None:
        self.document.shot(self.shot_id).strokes.insert(self.index, self.stroke)
        self.document.shot_changed.emit(self.shot_id)

    def undo(self) -> None:
        shot = self.document.shot(self.shot_id)
        shot.strokes = [s for s in shot.strokes if s is not self.stroke]
        self.document.shot_changed.emit(self.shot_id)


class RemoveStroke(QUndoCommand):
    def __init__(self, document: Document, shot_id: str, stroke_id: str):
        shot = document.shot(shot_id)
        assert shot is not None
        # by id: strokes hold arrays, so comparing them (`list.index`) cannot answer
        self.index, stroke = next((i, s) for i, s in enumerate(shot.strokes) if s.id == stroke_id)
        super().__init__(f"Delete stroke {stroke.name}".rstrip())
        self.document = document
        self.shot_id = shot_id
        self.stroke = stroke

    def redo(self) -> None:
        shot = self.document.shot(self.shot_id)
        shot.strokes = [s for s in shot.strokes if s is not self.stroke]
        self.document.shot_changed.emit(self.shot_id)

    def undo(self) -> None:
        self.document.shot(self.shot_id).strokes.insert(self.index, self.stroke)
        self.document.shot_changed.emit(self.shot_id)


_MERGE_STROKE = 1004


class ReplaceStroke(QUndoCommand):
    """Swap a stroke for an edited copy with the same id (its region, path, strength, ...).

    With a `merge` key, a burst of edits of the same kind (dragging the strength slider)
    becomes one undo step, as typing does.
    """

    def __init__(
        self,
        document: Document,
        shot_id: str,
        stroke: MotionStroke,
        text: str = "Edit stroke",
        merge: str = "",
    ):
        shot = document.shot(shot_id)
        assert shot is not None
        old = next(s for s in shot.strokes if s.id == stroke.id)
        stroke.validate()
        super().__init__(text)
        self.document = document
        self.shot_id = shot_id
        self.old = old
        self.new = stroke
        self.merge = merge
        self.stamp = time.monotonic()

    def _set(self, stroke: MotionStroke) -> None:
        shot = self.document.shot(self.shot_id)
        shot.strokes = [stroke if s.id == stroke.id else s for s in shot.strokes]
        self.document.shot_changed.emit(self.shot_id)

    def redo(self) -> None:
        self._set(self.new)

    def undo(self) -> None:
        self._set(self.old)

    def id(self) -> int:
        return _MERGE_STROKE if self.merge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if (
            not isinstance(other, ReplaceStroke)
            or other.merge != self.merge
            or other.shot_id != self.shot_id
            or other.new.id != self.new.id
            or other.stamp - self.stamp > MERGE_WINDOW_S
        ):
            return False
        self.new = other.new
        self.stamp = other.stamp
        return True


# ----------------------------------------------------------------------------- storyboard


class PlanShot(QUndoCommand):
    """A storyboard plan and the strokes and camera path it fills in, as one undo step."""

    def __init__(
        self,
        document: Document,
        shot_id: str,
        plan: ScenePlan | None,
        strokes: list[MotionStroke],
        camera: CameraPath,
        text: str = "Plan from prompt",
    ):
        shot = document.shot(shot_id)
        assert shot is not None
        for stroke in strokes:
            stroke.validate()
        camera.validate()
        super().__init__(text)
        self.document = document
        self.shot_id = shot_id
        self.new = (plan, list(strokes), copy.deepcopy(camera.sorted()))
        self.old = (shot.plan, list(shot.strokes), copy.deepcopy(shot.camera))

    def _set(self, state: tuple) -> None:
        plan, strokes, camera = state
        shot = self.document.shot(self.shot_id)
        shot.plan, shot.strokes, shot.camera = plan, list(strokes), copy.deepcopy(camera)
        self.document.shot_changed.emit(self.shot_id)

    def redo(self) -> None:
        self._set(self.new)

    def undo(self) -> None:
        self._set(self.old)
