"""One clip of the world with every label the model trains on: `render_clip(seed) -> Clip`.

The seed decides the scene (unless a `SceneSpec` is given), the textures and the caption's
wording; the same seed, size, length and fps give identical frames and labels on any machine
(numpy's PCG64 streams and OpenCV's integer-exact drawing, single-threaded or not).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..camera import Pose
from .caption import describe
from .physics import simulate
from .render import render_frames
from .rig import FOV_DEG, build_view, camera_path
from .scene import VERBS, SceneSpec, sample_scene

#: the pose fields in the order `Clip.pose_array` stores them (as `engine.camera.POSE_FIELDS`)
POSE_FIELDS = ("pan", "tilt", "roll", "zoom", "dolly", "truck", "pedestal")


@dataclass(frozen=True)
class ObjectLabel:
    """What one object does in a clip, frame by frame."""

    kind: str  # "ball", "cube", "cone", "star" or "person"
    colour: str  # a name in COLOURS
    motion: str  # label verb: "bounces", "rolls", "slides", "falls", "rests", "walks", "spins"
    trajectory: np.ndarray  # (T, 2) float32 screen position of the object's centre, pixels
    masks: np.ndarray  # (T, H, W) bool visible pixels (after occlusion by nearer objects)
    depth: np.ndarray  # (T,) float32 camera-space depth of the centre, scene units
    positions: np.ndarray  # (T, 3) float32 world position of the centre (x right, y up, z fwd)

    @property
    def name(self) -> str:
        return f"{self.colour} {self.kind}"


@dataclass(frozen=True)
class Clip:
    """Frames and labels of one clip of the world."""

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    caption: str
    poses: list[Pose]  # camera per frame, relative to the reference view (frame 0 is identity)
    objects: list[ObjectLabel]
    depth_order: np.ndarray  # (T, n) int64 object indices, far to near
    background_shift: np.ndarray  # (T, 2) float32 image motion of the view centre's far point
    focal: np.ndarray  # (T,) float32 focal length in pixels (zoom included)
    fps: float
    seed: int
    meta: dict  # sky, ground, far, camera_move, camera_strength, ... (see SceneSpec.meta)

    @property
    def pose_array(self) -> np.ndarray:
        """(T, 7) float32 poses in POSE_FIELDS order, for a model's camera conditioning."""
        return np.array([[getattr(p, f) for f in POSE_FIELDS] for p in self.poses], np.float32)


def render_clip(
    seed: int,
    frames: int = 17,
    size: int | tuple[int, int] = 128,
    fps: float = 12.0,
    spec: SceneSpec | None = None,
) -> Clip:
    """Render one clip: `frames` frames of `size` (an int for square, or (width, height)).

    Without `spec` the scene is drawn from `seed`; with one, `seed` still picks textures and
    wording. Rendering is independent of the scene's random stream, so a spec sampled from a
    seed and passed back in renders the same clip.
    """
    width, height = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if frames < 1 or width < 8 or height < 8 or fps <= 0:
        raise ValueError(
            f"A clip needs at least 1 frame of 8x8 pixels at a positive fps (got {frames} frames of {width}x{height} at {fps} fps)."
        )
    if spec is None:
        spec = sample_scene(np.random.default_rng(seed), frames, fps)
    spec.validate()
    path = camera_path(spec.camera_move, frames, spec.camera_strength, spec.camera_easing)
    poses = path.sample_frames(frames)
    view = build_view(poses, width, height, spec.camera_height, spec.camera_pitch, FOV_DEG)
    sim = simulate(spec.objects, frames, fps)
    out = render_frames(spec, view, sim, np.random.default_rng([seed, 1]))

    labels = []
    for i, obj in enumerate(spec.objects):
        labels.append(
            ObjectLabel(
                obj.kind,
                obj.colour,
                VERBS[obj.motion],
                out.trajectories[i],
                out.masks[i],
                out.depths[i],
                sim.positions[:, i].astype(np.float32),
            )
        )
    directions = [_direction(label, width) for label in labels]
    caption = describe(spec, directions, np.random.default_rng([seed, 2]))
    meta = spec.meta() | {"fov": FOV_DEG, "width": width, "height": height}
    return Clip(
        out.frames,
        caption,
        poses,
        labels,
        out.order,
        _background_shift(view),
        view.focals.astype(np.float32),
        float(fps),
        int(seed),
        meta,
    )


def _direction(label: ObjectLabel, width: int) -> str | None:
    """How an object travels, in words, when it clearly does (for the caption)."""
    if label.motion in ("rests", "spins", "falls"):
        return None
    dx = float(label.positions[-1, 0] - label.positions[0, 0])
    dz = float(label.positions[-1, 2] - label.positions[0, 2])
    if abs(dz) > 2.0 * abs(dx) and abs(dz) > 0.15:
        return "away from the camera" if dz > 0 else "toward the camera"
    if abs(dx) > 0.1:
        return "to the right" if dx > 0 else "to the left"
    return None


def _background_shift(view) -> np.ndarray:
    """(T, 2) where the far point seen at frame 0's centre appears, minus the centre.

    For a pan of angle a (no tilt or roll) this is (-f tan a, 0): the world slides left as the
    camera turns right. Tests compare it with the measured motion of the sky and far layer.
    """
    ray0 = view.pose_rotations[0] @ np.array([0.0, 0.0, 1.0])
    cam = np.einsum("tji,j->ti", view.pose_rotations, ray0)  # R_pose^T ray, per frame
    z = np.where(cam[:, 2] > 1e-6, cam[:, 2], np.nan)
    shift = np.stack([view.focals * cam[:, 0] / z, -view.focals * cam[:, 1] / z], axis=1)
    return shift.astype(np.float32)
