"""Decides what the viewer shows for the selected shot, and keeps its overlays current.

In order of precedence: a job of this shot that is generating (its latest preview), the
shot's active take (from the take cache, loaded in the background if needed), and its
keyframe. It also feeds the B side of an A/B comparison. Views stay dumb; this is the
one place that knows which source wins.
"""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.media import read_image

from .document import Document
from .generation import GenerationController
from .overlays import camera_overlay, stroke_overlays
from .take_cache import TakeCache
from .tasks import TaskRunner
from .viewer import ViewerWidget

log = logging.getLogger(__name__)


class ShotPresenter(QObject):
    message = Signal(str)

    def __init__(
        self,
        document: Document,
        viewer: ViewerWidget,
        generation: GenerationController,
        take_cache: TakeCache,
        tasks: TaskRunner,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.viewer = viewer
        self.take_cache = take_cache
        self._tasks = tasks
        self._live_job = ""  # job whose previews are on screen
        self._shown_take = ""  # take id on screen as A
        self._compare_take = ""
        self._keyframes: dict[tuple[str, float], np.ndarray] = {}
        self._shown_keyframe: tuple[str, float] | None = None
        self.play_when_finished = True
        self._overlay_key: tuple | None = None

        document.current_shot_changed.connect(lambda _id: self.refresh(reset=True))
        document.project_replaced.connect(self._on_project_replaced)
        document.project_changed.connect(lambda: self.refresh())
        document.shot_changed.connect(self._on_shot_changed)
        document.takes_changed.connect(self._on_takes_changed)
        generation.preview_ready.connect(self._on_preview_ready)
        generation.clip_finished.connect(self._on_clip_finished)
        generation.job_ended.connect(self._on_job_ended)
        take_cache.loaded.connect(self._on_take_loaded)
        take_cache.failed.connect(self._on_take_failed)

    # ------------------------------------------------------------------ what to show

    def refresh(self, reset: bool = False) -> None:
        shot = self.document.current_shot
        if reset:
            self._live_job = ""
            self._compare_take = ""
            self.viewer.set_compare(None)
        if shot is None:
            self.viewer.clear("No shot: add one in the shot list")
            self.viewer.set_overlays(None, [])
            self._overlay_key = None
            return
        project = self.document.project
        key = _overlay_key(shot, project.width, project.height)
        if key != self._overlay_key:  # recomputed only when the geometry changed
            self._overlay_key = key
            self.viewer.set_overlays(
                camera_overlay(shot, project.width, project.height), stroke_overlays(shot)
            )
        if self._live_job:
            return  # previews keep coming; the take replaces them when it is saved
        take = shot.active()
        if take is not None and not take.missing and project.folder is not None:
            frames = self.take_cache.request(project.folder, take)
            if frames is not None:
                self._show_take(take.id, frames)
                return
            if self._shown_take == take.id:
                return
        self._shown_take = ""
        self._show_keyframe()

    def _show_take(self, take_id: str, frames: np.ndarray) -> None:
        shot = self.document.current_shot
        take = shot.take(take_id) if shot else None
        if take is None:
            return
        keep = self.viewer.kind in ("take", "preview") and self._shown_take in ("", take_id)
        self._shown_take = take_id
        self.viewer.show_clip(
            frames, take.fps, take.label or "Take", kind="take", keep_position=keep
        )

    def _show_keyframe(self) -> None:
        shot = self.document.current_shot
        project = self.document.project
        path = project.keyframe_path(shot) if shot else None
        if shot is None:
            return
        if path is None or not path.is_file():
            self.viewer.show_keyframe(None, shot.duration, project.fps)
            return
        key = (str(path), path.stat().st_mtime)
        image = self._keyframes.get(key)
        if image is not None:
            self._shown_keyframe = key
            self.viewer.show_keyframe(image, shot.duration, project.fps, f"Keyframe · {path.name}")
            return
        self._tasks.submit(
            lambda ctx: read_image(path),
            on_done=lambda image: self._on_keyframe_loaded(key, image),
            on_error=lambda error: self.message.emit(str(error)),
            name="load keyframe",
        )

    def _on_keyframe_loaded(self, key: tuple[str, float], image: np.ndarray) -> None:
        image.flags.writeable = False
        self._keyframes = {key: image}  # one keyframe at a time is plenty
        shot = self.document.current_shot
        path = self.document.project.keyframe_path(shot) if shot else None
        if path is not None and str(path) == key[0] and not self._live_job and not self._shown_take:
            self.refresh()

    # ------------------------------------------------------------------ A/B

    def compare_with(self, take_id: str) -> None:
        """Show `take_id` as B against the active take ("" ends the comparison)."""
        self._compare_take = take_id
        shot = self.document.current_shot
        take = shot.take(take_id) if shot and take_id else None
        if take is None or self.document.project.folder is None:
            self.viewer.set_compare(None)
            return
        frames = self.take_cache.request(self.document.project.folder, take)
        if frames is not None:
            self.viewer.set_compare(frames, take.label or "Take")

    # ------------------------------------------------------------------ events

    def _on_project_replaced(self) -> None:
        self.take_cache.clear()
        self._keyframes.clear()
        self._shown_take = ""
        self.refresh(reset=True)

    def _on_shot_changed(self, shot_id: str) -> None:
        if shot_id == self.document.current_shot_id:
            self.refresh()

    def _on_takes_changed(self, shot_id: str) -> None:
        if shot_id == self.document.current_shot_id:
            self.refresh()

    def _on_preview_ready(self, shot_id: str, job_id: str, frames, step: int, total: int) -> None:
        if shot_id != self.document.current_shot_id:
            return
        shot = self.document.current_shot
        self._live_job = job_id
        self._shown_take = ""
        self.viewer.set_compare(None)
        self.viewer.show_preview(frames, step, total, shot.duration, self.document.project.fps)

    def _on_clip_finished(self, shot_id: str, job_id: str, frames, fps: float) -> None:
        if shot_id != self.document.current_shot_id or job_id != self._live_job:
            return
        self.viewer.show_clip(frames, fps, "New take (saving…)", kind="take", keep_position=False)
        if self.play_when_finished:
            self.viewer.play()

    def _on_job_ended(self, shot_id: str, job_id: str) -> None:
        if job_id == self._live_job:
            self._live_job = ""
            if shot_id == self.document.current_shot_id:
                self.refresh()

    def _on_take_loaded(self, take_id: str, frames) -> None:
        shot = self.document.current_shot
        if shot is None:
            return
        if take_id == shot.active_take and not self._live_job:
            self._show_take(take_id, frames)
        if take_id == self._compare_take:
            take = shot.take(take_id)
            self.viewer.set_compare(frames, take.label if take else "Take")

    def _on_take_failed(self, take_id: str, message: str) -> None:
        self.message.emit(message)
        shot = self.document.current_shot
        if shot is not None and take_id == shot.active_take:
            self._show_keyframe()


def _overlay_key(shot, width: int, height: int) -> tuple:
    """What the overlays depend on; equal keys mean the drawn overlays are still right."""
    strokes = tuple(
        (
            s.id,
            id(s.mask),
            s.kind,
            s.color,
            s.visible,
            s.strength,
            tuple((p.x, p.y, p.frame) for p in s.trajectory),
        )
        for s in shot.strokes
    )
    camera = repr(shot.camera.to_dict())
    return (shot.id, width, height, shot.duration, camera, strokes)
