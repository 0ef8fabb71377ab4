"""Decoded takes kept in memory, loaded from disk in the background on first use.

A take on disk is a folder of PNGs; decoding a clip takes long enough to drop frames, so
`request` returns the frames at once when cached and otherwise starts a background load
and answers later through `loaded`. Least recently used clips go first once the cache
holds more than `max_bytes`.

It also keeps a small picture of each take for the takes panel (`thumbnail`): the take's
middle frame (its first is often the keyframe itself, the same in every take), cut from the
clip when it is in memory and otherwise read alone from its PNG on the task pool.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.project import Take
from engine.takes import load_take_frame, load_take_frames

from .tasks import TaskRunner

DEFAULT_MAX_BYTES = 2 * 1024**3
#: the box a take's thumbnail fits in, pixels (16:9 fills it)
THUMB_SIZE = (96, 54)


def thumbnail_of(frame: np.ndarray, box: tuple[int, int] = THUMB_SIZE) -> np.ndarray:
    """`frame` (H, W, 3) uint8 shrunk to fit `box` (width, height), aspect kept."""
    height, width = frame.shape[:2]
    scale = min(box[0] / width, box[1] / height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.ascontiguousarray(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))


class TakeCache(QObject):
    loaded = Signal(str, object)  # take id, frames
    failed = Signal(str, str)  # take id, message
    thumbnail_ready = Signal(str, object)  # take id, (h, w, 3) uint8 picture

    def __init__(self, tasks: TaskRunner, max_bytes: int = DEFAULT_MAX_BYTES, parent=None):
        super().__init__(parent)
        self._tasks = tasks
        self._max_bytes = max_bytes
        self._clips: OrderedDict[str, np.ndarray] = OrderedDict()
        self._loading: set[str] = set()
        self._thumbnails: dict[str, np.ndarray] = {}
        self._thumbnails_loading: set[str] = set()

    def get(self, take_id: str) -> np.ndarray | None:
        frames = self._clips.get(take_id)
        if frames is not None:
            self._clips.move_to_end(take_id)
        return frames

    def put(self, take_id: str, frames: np.ndarray) -> None:
        self._clips[take_id] = frames
        self._clips.move_to_end(take_id)
        while (
            len(self._clips) > 1 and sum(f.nbytes for f in self._clips.values()) > self._max_bytes
        ):
            self._clips.popitem(last=False)

    def request(self, project_folder: Path, take: Take) -> np.ndarray | None:
        """The frames now if cached; otherwise None and `loaded`/`failed` later."""
        frames = self.get(take.id)
        if frames is not None:
            return frames
        if take.id not in self._loading:
            self._loading.add(take.id)
            self._tasks.submit(
                lambda ctx: load_take_frames(project_folder, take),
                on_done=lambda result, take_id=take.id: self._on_loaded(take_id, result),
                on_error=lambda error, take_id=take.id: self._on_failed(take_id, error),
                name=f"load take {take.id}",
            )
        return None

    def thumbnail(self, project_folder: Path, take: Take) -> np.ndarray | None:
        """The take's small picture now if known; otherwise None and `thumbnail_ready` later
        (nothing when its frames cannot be read: the panel keeps its placeholder)."""
        picture = self._thumbnails.get(take.id)
        if picture is not None:
            return picture
        middle = take.frames // 2
        frames = self._clips.get(take.id)
        if frames is not None:
            picture = self._thumbnails[take.id] = thumbnail_of(frames[min(middle, len(frames) - 1)])
            return picture
        if take.id not in self._thumbnails_loading:
            self._thumbnails_loading.add(take.id)
            self._tasks.submit(
                lambda ctx: thumbnail_of(load_take_frame(project_folder, take, middle)),
                on_done=lambda picture, take_id=take.id: self._on_thumbnail(take_id, picture),
                on_error=lambda error, take_id=take.id: self._thumbnails_loading.discard(take_id),
                name=f"thumbnail {take.id}",
            )
        return None

    def clear(self) -> None:
        self._clips.clear()
        self._thumbnails.clear()

    def _on_thumbnail(self, take_id: str, picture: np.ndarray) -> None:
        self._thumbnails_loading.discard(take_id)
        self._thumbnails[take_id] = picture
        self.thumbnail_ready.emit(take_id, picture)

    def _on_loaded(self, take_id: str, frames: np.ndarray) -> None:
        self._loading.discard(take_id)
        self.put(take_id, frames)
        self.loaded.emit(take_id, frames)

    def _on_failed(self, take_id: str, error: BaseException) -> None:
        self._loading.discard(take_id)
        self.failed.emit(take_id, str(error))
