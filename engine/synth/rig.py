"""The world's camera: filmmaker moves as `engine.camera` paths, and the 3D pinhole behind them.

A clip's camera stands on a rig `height` units above the ground, pitched `pitch` degrees (down
is negative): that is the *reference view*, the identity `Pose`. Each frame's pose is applied
relative to it with `engine.camera`'s conventions, so a clip's labelled poses mean the same
thing as a keyframed camera in the studio, and `pose_to_homography` maps frame 0 to frame t for
everything at infinity (sky, far layer):

    rotation  R = R_base @ Ry(pan) @ Rx(tilt) @ Rz(roll)     (camera-to-world)
    centre    C = (0, height, 0) + R_base @ (truck, pedestal, dolly)
    focal     f = zoom * (width / 2) / tan(fov / 2)

pan > 0 turns right, tilt > 0 looks up, roll > 0 rolls clockwise, zoom > 1 magnifies, dolly > 0
moves forward, truck > 0 right, pedestal > 0 up. Camera space is x right, y up, z forward;
image space is x right, y down, pixel centres on integers, principal point at the image centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..camera import CameraKeyframe, CameraPath, Pose

#: horizontal field of view at zoom 1, degrees (the same default as `engine.camera`)
FOV_DEG = 50.0

#: the moves a clip can make: name -> (pose field, change at strength 1). Zoom is a factor
#: (raised to the strength); the rest are added (degrees or scene units).
CAMERA_MOVES: dict[str, tuple[str | None, float]] = {
    "static": (None, 0.0),
    "pan-left": ("pan", -18.0),
    "pan-right": ("pan", 18.0),
    "tilt-up": ("tilt", 10.0),
    "tilt-down": ("tilt", -10.0),
    "roll-clockwise": ("roll", 12.0),
    "roll-counterclockwise": ("roll", -12.0),
    "zoom-in": ("zoom", 1.5),
    "zoom-out": ("zoom", 1.0 / 1.4),
    "dolly-in": ("dolly", 0.45),
    "dolly-out": ("dolly", -0.45),
    "truck-left": ("truck", -0.35),
    "truck-right": ("truck", 0.35),
    "pedestal-up": ("pedestal", 0.2),
    "pedestal-down": ("pedestal", -0.15),
}

#: easings a sampled move may use (names from `engine.camera.EASINGS`)
MOVE_EASINGS = ("linear", "ease-in", "ease-out", "ease-in-out")


def camera_path(
    move: str, frames: int, strength: float = 1.0, easing: str = "ease-in-out"
) -> CameraPath:
    """The clip's camera move as a two-keyframe path starting at the reference view."""
    if move not in CAMERA_MOVES:
        raise ValueError(f"Unknown camera move {move!r}; choose one of: {', '.join(CAMERA_MOVES)}.")
    field, amount = CAMERA_MOVES[move]
    end = Pose()
    if field == "zoom":
        end = Pose(zoom=amount**strength)
    elif field is not None:
        end = Pose(**{field: amount * strength})
    last = max(frames - 1, 1)
    return CameraPath([CameraKeyframe(0, Pose(), easing), CameraKeyframe(last, end, easing)])


@dataclass(frozen=True)
class View:
    """Camera matrices of every frame of a clip, and projection into its pixels."""

    width: int
    height: int
    pose_rotations: np.ndarray  # (T, 3, 3) rotation relative to the reference view
    rotations: np.ndarray  # (T, 3, 3) camera-to-world
    centres: np.ndarray  # (T, 3) camera centre, world units
    focals: np.ndarray  # (T,) focal length in pixels

    @property
    def cx(self) -> float:
        return (self.width - 1) / 2.0

    @property
    def cy(self) -> float:
        return (self.height - 1) / 2.0

    def intrinsics(self, t: int) -> np.ndarray:
        """(3, 3) K of frame t for camera space with y up (hence the -f)."""
        f = self.focals[t]
        return np.array([[f, 0.0, self.cx], [0.0, -f, self.cy], [0.0, 0.0, 1.0]])

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (T, N, 3) -> camera space (T, N, 3)."""
        rel = points - self.centres[:, None, :]
        return np.einsum("tji,tnj->tni", self.rotations, rel)  # R^T (P - C)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points (T, N, 3) -> pixel coordinates (T, N, 2) and camera depth (T, N)."""
        cam = self.to_camera(points)
        depth = cam[..., 2]
        safe = np.where(np.abs(depth) < 1e-6, 1e-6, depth)
        f = self.focals[:, None]
        uv = np.stack([self.cx + f * cam[..., 0] / safe, self.cy - f * cam[..., 1] / safe], axis=-1)
        return uv, depth


def build_view(
    poses: list[Pose],
    width: int,
    height: int,
    rig_height: float,
    pitch_deg: float,
    fov_deg: float = FOV_DEG,
) -> View:
    """Camera matrices for `poses` on a rig `rig_height` above the ground, pitched `pitch_deg`."""
    fields = np.array(
        [[p.pan, p.tilt, p.roll, p.zoom, p.dolly, p.truck, p.pedestal] for p in poses],
        dtype=np.float64,
    )
    pan, tilt, roll = (np.radians(fields[:, i]) for i in range(3))
    pose_rot = _rot_y(pan) @ _rot_x(tilt) @ _rot_z(roll)
    base = _rot_x(np.array([math.radians(pitch_deg)]))[0]
    rotations = base[None] @ pose_rot
    offsets = fields[:, [5, 6, 4]]  # truck, pedestal, dolly in the reference camera's axes
    centres = np.array([0.0, rig_height, 0.0])[None, :] + offsets @ base.T
    f0 = (width / 2.0) / math.tan(math.radians(fov_deg) / 2.0)
    return View(width, height, pose_rot, rotations, centres, f0 * fields[:, 3])


def _rot_x(a: np.ndarray) -> np.ndarray:
    """(T, 3, 3) tilt: a > 0 lifts the forward axis toward +y (looks up)."""
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([o, z, z, z, c, s, z, -s, c], axis=-1).reshape(-1, 3, 3)


def _rot_y(a: np.ndarray) -> np.ndarray:
    """(T, 3, 3) pan: a > 0 swings the forward axis toward +x (turns right)."""
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([c, z, s, z, o, z, -s, z, c], axis=-1).reshape(-1, 3, 3)


def _rot_z(a: np.ndarray) -> np.ndarray:
    """(T, 3, 3) roll: a > 0 leans the up axis toward +x (clockwise as the operator sees it)."""
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([c, s, z, -s, c, z, z, z, o], axis=-1).reshape(-1, 3, 3)
