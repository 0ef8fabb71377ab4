"""Camera paths: keyframed poses with per-segment easing, and a pose as a homography.

A filmmaker thinks in pan, tilt, roll, zoom, dolly, truck and pedestal; a warp needs a
3x3 matrix. `CameraPath` keeps the former (what the graph editor shows and the document
stores) and `pose_to_homography` gives the latter for any frame size, so the same path
drives previs at 1280x720 and a model at latent resolution.

Conventions (shared with the procedural world and the camera-adherence metric):
camera coordinates are x right, y down, z forward; the reference view is the identity
pose looking at a fronto-parallel plane at `depth`. Pan > 0 turns right (the scene moves
left), tilt > 0 looks up (the scene moves down), roll > 0 rolls the camera clockwise (the
picture turns counter-clockwise), zoom > 1 magnifies, dolly > 0 moves forward, truck > 0
moves right, pedestal > 0 moves up. Translations are in the reference camera's frame (a
camera on tracks), in scene units where the reference plane sits at `depth`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .errors import InvalidRequest, ProjectError

POSE_FIELDS = ("pan", "tilt", "roll", "zoom", "dolly", "truck", "pedestal")
EASINGS = ("hold", "linear", "ease-in", "ease-out", "ease-in-out", "bezier")
DEFAULT_FOV_DEG = 50.0

#: CSS cubic-bezier control points of the named easings, so every curve uses one solver
_NAMED_BEZIER = {
    "ease-in": (0.42, 0.0, 1.0, 1.0),
    "ease-out": (0.0, 0.0, 0.58, 1.0),
    "ease-in-out": (0.42, 0.0, 0.58, 1.0),
}


# ----------------------------------------------------------------------------- validation


def _number(data: dict, key: str, where: str) -> float:
    if key not in data:
        raise ProjectError("is missing (expected a number)", f"{where}.{key}")
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProjectError(f"must be a number, got {value!r}", f"{where}.{key}")
    if not math.isfinite(value):
        raise ProjectError(f"must be a finite number, got {value!r}", f"{where}.{key}")
    return float(value)


# ----------------------------------------------------------------------------- pose


@dataclass(frozen=True)
class Pose:
    """One camera pose; angles in degrees, zoom a focal multiplier, moves in scene units."""

    pan: float = 0.0
    tilt: float = 0.0
    roll: float = 0.0
    zoom: float = 1.0
    dolly: float = 0.0
    truck: float = 0.0
    pedestal: float = 0.0

    def validate(self, field: str = "pose") -> None:
        for name in POSE_FIELDS:
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ProjectError(f"must be a finite number, got {value!r}", f"{field}.{name}")
        if self.zoom <= 0:
            raise ProjectError(f"must be greater than 0, got {self.zoom!r}", f"{field}.zoom")

    def lerp(self, other: Pose, t: float) -> Pose:
        """Blend towards `other`; zoom blends geometrically so a zoom feels even."""
        values = {
            name: getattr(self, name) + (getattr(other, name) - getattr(self, name)) * t
            for name in POSE_FIELDS
            if name != "zoom"
        }
        values["zoom"] = self.zoom * (other.zoom / self.zoom) ** t
        return Pose(**values)

    def to_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in POSE_FIELDS}

    @classmethod
    def from_dict(cls, data: object, field: str = "pose") -> Pose:
        if not isinstance(data, dict):
            raise ProjectError(f"must be an object with {', '.join(POSE_FIELDS)}", field)
        defaults = cls()
        values = {
            name: _number(data, name, field) if name in data else getattr(defaults, name)
            for name in POSE_FIELDS
        }
        pose = cls(**values)
        pose.validate(field)
        return pose


# ----------------------------------------------------------------------------- easing


def _bezier(t: float, x1: float, y1: float, x2: float, y2: float) -> float:
    """CSS cubic-bezier: solve x(s) = t for s, return y(s)."""

    def coord(s: float, a: float, b: float) -> float:
        return 3 * (1 - s) ** 2 * s * a + 3 * (1 - s) * s * s * b + s**3

    s = t
    for _ in range(8):  # Newton, falling back to bisection where the slope vanishes
        dx = 3 * (1 - s) ** 2 * x1 + 6 * (1 - s) * s * (x2 - x1) + 3 * s * s * (1 - x2)
        err = coord(s, x1, x2) - t
        if abs(err) < 1e-7:
            return coord(s, y1, y2)
        if abs(dx) < 1e-6:
            break
        s = min(1.0, max(0.0, s - err / dx))
    lo, hi = 0.0, 1.0
    s = t
    for _ in range(40):
        if coord(s, x1, x2) < t:
            lo = s
        else:
            hi = s
        s = (lo + hi) / 2
    return coord(s, y1, y2)


def ease(easing: str, t: float, handles: tuple[float, float, float, float] | None = None) -> float:
    """Map segment progress `t` in [0, 1] through `easing`; 0 -> 0 and 1 -> 1 exactly."""
    t = min(1.0, max(0.0, float(t)))
    if t <= 0.0 or t >= 1.0:
        return t
    if easing == "linear":
        return t
    if easing == "hold":
        return 0.0
    if easing == "bezier":
        if handles is None:
            raise ValueError("a bezier easing needs handles (x1, y1, x2, y2)")
        return _bezier(t, *handles)
    if easing in _NAMED_BEZIER:
        return _bezier(t, *_NAMED_BEZIER[easing])
    raise ValueError(f"unknown easing {easing!r}")


# ----------------------------------------------------------------------------- path


@dataclass
class CameraKeyframe:
    """A pose at a frame; `easing` shapes the segment that starts here."""

    frame: int
    pose: Pose = field(default_factory=Pose)
    easing: str = "ease-in-out"
    handles: tuple[float, float, float, float] | None = None

    def validate(self, where: str) -> None:
        if isinstance(self.frame, bool) or not isinstance(self.frame, int):
            raise ProjectError(
                f"must be a whole frame number, got {self.frame!r}", f"{where}.frame"
            )
        if self.frame < 0:
            raise ProjectError(f"must be 0 or more, got {self.frame}", f"{where}.frame")
        self.pose.validate(f"{where}.pose")
        if self.easing not in EASINGS:
            raise ProjectError(
                f"unknown easing {self.easing!r} (expected one of {', '.join(EASINGS)})",
                f"{where}.easing",
            )
        if self.easing == "bezier" and self.handles is None:
            raise ProjectError(
                "a bezier segment needs handles [x1, y1, x2, y2]", f"{where}.handles"
            )
        if self.handles is not None:
            if len(self.handles) != 4 or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                for v in self.handles
            ):
                raise ProjectError(
                    f"must be four finite numbers [x1, y1, x2, y2], got {list(self.handles)!r}",
                    f"{where}.handles",
                )
            if not (0 <= self.handles[0] <= 1 and 0 <= self.handles[2] <= 1):
                raise ProjectError(
                    f"x1 and x2 must lie in [0, 1] so time runs forward, got {list(self.handles)!r}",
                    f"{where}.handles",
                )

    def to_dict(self) -> dict:
        data = {"frame": self.frame, "pose": self.pose.to_dict(), "easing": self.easing}
        if self.handles is not None:
            data["handles"] = list(self.handles)
        return data

    @classmethod
    def from_dict(cls, data: object, field: str = "keyframe") -> CameraKeyframe:
        if not isinstance(data, dict):
            raise ProjectError("must be an object with frame, pose and easing", field)
        if "frame" not in data:
            raise ProjectError("is missing (expected a frame number)", f"{field}.frame")
        handles = data.get("handles")
        if handles is not None:
            if not isinstance(handles, (list, tuple)):
                raise ProjectError(
                    f"must be a list [x1, y1, x2, y2], got {handles!r}", f"{field}.handles"
                )
            handles = tuple(handles)
        easing = data.get("easing", "ease-in-out")
        if not isinstance(easing, str):
            raise ProjectError(f"must be a name, got {easing!r}", f"{field}.easing")
        key = cls(
            frame=data["frame"],
            pose=Pose.from_dict(data.get("pose", {}), f"{field}.pose"),
            easing=easing,
            handles=handles,
        )
        key.validate(field)
        return key


@dataclass
class CameraPath:
    """Keyframes sorted by frame; an empty path is a locked-off camera."""

    keyframes: list[CameraKeyframe] = field(default_factory=list)

    def validate(self, field: str = "camera") -> None:
        seen: dict[int, int] = {}
        for index, key in enumerate(self.keyframes):
            key.validate(f"{field}.keyframes[{index}]")
            if key.frame in seen:
                raise ProjectError(
                    f"frame {key.frame} already has keyframe {seen[key.frame]}",
                    f"{field}.keyframes[{index}].frame",
                )
            seen[key.frame] = index

    def sorted(self) -> CameraPath:
        return CameraPath(sorted(self.keyframes, key=lambda k: k.frame))

    def sample(self, frame: float) -> Pose:
        keys = sorted(self.keyframes, key=lambda k: k.frame)
        if not keys:
            return Pose()
        if frame <= keys[0].frame:
            return keys[0].pose
        if frame >= keys[-1].frame:
            return keys[-1].pose
        for start, end in zip(keys, keys[1:], strict=False):
            if start.frame <= frame <= end.frame:
                u = (frame - start.frame) / (end.frame - start.frame)
                return start.pose.lerp(end.pose, ease(start.easing, u, start.handles))
        raise AssertionError("unreachable: frame lies between the first and last keyframe")

    def sample_frames(self, count: int) -> list[Pose]:
        return [self.sample(frame) for frame in range(count)]

    def keyframe_at(self, frame: int) -> CameraKeyframe | None:
        return next((k for k in self.keyframes if k.frame == frame), None)

    def with_keyframe(self, key: CameraKeyframe) -> CameraPath:
        """A copy with `key` added, replacing any keyframe on the same frame."""
        others = [k for k in self.keyframes if k.frame != key.frame]
        return CameraPath(sorted([*others, key], key=lambda k: k.frame))

    def to_dict(self) -> dict:
        return {"keyframes": [k.to_dict() for k in sorted(self.keyframes, key=lambda k: k.frame)]}

    @classmethod
    def from_dict(cls, data: object, field: str = "camera") -> CameraPath:
        if not isinstance(data, dict):
            raise ProjectError("must be an object with a keyframes list", field)
        raw = data.get("keyframes", [])
        if not isinstance(raw, list):
            raise ProjectError(f"must be a list, got {type(raw).__name__}", f"{field}.keyframes")
        path = cls(
            [CameraKeyframe.from_dict(k, f"{field}.keyframes[{i}]") for i, k in enumerate(raw)]
        )
        path.validate(field)
        return path.sorted()


# ----------------------------------------------------------------------------- geometry


def intrinsics(
    width: int, height: int, fov_deg: float = DEFAULT_FOV_DEG, zoom: float = 1.0
) -> np.ndarray:
    """Pinhole intrinsics with the principal point at the pixel-centre of the frame."""
    focal = zoom * (width / 2.0) / math.tan(math.radians(fov_deg) / 2.0)
    return np.array(
        [[focal, 0.0, (width - 1) / 2.0], [0.0, focal, (height - 1) / 2.0], [0.0, 0.0, 1.0]]
    )


def rotation(pose: Pose) -> np.ndarray:
    """Camera-to-reference rotation: yaw (pan), then pitch (tilt), then roll, in the camera's frame."""
    p, t, r = (math.radians(v) for v in (pose.pan, pose.tilt, pose.roll))
    yaw = np.array([[math.cos(p), 0, math.sin(p)], [0, 1, 0], [-math.sin(p), 0, math.cos(p)]])
    pitch = np.array([[1, 0, 0], [0, math.cos(t), -math.sin(t)], [0, math.sin(t), math.cos(t)]])
    roll = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return yaw @ pitch @ roll


def pose_to_homography(
    pose: Pose, width: int, height: int, fov_deg: float = DEFAULT_FOV_DEG, depth: float = 1.0
) -> np.ndarray:
    """Reference-view pixels -> pixels of the view at `pose` (for `cv2.warpPerspective`).

    Rotation and zoom are exact for any scene (K R K0^-1); translation is exact for the
    fronto-parallel plane at `depth` (the plane-induced homography K R (I - C n^T / d) K0^-1).
    """
    k_ref = intrinsics(width, height, fov_deg)
    k_view = intrinsics(width, height, fov_deg, pose.zoom)
    world_to_camera = rotation(pose).T
    centre = np.array([pose.truck, -pose.pedestal, pose.dolly])
    normal = np.array([0.0, 0.0, 1.0])
    plane = np.eye(3) - np.outer(centre, normal) / depth
    h = k_view @ world_to_camera @ plane @ np.linalg.inv(k_ref)
    return h / h[2, 2]


def homographies(
    path: CameraPath,
    frames: int,
    width: int,
    height: int,
    fov_deg: float = DEFAULT_FOV_DEG,
    depth: float = 1.0,
) -> np.ndarray:
    """One homography per frame, (T, 3, 3) float32."""
    return np.stack(
        [pose_to_homography(p, width, height, fov_deg, depth) for p in path.sample_frames(frames)]
    ).astype(np.float32)


# ----------------------------------------------------------------------------- presets

PRESETS: dict[str, str] = {
    "static": "Locked-off camera",
    "pan-left": "Turn left 20 degrees",
    "pan-right": "Turn right 20 degrees",
    "tilt-up": "Look up 12 degrees",
    "tilt-down": "Look down 12 degrees",
    "zoom-in": "Zoom in to 1.5x",
    "zoom-out": "Zoom out from 1.5x",
    "roll": "Roll clockwise 15 degrees",
    "dolly-in": "Move forward a third of the way to the subject",
    "dolly-out": "Move back a third of the distance to the subject",
    "truck-left": "Slide left, parallel to the subject",
    "truck-right": "Slide right, parallel to the subject",
    "crane-up": "Rise and look down to keep the subject in frame",
    "orbit": "Circle 25 degrees around the subject, keeping it centred",
    "dolly-zoom": "Move in while zooming out: the subject keeps its size, the world warps",
}


def _two_keys(frames: int, end: Pose, easing: str = "ease-in-out") -> CameraPath:
    last = max(frames - 1, 0)
    if last == 0:
        return CameraPath([CameraKeyframe(0, Pose(), easing)])
    return CameraPath([CameraKeyframe(0, Pose(), easing), CameraKeyframe(last, end, easing)])


def preset(name: str, frames: int, strength: float = 1.0, depth: float = 1.0) -> CameraPath:
    """A named move over a shot of `frames` frames; `strength` scales its size."""
    s = float(strength)
    moves = {
        "static": Pose(),
        "pan-left": Pose(pan=-20 * s),
        "pan-right": Pose(pan=20 * s),
        "tilt-up": Pose(tilt=12 * s),
        "tilt-down": Pose(tilt=-12 * s),
        "zoom-in": Pose(zoom=1.5**s),
        "roll": Pose(roll=15 * s),
        "dolly-in": Pose(dolly=depth * s / 3),
        "dolly-out": Pose(dolly=-depth * s / 3),
        "truck-left": Pose(truck=-0.3 * depth * s),
        "truck-right": Pose(truck=0.3 * depth * s),
        "crane-up": Pose(pedestal=0.25 * depth * s, tilt=-math.degrees(math.atan(0.25 * s))),
    }
    if name in moves:
        return _two_keys(frames, moves[name])
    if name == "zoom-out":
        path = _two_keys(frames, Pose())
        path.keyframes[0] = replace(path.keyframes[0], pose=Pose(zoom=1.5**s))
        return path
    if name == "dolly-zoom":
        # move in by `travel` and zoom so the plane at `depth` keeps its size: zoom = (d - z) / d
        travel = depth * s / 3
        steps = _ramp(frames, 7)
        return CameraPath(
            [
                CameraKeyframe(
                    f, Pose(dolly=travel * u, zoom=(depth - travel * u) / depth), "linear"
                )
                for f, u in steps
            ]
        )
    if name == "orbit":
        angle = math.radians(25 * s)
        return CameraPath(
            [
                CameraKeyframe(
                    f,
                    Pose(
                        truck=depth * math.sin(angle * u),
                        dolly=depth * (1 - math.cos(angle * u)),
                        pan=-math.degrees(angle * u),
                    ),
                    "linear",
                )
                for f, u in _ramp(frames, 9)
            ]
        )
    raise InvalidRequest(f"Unknown camera preset '{name}'. Presets: {', '.join(PRESETS)}.")


def _ramp(frames: int, count: int) -> list[tuple[int, float]]:
    """Keyframe frames and eased progress for a multi-key move (eased in and out overall)."""
    last = max(frames - 1, 0)
    if last == 0:
        return [(0, 0.0)]
    picks = sorted({round(last * i / (count - 1)) for i in range(count)})
    return [(f, ease("ease-in-out", f / last)) for f in picks]
