"""Live previs: the frame under the playhead while a tool drags, the whole clip once it stops.

The engine's previs (`engine.previs`) makes a whole clip: compiling a 48-frame shot at
512x512 and warping it takes about half a second, far too slow to follow a mouse. While a
tool drags, only the frame under the playhead is on screen, so only that frame is made:
the strokes are compiled for that one frame (`stroke_fields_at`) and the camera warp is
applied last, to a stroke-composited frame that stays cached while only the camera moves.
A drag of a camera key then costs one perspective warp. The frame is pixel-for-pixel the
one the whole clip would hold (the tests compare them), so what the user sees while
dragging is what Generate with the previs backend makes.

Work runs on this object's own two worker threads, never on the GUI thread, and the newest
edit wins: at most one frame is being made, a newer request waits in a one-place slot and
replaces any older one waiting there. Whole clips are debounced (a short grace period after
the last edit, with a cap on the wait) and a new clip request cancels a stale one between
frames.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from engine.camera import CameraPath, pose_to_homography
from engine.controls import compile_shot, fit_keyframe, reference_card
from engine.media import read_keyframe
from engine.motion import MotionStroke, StrokeFields, compile_strokes, trajectory_offsets
from engine.previs import render_previs
from engine.project import Shot
from engine.storyboard import plan_picture

from .document import Document
from .tasks import Task, TaskContext, TaskRunner

log = logging.getLogger(__name__)

#: grace period after the last edit before the whole clip is made...
CLIP_DEBOUNCE_MS = 60
#: ...but never wait longer than this while edits keep coming
CLIP_MAX_WAIT_S = 0.4
#: stroke-composited frames kept for camera-only edits
_PRE_CAMERA_CACHE = 8
#: clips kept (undo and redo flip between two versions of a shot)
_CLIP_CACHE = 4
#: keyframes kept fitted to the output size (one per shot the user goes back and forth between)
_BASES_KEPT = 4


# ----------------------------------------------------------------------------- pure functions


def strokes_key(strokes) -> tuple:
    """What the previs of `strokes` depends on; masks by identity (strokes are never edited in place)."""
    return tuple(
        (
            s.id,
            id(s.mask),
            s.kind,
            float(s.strength),
            tuple((p.x, p.y, p.frame) for p in s.trajectory),
        )
        for s in strokes
    )


def camera_key(camera: CameraPath) -> str:
    return repr(camera.to_dict())


@dataclass(frozen=True, eq=False)
class PrevisInputs:
    """A snapshot of everything the previs of one shot depends on (safe to read on any thread)."""

    shot_id: str
    width: int
    height: int
    frames: int
    fps: float
    base: np.ndarray  # (H, W, 3) uint8 read-only: the keyframe fitted to the output, the plan's
    #                   first frame (a storyboard without a keyframe), or a card
    base_key: tuple
    has_keyframe: bool
    camera: CameraPath
    strokes: tuple[MotionStroke, ...]

    @property
    def key(self) -> tuple:
        return (
            self.shot_id,
            self.width,
            self.height,
            self.frames,
            self.base_key,
            camera_key(self.camera),
            strokes_key(self.strokes),
        )


def stroke_regions(strokes, width: int, height: int) -> StrokeFields:
    """The strokes' regions at their keyframe place (one frame): what `stroke_fields_at`
    needs of the masks, worth keeping while only paths change."""
    return compile_strokes(list(strokes), width, height, 1)


def stroke_fields_at(
    strokes, width: int, height: int, frames: int, index: int, home: StrokeFields | None = None
) -> StrokeFields | None:
    """The strokes compiled for frame `index` of a `frames`-long shot, as a two-frame clip.

    Frame 0 of the result is frame `index` of `compile_strokes(strokes, width, height,
    frames)`; frame 1 holds each region at its farthest offset, so the previs plans the
    holes exactly as it does for the whole clip (a region that moves at some point of the
    shot opens its hole), while only one frame's arrays are built.
    """
    if not strokes:
        return None
    if home is None:
        home = stroke_regions(strokes, width, height)
    flows = np.zeros((2, height, width, 2), np.float32)
    to_pixels = np.array([width, height], np.float32)
    for i, stroke in enumerate(strokes):
        owned = home.region_ids == i
        if stroke.kind != "move" or not owned.any():
            continue
        offsets = trajectory_offsets(stroke, frames) * to_pixels  # (T, 2) pixels
        farthest = offsets[int(np.argmax(np.abs(offsets).max(axis=1)))]
        flows[0][owned] = offsets[index]
        flows[1][owned] = farthest
    move_masks = np.repeat(home.move_masks, 2, axis=0)
    return StrokeFields(flows, move_masks, home.static_mask, home.region_ids)


def regions_key(strokes) -> tuple:
    """What `stroke_regions` depends on (masks by identity, as in `strokes_key`)."""
    return tuple((id(s.mask), s.kind) for s in strokes)


def pre_camera_frame(
    inputs: PrevisInputs, index: int, home: StrokeFields | None = None
) -> np.ndarray:
    """Frame `index` of the previs before the camera moves: the strokes' regions moved."""
    fields = stroke_fields_at(
        inputs.strokes, inputs.width, inputs.height, inputs.frames, index, home
    )
    if fields is None:
        return inputs.base
    still = np.repeat(np.eye(3, dtype=np.float32)[None], 2, axis=0)
    return next(iter(render_previs(inputs.base, still, fields)))


def camera_frame(pre_camera: np.ndarray, camera: CameraPath, index: int) -> np.ndarray:
    """The camera's view of a stroke-composited frame, warped as the engine's previs warps it."""
    height, width = pre_camera.shape[:2]
    homography = pose_to_homography(camera.sample(index), width, height).astype(np.float32)
    return next(iter(render_previs(pre_camera, homography[None])))


def previs_frame(inputs: PrevisInputs, index: int) -> np.ndarray:
    """Frame `index` of the shot's previs, equal to `compile_shot(...).guide[index]`."""
    return camera_frame(pre_camera_frame(inputs, index), inputs.camera, index)


def previs_clip(inputs: PrevisInputs, check: Callable[[], None] | None = None) -> np.ndarray:
    """The whole previs clip (T, H, W, 3) uint8, exactly what the previs backend makes."""
    controls = compile_shot(
        inputs.camera,
        list(inputs.strokes),
        width=inputs.width,
        height=inputs.height,
        frames=inputs.frames,
        fps=inputs.fps,
        keyframe=inputs.base if inputs.has_keyframe else None,
        sketch=inputs.base if inputs.base_key[0] == "plan" else None,
    )
    video = np.empty((inputs.frames, inputs.height, inputs.width, 3), np.uint8)
    for t, frame in enumerate(controls.iter_guide()):
        if check is not None:
            check()
        video[t] = frame
    video.flags.writeable = False
    return video


def _warm_up() -> None:
    """A tiny previs frame with a moving stroke: every code path a drag takes, once."""
    from engine.motion import TrajectoryPoint

    mask = np.zeros((16, 16), np.float32)
    mask[4:9, 4:9] = 1.0
    stroke = MotionStroke(mask, trajectory=[TrajectoryPoint(0.4, 0.4), TrajectoryPoint(0.7, 0.5)])
    base = reference_card(32, 32)
    inputs = PrevisInputs(
        "", 32, 32, 4, 24.0, base, ("card", 32, 32), False, CameraPath(), (stroke,)
    )
    previs_frame(inputs, 2)


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class PrevisFrame:
    shot_id: str
    index: int
    frame: np.ndarray  # (H, W, 3) uint8
    key: tuple  # the inputs' key
    requested_at: float  # perf_counter when the edit asked for it
    started_at: float  # when a worker began making it
    finished_at: float  # when the worker was done (the GUI thread shows it after that)


@dataclass(frozen=True, eq=False)
class PrevisClip:
    shot_id: str
    frames: np.ndarray  # (T, H, W, 3) uint8, read-only
    key: tuple


# ----------------------------------------------------------------------------- the service


class LivePrevis(QObject):
    """Makes previs frames and clips off the GUI thread; the newest request always wins."""

    frame_ready = Signal(object)  # PrevisFrame
    clip_ready = Signal(object)  # PrevisClip
    base_ready = Signal(str)  # shot id whose output-size keyframe is now loaded
    failed = Signal(str)  # a sentence for the status bar

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._runner = TaskRunner(self, max_threads=2)
        self._bases: dict[tuple, np.ndarray] = {}
        self._loading: set[tuple] = set()
        self._pre_camera: OrderedDict[tuple, tuple[np.ndarray, tuple]] = OrderedDict()
        self._lock = threading.Lock()
        self._regions: tuple | None = None  # (key, compiled regions, strokes)
        self._frame_task: Task | None = None
        self._frame_pending: tuple[PrevisInputs, int, float] | None = None
        self._frame_waiting: tuple | None = None  # a request waiting for its keyframe to load
        self._clips: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._clip_task: Task | None = None
        self._clip_running_key: tuple | None = None
        self._clip_wanted: PrevisInputs | None = None
        self._clip_wanted_since = 0.0
        self._clip_timer = QTimer(self)
        self._clip_timer.setSingleShot(True)
        self._clip_timer.timeout.connect(self._start_clip)
        self._closed = False
        document.project_replaced.connect(self._on_project_replaced)
        # pay the one-time costs (lazy imports, OpenCV's first calls) now, not on the first drag
        self._runner.submit(lambda _ctx: _warm_up(), name="previs warm-up")

    # ------------------------------------------------------------------ inputs

    def base_key(self, shot: Shot) -> tuple:
        project = self.document.project
        path = project.keyframe_path(shot)
        size = (project.width, project.height)
        if shot.keyframe is None and shot.plan is not None:
            return ("plan", shot.plan.fingerprint(), *size)
        if path is None or not path.is_file():
            return ("card", *size)
        return (str(path), path.stat().st_mtime, *size)

    def base_image(self, shot: Shot) -> np.ndarray | None:
        """The picture strokes are painted on: the keyframe fitted to the output size.

        Without a keyframe, the storyboard plan's first frame (as the engine's previs uses
        it), or else a reference card; None while the picture loads (`base_ready` follows).
        """
        key = self.base_key(shot)
        image = self._bases.get(key)
        if image is not None:
            return image
        if key[0] == "card":
            image = reference_card(key[1], key[2])
            image.flags.writeable = False
            self._bases[key] = image
            return image
        if key not in self._loading and not self._closed:
            self._loading.add(key)
            width, height = key[2], key[3]
            if key[0] == "plan":
                plan = shot.plan

                def load(_ctx: TaskContext) -> np.ndarray:
                    return plan_picture(plan, width, height)
            else:
                path = Path(key[0])

                def load(_ctx: TaskContext) -> np.ndarray:
                    return fit_keyframe(read_keyframe(path), width, height)

            self._runner.submit(
                load,
                on_done=lambda image, k=key, s=shot.id: self._on_base_loaded(k, s, image),
                on_error=lambda error, k=key: self._on_base_failed(k, error),
                name="load previs keyframe",
            )
        return None

    def inputs(
        self,
        shot: Shot,
        camera: CameraPath | None = None,
        strokes: list[MotionStroke] | tuple[MotionStroke, ...] | None = None,
    ) -> PrevisInputs | None:
        """A snapshot of the shot (or of an edit of it not yet in the document)."""
        base = self.base_image(shot)
        if base is None:
            return None
        project = self.document.project
        key = self.base_key(shot)
        return PrevisInputs(
            shot_id=shot.id,
            width=project.width,
            height=project.height,
            frames=max(1, shot.duration),
            fps=project.fps,
            base=base,
            base_key=key,
            has_keyframe=key[0] not in ("card", "plan"),
            camera=copy.deepcopy(camera if camera is not None else shot.camera),
            strokes=tuple(strokes if strokes is not None else shot.strokes),
        )

    # ------------------------------------------------------------------ frames (while dragging)

    def request_frame(
        self,
        shot: Shot,
        index: int,
        camera: CameraPath | None = None,
        strokes: list[MotionStroke] | tuple[MotionStroke, ...] | None = None,
    ) -> None:
        """Make frame `index` of the shot as edited; `frame_ready` follows (newest wins)."""
        if self._closed:
            return
        requested_at = time.perf_counter()
        inputs = self.inputs(shot, camera, strokes)
        if inputs is None:  # the keyframe is loading; the request runs once it is here
            self._frame_waiting = (shot.id, index, camera, strokes)
            return
        self._frame_waiting = None
        index = min(max(int(index), 0), inputs.frames - 1)
        self._frame_pending = (inputs, index, requested_at)
        if self._frame_task is None:
            self._start_frame()

    @property
    def idle(self) -> bool:
        """Nothing being made and nothing waiting: what is on screen is the newest edit."""
        return (
            self._frame_task is None
            and self._frame_pending is None
            and self._frame_waiting is None
            and self._clip_task is None
            and self._clip_wanted is None
        )

    def _start_frame(self) -> None:
        pending, self._frame_pending = self._frame_pending, None
        if pending is None:
            return
        inputs, index, requested_at = pending

        def make(_ctx: TaskContext) -> PrevisFrame:
            started = time.perf_counter()
            frame = camera_frame(self._pre_camera_frame(inputs, index), inputs.camera, index)
            frame.flags.writeable = False
            return PrevisFrame(
                inputs.shot_id,
                index,
                frame,
                inputs.key,
                requested_at,
                started,
                time.perf_counter(),
            )

        self._frame_task = self._runner.submit(
            make, on_done=self._on_frame_done, on_error=self._on_frame_failed, name="previs frame"
        )

    def _pre_camera_frame(self, inputs: PrevisInputs, index: int) -> np.ndarray:
        """Cached by everything but the camera, so a camera drag only warps (worker thread)."""
        key = (inputs.base_key, inputs.width, inputs.height, inputs.frames, index)
        key += (strokes_key(inputs.strokes),)
        with self._lock:
            hit = self._pre_camera.get(key)
            if hit is not None:
                self._pre_camera.move_to_end(key)
                return hit[0]
        home = None
        if inputs.strokes:  # the regions stay while a path is dragged: compiled once
            regions = (regions_key(inputs.strokes), inputs.width, inputs.height)
            with self._lock:
                cached = self._regions
            if cached is not None and cached[0] == regions:
                home = cached[1]
            else:
                home = stroke_regions(inputs.strokes, inputs.width, inputs.height)
                with self._lock:  # the strokes ride along so the masks' ids stay theirs
                    self._regions = (regions, home, inputs.strokes)
        frame = pre_camera_frame(inputs, index, home)
        with self._lock:
            # the strokes ride along so the masks whose ids are in the key stay alive
            self._pre_camera[key] = (frame, inputs.strokes)
            while len(self._pre_camera) > _PRE_CAMERA_CACHE:
                self._pre_camera.popitem(last=False)
        return frame

    def _on_frame_done(self, result: PrevisFrame) -> None:
        self._frame_task = None
        if self._closed:
            return
        self.frame_ready.emit(result)
        if self._frame_pending is not None:
            self._start_frame()

    def _on_frame_failed(self, error: BaseException) -> None:
        self._frame_task = None
        log.warning("previs frame failed: %s", error)
        self.failed.emit(f"Previs: {error}")
        if self._frame_pending is not None and not self._closed:
            self._start_frame()

    # ------------------------------------------------------------------ clips (after an edit)

    def clip(self, shot: Shot) -> np.ndarray | None:
        """The shot's whole previs now if made already; otherwise None and `clip_ready` later."""
        inputs = self.inputs(shot)
        if inputs is None:
            return None
        key = inputs.key
        frames = self._clips.get(key)
        if frames is not None:
            self._clips.move_to_end(key)
            return frames
        if self._clip_running_key == key:
            self._clip_wanted = None  # the one being made is the newest again (an undo)
            return None
        if self._clip_wanted is None or self._clip_wanted.key != key:
            if self._clip_wanted is None:
                self._clip_wanted_since = time.monotonic()
            self._clip_wanted = inputs
        waited = time.monotonic() - self._clip_wanted_since
        self._clip_timer.start(0 if waited > CLIP_MAX_WAIT_S else CLIP_DEBOUNCE_MS)
        return None

    def _start_clip(self) -> None:
        if self._closed or self._clip_wanted is None:
            return
        if self._clip_task is not None:  # a stale clip is running: stop it between frames
            self._clip_task.cancel()
            return  # its end starts the wanted one
        inputs, self._clip_wanted = self._clip_wanted, None
        self._clip_running_key = inputs.key

        def make(ctx: TaskContext) -> PrevisClip:
            return PrevisClip(inputs.shot_id, previs_clip(inputs, ctx.check), inputs.key)

        self._clip_task = self._runner.submit(
            make, on_done=self._on_clip_done, on_error=self._on_clip_failed, name="previs clip"
        )

    def _on_clip_done(self, result: PrevisClip) -> None:
        self._clip_task, self._clip_running_key = None, None
        if self._closed:
            return
        self._clips[result.key] = result.frames
        while len(self._clips) > _CLIP_CACHE:
            self._clips.popitem(last=False)
        self.clip_ready.emit(result)
        if self._clip_wanted is not None:
            self._start_clip()

    def _on_clip_failed(self, error: BaseException) -> None:
        from engine.errors import Cancelled

        self._clip_task, self._clip_running_key = None, None
        if not isinstance(error, Cancelled):
            log.warning("previs clip failed: %s", error)
            self.failed.emit(f"Previs: {error}")
        if self._clip_wanted is not None and not self._closed:
            self._start_clip()

    # ------------------------------------------------------------------ keyframes and lifetime

    def _on_base_loaded(self, key: tuple, shot_id: str, image: np.ndarray) -> None:
        self._loading.discard(key)
        image.flags.writeable = False
        self._bases[key] = image
        pictures = [k for k in self._bases if k[0] != "card"]
        for stale in pictures[:-_BASES_KEPT]:  # oldest first: dicts keep insertion order
            del self._bases[stale]
        self.base_ready.emit(shot_id)
        waiting, self._frame_waiting = self._frame_waiting, None
        if waiting is not None:
            shot_id, index, camera, strokes = waiting
            shot = self.document.shot(shot_id)
            if shot is not None:
                self.request_frame(shot, index, camera, strokes)

    def _on_base_failed(self, key: tuple, error: BaseException) -> None:
        self._loading.discard(key)
        self.failed.emit(str(error))

    def _on_project_replaced(self) -> None:
        self._bases.clear()
        self._clips.clear()
        with self._lock:
            self._pre_camera.clear()
            self._regions = None
        self._clip_wanted = None
        self._frame_pending = None
        self._frame_waiting = None

    @property
    def active_threads(self) -> int:
        return self._runner.active_threads

    def shutdown(self) -> None:
        """Stop and wait for the workers; nothing is made after this."""
        self._closed = True
        self._clip_timer.stop()
        self._runner.cancel_all()
        self._runner.wait()
