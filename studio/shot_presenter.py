"""Decides what the viewer shows for the selected shot, and keeps its overlays current.

In order of precedence: a job of this shot that is generating (its latest preview), the
previs when previs mode is on (the tools turn it on as soon as they edit; the viewer's
Previs button toggles it), the shot's active take (from the take cache, loaded in the
background if needed), and its keyframe. It also feeds the B side of an A/B comparison.
Views stay dumb; this is the one place that knows which source wins.

While a tool drags, `preview_edit` shows the edit before it is in the document: the frame
under the playhead comes from `LivePrevis` off the GUI thread, and the overlays follow.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.media import read_keyframe

from .document import Document
from .generation import GenerationController
from .live_previs import LivePrevis, PrevisClip, PrevisFrame
from .overlays import camera_overlay, since_take_note, stroke_overlays, take_shot
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
        live: LivePrevis | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.viewer = viewer
        self.live = live
        self.take_cache = take_cache
        self._tasks = tasks
        self._live_job = ""  # job whose previews are on screen
        self._shown_take = ""  # take id on screen as A
        self._compare_take = ""
        self._keyframes: dict[tuple[str, float], np.ndarray] = {}
        self._shown_keyframe: tuple[str, float] | None = None
        self.play_when_finished = True
        self._overlay_key: tuple | None = None
        self._camera_overlay: tuple | None = None  # (key, CameraOverlay)
        self._stroke_overlays: tuple | None = None  # (key, [StrokeOverlay])
        self._take_shots: dict[str, object] = {}  # take id -> the Shot its request recorded
        self.previs_mode = False
        self._editing = False  # a tool is mid-gesture: its live frames win over any clip
        self._edit: tuple = (None, None)  # the gesture's (camera, strokes) not yet in the document
        self._previs_shown: tuple | None = None  # (key, whole clip?) of the previs on screen
        self.previs_latencies: list[float] = []  # edit -> frame on screen, seconds (benchmark)
        self.previs_breakdown: list[tuple[float, float, float]] = []  # waiting, making, handing

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
        viewer.previs_toggled.connect(self.set_previs_mode)
        viewer.frame_changed.connect(self._on_viewer_frame_changed)
        if live is not None:
            live.frame_ready.connect(self._on_previs_frame)
            live.clip_ready.connect(self._on_previs_clip)
            live.base_ready.connect(self._on_previs_base_ready)
            live.failed.connect(self.message)

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
        self._update_take_overlays(shot)
        if self._live_job:
            return  # previews keep coming; the take replaces them when it is saved
        if self.previs_mode and self.live is not None:
            self._show_previs(shot)
            return
        self._previs_shown = None
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

    def _update_take_overlays(self, shot) -> None:
        """Over a take, the overlays are what the take was made with (its request's shot),
        and a quiet note says what the shot changed since; otherwise they are the shot's."""
        take = shot.active()
        shows_take = (
            take is not None
            and not take.missing
            and not self._live_job
            and not (self.previs_mode and self.live is not None)
        )
        made_with = None
        if shows_take:
            if take.id not in self._take_shots:
                self._take_shots[take.id] = take_shot(take)
            made_with = self._take_shots[take.id]
        if made_with is None:
            self.viewer.set_note("")
            self._update_overlays(shot)
            return
        self.viewer.set_note(since_take_note(shot, take))
        self._update_overlays(made_with, take.width, take.height)

    def reshow(self) -> None:
        """Show the selected shot afresh, after something else held the viewer (sequence
        playback): its overlays and clip come back, keeping the viewer's frame."""
        self._overlay_key = None
        self._shown_take = ""
        self._previs_shown = None
        self.refresh()

    def _update_overlays(self, shot, width: int | None = None, height: int | None = None) -> None:
        """Recompute what changed only: a camera drag keeps the strokes' outlines, and back."""
        project = self.document.project
        width = project.width if width is None else width
        height = project.height if height is None else height
        key = _overlay_key(shot, width, height)
        if key == self._overlay_key:
            return
        shot_id, width, height, duration, camera, strokes = key
        camera_key, strokes_key = (
            (shot_id, width, height, duration, camera),
            (shot_id, duration, strokes),
        )
        if self._camera_overlay is None or self._camera_overlay[0] != camera_key:
            self._camera_overlay = (camera_key, camera_overlay(shot, width, height))
        if self._stroke_overlays is None or self._stroke_overlays[0] != strokes_key:
            self._stroke_overlays = (strokes_key, stroke_overlays(shot))
        self._overlay_key = key
        self.viewer.set_overlays(self._camera_overlay[1], self._stroke_overlays[1])

    def _show_take(self, take_id: str, frames: np.ndarray) -> None:
        shot = self.document.current_shot
        take = shot.take(take_id) if shot else None
        if take is None:
            return
        keep = self._shown_take in ("", take_id)
        self._shown_take = take_id
        self.viewer.show_clip(
            frames[min(shot.head, len(frames) - 1) :],  # from the in-point a head trim set
            take.fps,
            take.label or "Take",
            kind="take",
            keep_position=keep,
            length=shot.duration,  # a trimmed shot plays (and exports) its first frames
            source=take_id,
        )

    # ------------------------------------------------------------------ previs

    def set_previs_mode(self, on: bool) -> None:
        """Show the previs instead of the take or keyframe (a view choice, not an edit)."""
        on = bool(on) and self.live is not None
        self.viewer.set_previs_checked(on)
        if on == self.previs_mode:
            return
        self.previs_mode = on
        self._previs_shown = None
        self._shown_take = ""
        self.refresh()

    def preview_edit(self, shot_id: str, camera=None, strokes=None) -> None:
        """Show an edit that is not in the document yet (a tool mid-drag): previs and overlays."""
        shot = self.document.current_shot
        if shot is None or shot.id != shot_id or self.live is None:
            return
        self._editing = True
        self._edit = (camera, strokes)
        if not self.previs_mode:  # no clip of the state before the edit: the edit comes first
            self.previs_mode = True
            self._shown_take = ""
            self.viewer.set_previs_checked(True)
        self.viewer.pause()
        edited = dataclasses.replace(
            shot,
            camera=camera if camera is not None else shot.camera,
            strokes=list(strokes) if strokes is not None else shot.strokes,
        )
        self.viewer.set_note("")
        self._update_overlays(edited)
        if not self._live_job:
            self.live.request_frame(shot, self.viewer.current_frame, camera, strokes)

    def end_edit(self, shot_id: str) -> None:
        """A tool made an edit (or ended a gesture): show the shot's previs with it."""
        if shot_id != self.document.current_shot_id or self.live is None:
            return
        self._editing = False
        self._edit = (None, None)
        if self.previs_mode:
            self.refresh()
        else:
            self.set_previs_mode(True)

    def _show_previs(self, shot) -> None:
        frames = self.live.clip(shot)
        inputs = self.live.inputs(shot)
        if frames is not None and inputs is not None:
            self._show_previs_clip(shot, frames, inputs.key)
            return
        if self._editing or (
            self._previs_shown is not None
            and self._previs_shown[0][0] == shot.id
            and self.viewer.kind == "previs"
        ):
            return  # keep the previs on screen until the new clip is made
        if inputs is not None:  # the frame under the playhead first: it comes much sooner
            self.live.request_frame(shot, self.viewer.current_frame)
        elif self.viewer.kind != "keyframe":
            self._show_keyframe()

    def _show_previs_clip(self, shot, frames: np.ndarray, key: tuple) -> None:
        if self._previs_shown == (key, True) and self.viewer.kind == "previs":
            return
        self._previs_shown = (key, True)
        self.viewer.show_clip(
            frames, self.document.project.fps, "Previs", kind="previs", length=shot.duration
        )

    def _on_previs_frame(self, result: PrevisFrame) -> None:
        shot = self.document.current_shot
        if shot is None or result.shot_id != shot.id or not self.previs_mode or self._live_job:
            return
        if self._previs_shown is not None and self._previs_shown[1]:
            if self._previs_shown[0] == result.key:
                return  # the whole clip of this very state is on screen already
        if result.index != self.viewer.current_frame:  # the playhead moved on meanwhile
            self._request_live_frame(shot)
            return
        self._previs_shown = (result.key, False)
        self.viewer.show_clip(
            result.frame[None],
            self.document.project.fps,
            "Previs · live",
            kind="previs",
            length=shot.duration,
        )
        now = time.perf_counter()
        self.previs_latencies.append(now - result.requested_at)
        self.previs_breakdown.append(
            (
                result.started_at - result.requested_at,
                result.finished_at - result.started_at,
                now - result.finished_at,
            )
        )

    def _request_live_frame(self, shot) -> None:
        camera, strokes = self._edit if self._editing else (None, None)
        self.live.request_frame(shot, self.viewer.current_frame, camera, strokes)

    def _on_viewer_frame_changed(self, _frame: int) -> None:
        """Scrubbing while only the live frame is on screen: make the frame under the playhead."""
        shot = self.document.current_shot
        shown = self._previs_shown
        if (
            shot is not None
            and self.previs_mode
            and self.viewer.kind == "previs"
            and shown is not None
            and not shown[1]
            and not self._live_job
        ):
            self._request_live_frame(shot)

    def _on_previs_clip(self, result: PrevisClip) -> None:
        shot = self.document.current_shot
        if shot is None or result.shot_id != shot.id or not self.previs_mode or self._live_job:
            return
        if self._editing:
            return  # a tool is dragging: its live frame is newer than any clip
        inputs = self.live.inputs(shot)
        if inputs is not None and inputs.key == result.key:
            self._show_previs_clip(shot, result.frames, result.key)

    def _on_previs_base_ready(self, shot_id: str) -> None:
        if shot_id != self.document.current_shot_id:
            return
        if self.previs_mode or (self.viewer.kind == "keyframe" and not self._shown_take):
            self.refresh()  # the keyframe view shows a storyboard's picture too

    def _show_keyframe(self) -> None:
        shot = self.document.current_shot
        project = self.document.project
        path = project.keyframe_path(shot) if shot else None
        if shot is None:
            return
        if shot.keyframe is None and shot.plan is not None and self.live is not None:
            picture = self.live.base_image(shot)  # loads it if needed; base_ready follows
            self.viewer.show_keyframe(picture, shot.duration, project.fps, "Storyboard plan")
            return
        if path is None or not path.is_file():
            missing = ""
            if shot.keyframe:
                missing = (
                    f"Keyframe '{shot.keyframe}' is missing: drop an image here to relink it, "
                    "or choose Edit > Remove keyframe"
                )
            self.viewer.show_keyframe(None, shot.duration, project.fps, missing=missing)
            return
        key = (str(path), path.stat().st_mtime)
        image = self._keyframes.get(key)
        if image is not None:
            self._shown_keyframe = key
            self.viewer.show_keyframe(image, shot.duration, project.fps, f"Keyframe · {path.name}")
            return
        self._tasks.submit(
            lambda ctx: read_keyframe(path),
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
        self._take_shots.clear()
        self._keyframes.clear()
        self._shown_take = ""
        self.refresh(reset=True)

    def _on_shot_changed(self, shot_id: str) -> None:
        if shot_id == self.document.current_shot_id:
            self.refresh()

    def _on_takes_changed(self, shot_id: str) -> None:
        if shot_id == self.document.current_shot_id:
            if self.previs_mode:  # a take was made, picked or removed: show takes again
                self.set_previs_mode(False)
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
        self.set_previs_mode(False)
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
    planned = tuple(shot.plan.stroke_ids) if shot.plan is not None else ()
    return (shot.id, width, height, shot.duration, camera, (strokes, planned))
