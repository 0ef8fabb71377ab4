"""`ShotControls`: one shot's conditioning, compiled once, read by every backend.

A backend never looks at the document or the UI; it reads this. Everything here is
resolution-independent at the source (camera poses, normalised strokes) and read at the
size the backend asks for: full output size for previs, latent size for a model
(`resample`). The strokes are kept as regions and per-frame offsets, and a frame's dense
arrays are made when it is read, so a long shot at a large size costs no more to hold than
a short one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np

from .camera import CameraPath, Pose, homographies
from .errors import InvalidRequest, ProjectError
from .motion import Fields, MotionStroke, ResampledFields, compile_regions
from .previs import previs_video, render_previs


@dataclass(frozen=True, eq=False)
class ShotControls:
    """What a backend conditions on, at (`width`, `height`) and `frames`.

    homographies: (T, 3, 3) float32, keyframe pixels -> frame t pixels (camera only)
    motion:       the strokes' fields, a frame made on demand (`engine.motion.Fields`):
                  `flow(t)` (H, W, 2) float32 pixel displacement of each keyframe pixel at
                  frame t, `move_mask(t)` (H, W) float32 where moving regions are at frame t
    keyframe:     (H, W, 3) uint8, the shot's keyframe resized to the output, or None
    sketch:       (H, W, 3) uint8 standing in for a missing keyframe in the previs only: a
                  storyboard plan's first frame (`engine.storyboard.plan_picture`), or None
    last_keyframe: (H, W, 3) uint8, the frame the shot should end on, fitted like the
                  keyframe, or None; only a backend whose `Capabilities.last_frame` says so
                  reads it (the previs and the guide never do)

    Nothing here holds a per-frame array: a 121-frame 720p shot is a few megabytes, and
    `resample` (latent size, native scale) only records how frames are to be resized.
    `flows` and `move_masks` still give whole clips for code that wants them.
    """

    width: int
    height: int
    frames: int
    fps: float
    poses: tuple[Pose, ...]
    homographies: np.ndarray
    motion: Fields
    keyframe: np.ndarray | None
    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    strokes: tuple[MotionStroke, ...] = field(default=(), repr=False)
    sketch: np.ndarray | None = field(default=None, repr=False)
    last_keyframe: np.ndarray | None = field(default=None, repr=False)

    @property
    def has_camera_motion(self) -> bool:
        return not np.allclose(self.homographies, np.eye(3, dtype=np.float32)[None], atol=1e-6)

    @property
    def has_strokes(self) -> bool:
        return bool(self.strokes)

    def flow(self, t: int) -> np.ndarray:
        """(H, W, 2) float32: where each keyframe pixel's stroke has taken it at frame t."""
        return self.motion.flow(t)

    def move_mask(self, t: int) -> np.ndarray:
        """(H, W) float32: where the moving regions are at frame t (soft, 0..1)."""
        return self.motion.move_mask(t)

    @property
    def static_mask(self) -> np.ndarray:
        """(H, W) float32: the static strokes' regions in the keyframe."""
        return self.motion.static_mask

    def static_mask_at(self, t: int) -> np.ndarray:
        """(H, W) float32: the static regions in frame t, carried by the camera.

        Static means still in the scene: the keyframe's region goes where homography t
        takes it; with the camera at rest (identity) it is the keyframe's mask itself.
        """
        homography = self.homographies[t]
        if _is_identity(homography):
            return self.static_mask
        return cv2.warpPerspective(
            self.static_mask,
            homography.astype(np.float64),
            (self.width, self.height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )

    @property
    def region_ids(self) -> np.ndarray:
        """(H, W) int16: which stroke owns each keyframe pixel after paint order, -1 none."""
        return self.motion.region_ids

    @property
    def flows(self) -> np.ndarray:
        """(T, H, W, 2) float32, the whole clip's flows: hundreds of MB at 720p, prefer `flow(t)`."""
        return self.motion.flows

    @property
    def move_masks(self) -> np.ndarray:
        """(T, H, W) float32, the whole clip's move masks: prefer `move_mask(t)`."""
        return self.motion.move_masks

    def fields(self) -> Fields:
        return self.motion

    def base_image(self) -> np.ndarray:
        """The keyframe; else the plan's sketch; else a reference grid card that makes camera
        motion visible without either."""
        if self.keyframe is not None:
            return self.keyframe
        if self.sketch is not None:
            return self.sketch
        return reference_card(self.width, self.height)

    @cached_property
    def guide(self) -> np.ndarray:
        """The previs clip (T, H, W, 3) uint8: keyframe carried by the camera and the strokes."""
        return previs_video(self.base_image(), self.homographies, self.motion)

    def iter_guide(self):
        """The previs frame by frame, for backends that stream it."""
        return render_previs(self.base_image(), self.homographies, self.motion)

    def resample(self, width: int, height: int, frames: int | None = None) -> ShotControls:
        """The same controls at another size (e.g. latent resolution); displacements scale too.

        Cheap: the camera is rescaled and the strokes' frames are resized only when read.
        """
        frames = self.frames if frames is None else frames
        sx, sy = width / self.width, height / self.height
        # pixel centres map as x' = (x + 0.5) * s - 0.5, so a zoom's fixed point stays put
        scale = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
        homs = np.stack(
            [scale @ h.astype(np.float64) @ np.linalg.inv(scale) for h in self.homographies]
        )
        t_index = _time_index(self.frames, frames)
        area = _interpolation(sx, sy)
        keyframe = None
        if self.keyframe is not None:
            keyframe = cv2.resize(self.keyframe, (width, height), interpolation=area)
        sketch = None
        if self.sketch is not None:
            sketch = cv2.resize(self.sketch, (width, height), interpolation=area)
        last_keyframe = None
        if self.last_keyframe is not None:
            last_keyframe = cv2.resize(self.last_keyframe, (width, height), interpolation=area)
        return replace(
            self,
            width=width,
            height=height,
            frames=frames,
            poses=tuple(self.poses[t] for t in t_index),
            homographies=homs[t_index].astype(np.float32),
            motion=ResampledFields(self.motion, width, height, t_index, area),
            keyframe=keyframe,
            sketch=sketch,
            last_keyframe=last_keyframe,
        )


def _interpolation(sx: float, sy: float) -> int:
    """Area averaging to shrink, bilinear otherwise: how every plane of the controls is resized."""
    return cv2.INTER_AREA if sx < 1 and sy < 1 else cv2.INTER_LINEAR


def _is_identity(homography: np.ndarray) -> bool:
    return bool(np.allclose(homography, np.eye(3), rtol=0.0, atol=1e-6))


def _time_index(source_frames: int, target_frames: int) -> np.ndarray:
    if target_frames == source_frames:
        return np.arange(source_frames)
    return np.round(np.linspace(0, source_frames - 1, target_frames)).astype(int)


def compile_shot(
    camera: CameraPath,
    strokes: list[MotionStroke] | tuple[MotionStroke, ...],
    *,
    width: int,
    height: int,
    frames: int,
    fps: float,
    keyframe: np.ndarray | None = None,
    prompt: str = "",
    negative_prompt: str = "",
    seed: int = 0,
    sketch: np.ndarray | None = None,
    last_keyframe: np.ndarray | None = None,
) -> ShotControls:
    """Compile a shot's camera path and strokes for an output of `width` x `height` x `frames`."""
    if keyframe is not None:
        keyframe = fit_keyframe(keyframe, width, height)
    if last_keyframe is not None:
        last_keyframe = fit_keyframe(last_keyframe, width, height)
    if sketch is not None:
        sketch = fit_keyframe(sketch, width, height)
    poses = tuple(camera.sample_frames(frames))
    homs = homographies(camera, frames, width, height).astype(np.float32)
    return ShotControls(
        width=width,
        height=height,
        frames=frames,
        fps=float(fps),
        poses=poses,
        homographies=homs,
        motion=compile_regions(list(strokes), width, height, frames),
        keyframe=keyframe,
        prompt=prompt,
        negative_prompt=negative_prompt,
        seed=seed,
        strokes=tuple(strokes),
        sketch=sketch,
        last_keyframe=last_keyframe,
    )


def compile_request(
    request, keyframe: np.ndarray | None = None, last_keyframe: np.ndarray | None = None
) -> ShotControls:
    """Controls for a `GenerationRequest`: its shot snapshot, keyframes read from the project folder.

    `keyframe` and `last_keyframe` (H, W, 3 uint8) are the shot's images already decoded, for a
    request that carries their bytes instead of a folder to read (a farm node never sees the
    client's disk). The folder is read only inside: a path leading out of it is refused.
    """
    from .project import Shot

    try:
        shot = Shot.from_dict(request.shot, field="shot")
    except ProjectError as error:
        raise InvalidRequest(f"The shot in this request is not valid: {error}") from error
    if shot.keyframe and keyframe is None:
        keyframe = _read_from_project(request, shot.keyframe, "keyframe")
    if shot.last_keyframe and last_keyframe is None:
        last_keyframe = _read_from_project(request, shot.last_keyframe, "last keyframe")
    sketch = None
    if keyframe is None and shot.plan is not None:
        from .storyboard import plan_picture

        sketch = plan_picture(shot.plan, request.width, request.height)
    return compile_shot(
        shot.camera,
        shot.strokes,
        width=request.width,
        height=request.height,
        frames=request.frames,
        fps=request.fps,
        keyframe=keyframe,
        prompt=shot.prompt,
        negative_prompt=shot.negative_prompt,
        seed=request.seed,
        sketch=sketch,
        last_keyframe=last_keyframe,
    )


def _read_from_project(request, relative: str, what: str) -> np.ndarray:
    """An image the shot names, read from inside the request's project folder only."""
    from .media import read_keyframe
    from .paths import inside

    if request.project_dir is None:
        raise InvalidRequest(f"The shot has a {what} but the request names no project folder.")
    try:
        path = inside(Path(request.project_dir), relative, f"The {what}")
    except ProjectError as error:
        raise InvalidRequest(str(error)) from error
    return read_keyframe(path)


def fit_keyframe(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale and centre-crop an image to fill `width` x `height` (what a viewer calls 'fill').

    The crop comes first, in the source's pixels, so the resize never makes more than the
    output: scaling a 1x10000 strip up to fill 512 wide before cropping would take gigabytes.
    """
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return np.ascontiguousarray(image)
    scale = max(width / w, height / h)
    crop_w = min(w, max(1, round(width / scale)))
    crop_h = min(h, max(1, round(height / scale)))
    x0, y0 = (w - crop_w) // 2, (h - crop_h) // 2
    crop = image[y0 : y0 + crop_h, x0 : x0 + crop_w]
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return np.ascontiguousarray(cv2.resize(crop, (width, height), interpolation=interp))


def reference_card(width: int, height: int) -> np.ndarray:
    """A previs stand-in for a missing keyframe: a graded floor grid and a horizon, like a grey box."""
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    sky = (
        np.stack([0.42 + 0.2 * y, 0.5 + 0.2 * y, 0.62 + 0.15 * y], -1) * np.ones_like(x)[..., None]
    )
    img = (sky * 255).astype(np.uint8)
    step = max(8, min(width, height) // 12)
    img[::step, :] = (img[::step, :] * 0.55).astype(np.uint8)
    img[:, ::step] = (img[:, ::step] * 0.55).astype(np.uint8)
    cv2.circle(img, (width // 2, height // 2), max(4, min(width, height) // 10), (230, 120, 60), -1)
    cv2.line(
        img, (0, height // 2), (width - 1, height // 2), (250, 250, 250), max(1, height // 256)
    )
    return img
