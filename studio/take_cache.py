"""Decoded takes kept in memory, loaded from disk in the background on first use.

A take on disk is a folder of PNGs; decoding a clip takes long enough to drop frames, so
`request` returns the frames at once when cached and otherwise starts a background load
and answers later through `loaded`. Least recently used clips go first once the cache
holds more than `max_bytes`.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.project import Take
from engine.takes import load_take_frames

from .tasks import TaskRunner

DEFAULT_MAX_BYTES = 2 * 1024**3


class TakeCache(QObject):
    loaded = Signal(str, object)  # take id, frames
    failed = Signal(str, str)  # take id, message

    def __init__(self, tasks: TaskRunner, max_bytes: int = DEFAULT_MAX_BYTES, parent=None):
        super().__init__(parent)
        self._tasks = tasks
        self._max_bytes = max_bytes
        self._clips: OrderedDict[str, np.ndarray] = OrderedDict()
        self._loading: set[str] = set()

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

    def clear(self) -> None:
        self._clips.clear()

    def _on_loaded(self, take_id: str, frames: np.ndarray) -> None:
        self._loading.discard(take_id)
        self.put(take_id, frames)
        self.loaded.emit(take_id, frames)

    def _on_failed(self, take_id: str, error: BaseException) -> None:
        self._loading.discard(take_id)
        self.failed.emit(take_id, str(error))
