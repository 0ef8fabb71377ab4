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

import bisect
import dataclasses
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import limits
from .errors import InvalidRequest, ProjectError
from .fields import count as count_items
from .fields import number, show

POSE_FIELDS = ("pan", "tilt", "roll", "zoom", "dolly", "truck", "pedestal")
EASINGS = ("hold", "linear", "ease-in", "ease-out", "ease-in-out", "bezier")
DEFAULT_FOV_DEG = 50.0

Handles = tuple[float, float, float, float]

#: CSS cubic-bezier control points of the named easings, so every curve uses one solver
_NAMED_BEZIER: dict[str, Handles] = {
    "ease-in": (0.42, 0.0, 1.0, 1.0),
    "ease-out": (0.0, 0.0, 0.58, 1.0),
    "ease-in-out": (0.42, 0.0, 0.58, 1.0),
}


# ----------------------------------------------------------------------------- validation


def _is_number(value: object) -> bool:
    """A real number that is not a bool (JSON `true` must not pass as 1)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


#: what a file may hold per pose field: far past any drag, short of overflowing a homography
POSE_RANGES = {
    "pan": (-3600.0, 3600.0),
    "tilt": (-3600.0, 3600.0),
    "roll": (-3600.0, 3600.0),
    "zoom": (1e-3, 1e3),
    "dolly": (-1e4, 1e4),
    "truck": (-1e4, 1e4),
    "pedestal": (-1e4, 1e4),
}
#: a Bezier handle's y may overshoot (CSS semantics), within reason
HANDLE_Y_RANGE = (-100.0, 100.0)
MAX_KEY_FRAME = 10**6


def _finite(value: object, where: str, lo: float = -1e300, hi: float = 1e300) -> float:
    if type(value) is float and lo <= value <= hi:  # the common case, quickly (NaN fails)
        return value
    if not _is_number(value):
        raise ProjectError(f"must be a number, got {show(value)}", where)
    return number(value, where, lo, hi)


def _required(data: dict, key: str, where: str, expected: str) -> object:
    if key not in data:
        raise ProjectError(f"is missing (expected {expected})", f"{where}.{key}")
    return data[key]


def _handles_problem(handles: object) -> str | None:
    """Why `handles` are not usable cubic-bezier handles, or None when they are."""
    lo, hi = HANDLE_Y_RANGE
    if (
        not isinstance(handles, (list, tuple))
        or len(handles) != 4
        or not all(_is_number(v) and lo <= v <= hi for v in handles)  # NaN fails too
    ):
        return (
            f"must be four numbers [x1, y1, x2, y2] between {lo:g} and {hi:g}, got {show(handles)}"
        )
    if not (0 <= handles[0] <= 1 and 0 <= handles[2] <= 1):
        return f"x1 and x2 must lie in [0, 1] so time runs forward, got {show(list(handles))}"
    return None


# ----------------------------------------------------------------------------- pose


def _mix(a: float, b: float, t: float) -> float:
    """a + (b - a) t: exactly `a` where a == b, so a field that does not move stays put."""
    return a + (b - a) * t


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
            _finite(getattr(self, name), f"{field}.{name}", *POSE_RANGES[name])

    def lerp(self, other: Pose, t: float) -> Pose:
        """Blend towards `other`; zoom blends geometrically so a zoom feels even.

        The ends are returned as they are, so a segment lands exactly on its keyframe.
        """
        if t == 0:
            return self
        if t == 1:
            return other
        values = {name: _mix(getattr(self, name), getattr(other, name), t) for name in POSE_FIELDS}
        values["zoom"] = math.exp(_mix(math.log(self.zoom), math.log(other.zoom), t))
        return Pose(**values)

    def to_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in POSE_FIELDS}

    @classmethod
    def from_dict(cls, data: object, field: str = "pose") -> Pose:
        """Read a pose; every field is required (files always write all seven)."""
        if not isinstance(data, dict):
            raise ProjectError(
                f"must be an object with {', '.join(POSE_FIELDS)}, got {show(data)}", field
            )
        return cls(
            **{
                name: _finite(
                    _required(data, name, field, "a number"), f"{field}.{name}", *POSE_RANGES[name]
                )
                for name in POSE_FIELDS
            }
        )


# ----------------------------------------------------------------------------- easing


def _bezier(t: float, x1: float, y1: float, x2: float, y2: float) -> float:
    """CSS cubic-bezier: solve x(s) = t for s (Newton, then bisection), return y(s)."""

    def curve(s: float, a: float, b: float) -> float:  # 3a s(1-s)^2 + 3b s^2(1-s) + s^3
        return ((1 + 3 * a - 3 * b) * s + (3 * b - 6 * a)) * s * s + 3 * a * s

    def slope(s: float, a: float, b: float) -> float:
        return 3 * (1 + 3 * a - 3 * b) * s * s + 2 * (3 * b - 6 * a) * s + 3 * a

    s = t
    for _ in range(8):
        err = curve(s, x1, x2) - t
        if abs(err) < 1e-12:
            return curve(s, y1, y2)
        dx = slope(s, x1, x2)
        if abs(dx) < 1e-9:
            break
        s -= err / dx
        if not 0.0 <= s <= 1.0:
            break
    lo, hi = 0.0, 1.0  # x(s) is monotone because x1, x2 lie in [0, 1]
    for _ in range(60):
        s = (lo + hi) / 2
        if curve(s, x1, x2) < t:
            lo = s
        else:
            hi = s
    return curve((lo + hi) / 2, y1, y2)


def ease(easing: str, t: float, handles: Handles | None = None) -> float:
    """Map segment progress `t` in [0, 1] through `easing`; 0 -> 0 and 1 -> 1 exactly.

    Every named easing is monotone into [0, 1]; a bezier is too when y1, y2 lie in
    [0, 1], and overshoots (CSS semantics) when they do not.
    """
    if not math.isfinite(t):
        raise ValueError(f"easing progress must be a finite number, got {t!r}")
    if easing not in EASINGS:
        raise ValueError(f"unknown easing {easing!r} (expected one of {', '.join(EASINGS)})")
    if easing == "bezier" and (problem := _handles_problem(handles)) is not None:
        raise ValueError(f"bezier handles {problem}")
    if t <= 0.0:
        return 0.0
    if t >= 1.0:
        return 1.0
    if easing == "linear":
        return float(t)
    if easing == "hold":
        return 0.0
    return _bezier(float(t), *(handles if easing == "bezier" else _NAMED_BEZIER[easing]))


# ----------------------------------------------------------------------------- path


@dataclass
class CameraKeyframe:
    """A pose at a frame; `easing` (and `handles` for a bezier) shapes the segment that starts here."""

    frame: int
    pose: Pose = dataclasses.field(default_factory=Pose)
    easing: str = "ease-in-out"
    handles: Handles | None = None

    def validate(self, field: str = "keyframe", pose_checked: bool = False) -> None:
        if not isinstance(self.frame, numbers.Integral) or isinstance(self.frame, bool):
            raise ProjectError(
                f"must be a whole frame number, got {show(self.frame)}", f"{field}.frame"
            )
        if not 0 <= self.frame <= MAX_KEY_FRAME:
            raise ProjectError(
                f"must be between 0 and {MAX_KEY_FRAME}, got {show(self.frame)}", f"{field}.frame"
            )
        if not isinstance(self.pose, Pose):
            raise ProjectError(f"must be a camera pose, got {show(self.pose)}", f"{field}.pose")
        if not pose_checked:
            self.pose.validate(f"{field}.pose")
        if not isinstance(self.easing, str) or self.easing not in EASINGS:
            raise ProjectError(
                f"unknown easing {show(self.easing)} (expected one of {', '.join(EASINGS)})",
                f"{field}.easing",
            )
        if self.easing == "bezier" and self.handles is None:
            raise ProjectError(
                "a bezier segment needs handles [x1, y1, x2, y2]", f"{field}.handles"
            )
        if self.handles is not None and (problem := _handles_problem(self.handles)) is not None:
            raise ProjectError(problem, f"{field}.handles")

    def to_dict(self) -> dict:
        data = {"frame": int(self.frame), "pose": self.pose.to_dict(), "easing": self.easing}
        if self.handles is not None:  # kept for any easing, so switching back restores them
            data["handles"] = [float(v) for v in self.handles]
        return data

    @classmethod
    def from_dict(cls, data: object, field: str = "keyframe") -> CameraKeyframe:
        if not isinstance(data, dict):
            raise ProjectError(
                f"must be an object with frame, pose and easing, got {show(data)}", field
            )
        handles = data.get("handles")
        if handles is not None and (problem := _handles_problem(handles)) is not None:
            raise ProjectError(problem, f"{field}.handles")
        key = cls(
            frame=_required(data, "frame", field, "a frame number"),
            pose=Pose.from_dict(_required(data, "pose", field, "a pose"), f"{field}.pose"),
            easing=_required(data, "easing", field, f"one of {', '.join(EASINGS)}"),
            handles=None if handles is None else tuple(float(v) for v in handles),
        )
        key.validate(field, pose_checked=True)
        return key


def _by_frame(key: CameraKeyframe) -> int:
    return key.frame


def _sample(keys: list[CameraKeyframe], frames: list[int], frame: float) -> Pose:
    """The pose at `frame` on keyframes sorted by frame (`frames` their frame numbers)."""
    if not keys:
        return Pose()
    if frame <= frames[0]:
        return keys[0].pose
    if frame >= frames[-1]:
        return keys[-1].pose
    i = bisect.bisect_right(frames, frame) - 1  # keys[i].frame <= frame < keys[i + 1].frame
    start, end = keys[i], keys[i + 1]
    u = (frame - start.frame) / (end.frame - start.frame)
    return start.pose.lerp(end.pose, ease(start.easing, u, start.handles))


@dataclass
class CameraPath:
    """Keyframes of a camera move; an empty path is a locked-off camera at the reference view."""

    keyframes: list[CameraKeyframe] = dataclasses.field(default_factory=list)

    def validate(self, field: str = "camera") -> None:
        if not isinstance(self.keyframes, list):
            raise ProjectError(
                f"must be a list, got {type(self.keyframes).__name__}", f"{field}.keyframes"
            )
        seen: dict[int, int] = {}
        for index, key in enumerate(self.keyframes):
            where = f"{field}.keyframes[{index}]"
            if not isinstance(key, CameraKeyframe):
                raise ProjectError(f"must be a camera keyframe, got {show(key)}", where)
            key.validate(where)
            if key.frame in seen:
                raise ProjectError(
                    f"frame {key.frame} already has a keyframe (keyframes[{seen[key.frame]}])",
                    f"{where}.frame",
                )
            seen[key.frame] = index

    def sorted(self) -> CameraPath:
        return CameraPath(sorted(self.keyframes, key=_by_frame))

    def sample(self, frame: float) -> Pose:
        """The pose at `frame`: the first pose before the first key, the last after the last."""
        keys = sorted(self.keyframes, key=_by_frame)
        return _sample(keys, [k.frame for k in keys], frame)

    def sample_frames(self, count: int) -> list[Pose]:
        """Poses of frames 0 .. count - 1."""
        keys = sorted(self.keyframes, key=_by_frame)
        frames = [k.frame for k in keys]
        return [_sample(keys, frames, frame) for frame in range(count)]

    def keyframe_at(self, frame: int) -> CameraKeyframe | None:
        return next((k for k in self.keyframes if k.frame == frame), None)

    def with_keyframe(self, key: CameraKeyframe) -> CameraPath:
        """A sorted copy with `key` added, replacing any keyframe on the same frame."""
        return CameraPath(
            sorted([*(k for k in self.keyframes if k.frame != key.frame), key], key=_by_frame)
        )

    def without_keyframe(self, frame: int) -> CameraPath:
        """A sorted copy without the keyframe on `frame` (unchanged if there is none)."""
        return CameraPath(sorted((k for k in self.keyframes if k.frame != frame), key=_by_frame))

    def to_dict(self) -> dict:
        return {"keyframes": [k.to_dict() for k in sorted(self.keyframes, key=_by_frame)]}

    @classmethod
    def from_dict(cls, data: object, field: str = "camera") -> CameraPath:
        """Read and validate a path; `{}` (no keyframes) is a locked-off camera."""
        if not isinstance(data, dict):
            raise ProjectError(f"must be an object with a keyframes list, got {show(data)}", field)
        raw = data.get("keyframes", [])
        if not isinstance(raw, list):
            raise ProjectError(f"must be a list, got {type(raw).__name__}", f"{field}.keyframes")
        count_items(raw, f"{field}.keyframes", limits.MAX_CAMERA_KEYS, "camera keys")
        keys = [CameraKeyframe.from_dict(k, f"{field}.keyframes[{i}]") for i, k in enumerate(raw)]
        seen: dict[int, int] = {}
        for index, key in enumerate(keys):  # each key is valid; only duplicates remain
            if key.frame in seen:
                raise ProjectError(
                    f"frame {key.frame} already has a keyframe (keyframes[{seen[key.frame]}])",
                    f"{field}.keyframes[{index}].frame",
                )
            seen[key.frame] = index
        return cls(keys).sorted()


# ----------------------------------------------------------------------------- geometry


def intrinsics(
    width: int, height: int, fov_deg: float = DEFAULT_FOV_DEG, zoom: float = 1.0
) -> np.ndarray:
    """Pinhole K: `fov_deg` horizontal at zoom 1, principal point at the frame's centre.

    Pixel centres sit on integers (as OpenCV warps assume), so the centre is ((w-1)/2, (h-1)/2).
    """
    focal = zoom * (width / 2.0) / math.tan(math.radians(fov_deg) / 2.0)
    return np.array(
        [[focal, 0.0, (width - 1) / 2.0], [0.0, focal, (height - 1) / 2.0], [0.0, 0.0, 1.0]]
    )


def rotation(pose: Pose) -> np.ndarray:
    """Camera-to-reference rotation of a pan-tilt head: pan about the vertical, then tilt, then roll."""
    p, t, r = (math.radians(v) for v in (pose.pan, pose.tilt, pose.roll))
    yaw = np.array([[math.cos(p), 0, math.sin(p)], [0, 1, 0], [-math.sin(p), 0, math.cos(p)]])
    pitch = np.array([[1, 0, 0], [0, math.cos(t), -math.sin(t)], [0, math.sin(t), math.cos(t)]])
    roll = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return yaw @ pitch @ roll


def pose_to_homography(
    pose: Pose, width: int, height: int, fov_deg: float = DEFAULT_FOV_DEG, depth: float = 1.0
) -> np.ndarray:
    """Reference-view pixels -> pixels of the view at `pose`, (3, 3) float64, H[2, 2] = 1.

    `frame = cv2.warpPerspective(keyframe, H, (width, height))`. Rotation and zoom are exact
    for any scene (K_pose R^T K^-1); translation is exact for the fronto-parallel plane at
    `depth`: a point X on it is seen at K_pose R^T (X - C), and X - C = (I - C n^T / d) X
    there, which gives H = K_pose R^T (I - C n^T / d) K^-1 with C the camera centre.
    """
    if width < 1 or height < 1 or not 0 < fov_deg < 180 or not depth > 0:
        raise InvalidRequest(
            f"A camera homography needs a positive frame size, a field of view between 0 and "
            f"180 degrees and a positive depth (got {width}x{height}, {fov_deg} degrees, depth {depth})."
        )
    if pose.dolly >= depth:
        raise InvalidRequest(
            f"The camera dollies through the subject: dolly {pose.dolly:g} reaches the subject "
            f"plane at depth {depth:g}. Keep dolly below {depth:g}."
        )
    centre = np.array([pose.truck, -pose.pedestal, pose.dolly])  # y is down: pedestal up is -y
    plane = np.eye(3) - np.outer(centre, [0.0, 0.0, 1.0]) / depth
    k_pose = intrinsics(width, height, fov_deg, pose.zoom)
    h = k_pose @ rotation(pose).T @ plane @ np.linalg.inv(intrinsics(width, height, fov_deg))
    return h / h[2, 2] if abs(h[2, 2]) > 1e-12 else h / np.linalg.norm(h)


def homographies(
    path: CameraPath,
    frames: int,
    width: int,
    height: int,
    fov_deg: float = DEFAULT_FOV_DEG,
    depth: float = 1.0,
) -> np.ndarray:
    """One homography per frame 0 .. frames - 1, (T, 3, 3) float32."""
    out = np.empty((frames, 3, 3), np.float32)
    for t, pose in enumerate(path.sample_frames(frames)):
        out[t] = pose_to_homography(pose, width, height, fov_deg, depth)
    return out


# ----------------------------------------------------------------------------- presets

PRESETS: dict[str, str] = {
    "static": "Locked-off camera",
    "pan-left": "Turn left 20 degrees",
    "pan-right": "Turn right 20 degrees",
    "tilt-up": "Look up 12 degrees",
    "tilt-down": "Look down 12 degrees",
    "zoom-in": "Zoom in to 1.5x",
    "zoom-out": "Zoom out to 0.67x",
    "roll": "Roll clockwise 15 degrees",
    "dolly-in": "Move a third of the way to the subject: it grows 1.5x",
    "dolly-out": "Move back half the distance to the subject: it shrinks to 0.67x",
    "truck-left": "Slide left, parallel to the subject",
    "truck-right": "Slide right, parallel to the subject",
    "crane-up": "Rise and look down to keep the subject in frame",
    "orbit": "Circle 25 degrees around the subject, keeping it centred",
    "dolly-zoom": "Move in while zooming out: the subject keeps its size, the world warps",
}


def preset(name: str, frames: int, strength: float = 1.0, depth: float = 1.0) -> CameraPath:
    """A named move over a shot of `frames` frames, starting at the reference view.

    `strength` scales the move (1 is a typical 2-4 s shot); zooms and dollies scale the
    subject's size geometrically, so no strength dollies through the subject at `depth`.
    """
    if name not in PRESETS:
        raise InvalidRequest(f"Unknown camera preset '{name}'. Presets: {', '.join(PRESETS)}.")
    if isinstance(frames, bool) or not isinstance(frames, numbers.Integral) or frames < 1:
        raise InvalidRequest(f"A camera preset needs at least one frame, got {frames!r}.")
    if not (math.isfinite(strength) and math.isfinite(depth) and depth > 0):
        raise InvalidRequest(
            f"Preset strength must be finite and depth positive, got {strength}, {depth}."
        )
    s = float(strength)
    if name == "orbit":  # on a circle of radius `depth` about the subject, panning back at it
        angle = math.radians(25 * s)
        return _ramp(
            frames,
            lambda u: Pose(
                pan=-math.degrees(angle * u),
                truck=depth * math.sin(angle * u),
                dolly=depth * (1 - math.cos(angle * u)),
            ),
        )
    if name == "dolly-zoom":  # the subject's size is zoom * depth / (depth - dolly) = 1
        travel = depth * (1 - 1.5**-s)
        return _ramp(frames, lambda u: Pose(dolly=travel * u, zoom=1 - travel * u / depth))
    end = {
        "static": Pose(),
        "pan-left": Pose(pan=-20 * s),
        "pan-right": Pose(pan=20 * s),
        "tilt-up": Pose(tilt=12 * s),
        "tilt-down": Pose(tilt=-12 * s),
        "zoom-in": Pose(zoom=1.5**s),
        "zoom-out": Pose(zoom=1.5**-s),
        "roll": Pose(roll=15 * s),
        "dolly-in": Pose(dolly=depth * (1 - 1.5**-s)),
        "dolly-out": Pose(dolly=depth * (1 - 1.5**s)),
        "truck-left": Pose(truck=-0.3 * depth * s),
        "truck-right": Pose(truck=0.3 * depth * s),
        "crane-up": Pose(pedestal=0.25 * depth * s, tilt=-math.degrees(math.atan(0.25 * s))),
    }[name]
    keys = [CameraKeyframe(0, Pose())]
    if frames > 1:
        keys.append(CameraKeyframe(frames - 1, end))
    return CameraPath(keys)


def _ramp(frames: int, pose_at: Callable[[float], Pose], count: int = 9) -> CameraPath:
    """A move whose fields are tied by a curve: `count` linear keys along `pose_at(u)`.

    Progress u is eased in and out over the shot and the keys sit evenly in time, so the
    graph editor shows a handful of keys and the tie holds to a fraction of a percent between them.
    """
    last = frames - 1
    picks = sorted({round(last * i / (count - 1)) for i in range(count)}) if last else [0]
    return CameraPath(
        [
            CameraKeyframe(f, pose_at(ease("ease-in-out", f / last) if last else 0.0), "linear")
            for f in picks
        ]
    )
