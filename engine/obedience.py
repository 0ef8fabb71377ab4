"""Ask versus got: what a take was asked to do (its strokes, its camera move) beside what it did.

`kinema eval` scores a generator with `engine.metrics` over many scenes; this reads one take
the same way so a user can see, on the picture, where a brushed region was asked to go and
where it went, and how the camera was asked to move against how the picture moved.

Everything comes from the take's own request (the shot snapshot it was made with), never from
the shot as it is now, so editing the strokes afterwards does not change what a take is judged
against. All positions are normalised to the frame (0..1, x right, y down), as the document's
are, so a drawing fits the picture at any zoom; errors are in percent of the frame width, as
`metrics.brush_adherence` gives them.

For each stroke (a move stroke with a path, or a static one):
  asked: its anchor where the request puts it in each frame: along the stroke's path
         (`motion.trajectory_offsets`), then carried by the camera, as the previs moves it;
  got:   the brushed region tracked through the take's frames (`metrics.track_region`, its
         centroid's displacement), started at the asked anchor so both lines share a start;
  error: their distance per frame.
For the camera, when the request moves it: the first frame's outline (and centre) carried by
the requested homographies, beside the same carried by the motion `estimate_camera_motion`
reads in the frames, with `metrics.camera_adherence`'s verdict on direction and amount.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from . import metrics
from .camera import homographies
from .errors import InvalidRequest, KinemaError, ProjectError
from .motion import trajectory_offsets
from .project import Shot

#: a move under this many percent of the frame width counts as standing still (for wording)
STILL_PCT = 1.0


@dataclass(frozen=True, eq=False)
class StrokeObedience:
    """One stroke of the request: where it was asked to be against where its region went."""

    stroke_id: str
    name: str
    kind: str  # "move" | "static"
    color: str  # "#rrggbb", the stroke's own
    asked: np.ndarray  # (T, 2) float32 normalised positions of the anchor as requested
    got: np.ndarray  # (T, 2) float32 normalised: the tracked region, from asked[0]
    error_pct: np.ndarray  # (T,) float32 distance per frame, % of frame width (0 at frame 0)
    mean_error_pct: float  # over frames 1..T-1
    endpoint_error_pct: float  # at the last frame


@dataclass(frozen=True, eq=False)
class CameraObedience:
    """The requested camera move against the one seen in the frames."""

    asked_quads: np.ndarray  # (T, 4, 2) float32: frame 0's corners where the request moves them
    got_quads: np.ndarray  # (T, 4, 2) float32: the same moved by the estimated motion
    asked_centre: np.ndarray  # (T, 2) float32: frame 0's centre, as requested
    got_centre: np.ndarray  # (T, 2) float32: frame 0's centre, as estimated
    direction_ok: bool
    direction_cosine: float  # -1..1 over the whole path
    magnitude_ratio: float  # |got| / |asked|; 1 is the requested amount of motion
    error_pct: np.ndarray  # (T,) float32 distance of the centres, % of frame width

    @property
    def summary(self) -> str:
        """One line for the picture: did the camera go the asked way, and how far."""
        if not self.direction_ok:
            turn = "the wrong way" if self.direction_cosine < 0 else "off its direction"
            return f"camera went {turn} ({self.magnitude_ratio:.0%} of the asked move)"
        return f"camera: {self.magnitude_ratio:.0%} of the asked move, direction right"


@dataclass(frozen=True, eq=False)
class Obedience:
    """What one take was asked against what it did; `message` says why something is absent."""

    frames: int
    width: int
    height: int
    strokes: tuple[StrokeObedience, ...]
    camera: CameraObedience | None
    message: str = ""  # e.g. the take was asked for no strokes and no camera move
    skipped: tuple[str, ...] = ()  # a line per stroke that could not be followed, and why

    @property
    def empty(self) -> bool:
        return not self.strokes and self.camera is None


def asked_shot(request: dict) -> Shot:
    """The shot a take's request was made from (its own strokes and camera, not today's)."""
    snapshot = request.get("shot") if isinstance(request, dict) else None
    if not isinstance(snapshot, dict):
        raise InvalidRequest("This take does not record the shot it was made from.")
    try:
        return Shot.from_dict(snapshot, field="shot")
    except ProjectError as error:
        raise InvalidRequest(f"This take records a shot Kinema cannot read: {error}") from error


def analyse_take(frames: np.ndarray, request: dict) -> Obedience:
    """Ask versus got for a take: `frames` (T, H, W, 3) uint8 and the request that made them
    (`Take.request`, a `GenerationRequest.to_dict()`)."""
    frames = metrics._check_frames(frames)
    count, height, width = frames.shape[:3]
    shot = asked_shot(request)
    homs = homographies(shot.camera, count, width, height).astype(np.float64)
    moves = not np.allclose(homs, np.eye(3)[None], atol=1e-6)
    if not shot.strokes and not moves:
        return Obedience(
            count,
            width,
            height,
            (),
            None,
            "This take was asked for no strokes and no camera move: there is nothing to "
            "compare. Paint a stroke or move the camera, then generate.",
        )
    strokes, skipped = [], []
    for stroke in shot.strokes:
        try:
            strokes.append(_stroke(frames, stroke, homs))
        except KinemaError as error:
            skipped.append(f"{stroke.name or 'stroke'}: {error}")
    camera = _camera(frames, homs) if moves and count > 1 else None
    message = "" if strokes or camera else " ".join(skipped) or "Nothing to compare."
    return Obedience(count, width, height, tuple(strokes), camera, message, tuple(skipped))


def _stroke(frames: np.ndarray, stroke, homs: np.ndarray) -> StrokeObedience:
    count, height, width = frames.shape[:3]
    size = np.array([width, height], np.float64)
    mask = cv2.resize(
        np.asarray(stroke.mask, np.float32), (width, height), interpolation=cv2.INTER_LINEAR
    )
    if not (mask >= 0.5).any():
        raise InvalidRequest("its region is too small to follow at this size.")
    if stroke.kind == "move" and stroke.trajectory:
        start = np.array([stroke.trajectory[0].x, stroke.trajectory[0].y], np.float64)
    else:
        ys, xs = np.nonzero(mask >= 0.5)
        start = (np.array([xs.mean(), ys.mean()]) + 0.5) / size
    offsets = trajectory_offsets(stroke, count).astype(np.float64)  # (T, 2) normalised
    keyframe_px = (start[None] + offsets) * size - 0.5  # (T, 2) pixel centres on the keyframe
    asked_px = np.array([_apply(homs[t], keyframe_px[t]) for t in range(count)])
    # the region as frame 0 shows it: the keyframe's region carried by the first homography
    region = cv2.warpPerspective(mask, homs[0], (width, height), flags=cv2.INTER_LINEAR) >= 0.5
    if not region.any():
        raise InvalidRequest("its region is out of the first frame.")
    result = metrics.brush_adherence(frames, region, asked_px)
    asked = (asked_px + 0.5) / size
    got = (np.asarray(result.tracked_path, np.float64) + 0.5) / size
    return StrokeObedience(
        stroke_id=stroke.id,
        name=stroke.name or ("static region" if stroke.kind == "static" else "stroke"),
        kind=stroke.kind,
        color=stroke.color,
        asked=_frozen(asked),
        got=_frozen(got),
        error_pct=_frozen(result.per_frame_error_pct),
        mean_error_pct=float(result.mean_error_pct),
        endpoint_error_pct=float(result.endpoint_error_pct),
    )


def _camera(frames: np.ndarray, homs: np.ndarray) -> CameraObedience:
    count, height, width = frames.shape[:3]
    result = metrics.camera_adherence(frames, homs)
    size = np.array([width, height], np.float64)
    corners = np.array(
        [[-0.5, -0.5], [width - 0.5, -0.5], [width - 0.5, height - 0.5], [-0.5, height - 0.5]]
    )
    centre = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
    points = np.vstack([corners, centre])  # (5, 2) px: frame 0's outline and centre
    base = np.linalg.inv(homs[0])
    asked = np.array([[_apply(h @ base, p) for p in points] for h in homs])  # (T, 5, 2)
    got = np.array(
        [[_apply(_similarity(m, width, height), p) for p in points] for m in result.estimated]
    )
    error = 100.0 * np.linalg.norm(asked[:, 4] - got[:, 4], axis=1) / width  # % of width
    asked, got = (asked + 0.5) / size, (got + 0.5) / size
    return CameraObedience(
        asked_quads=_frozen(asked[:, :4]),
        got_quads=_frozen(got[:, :4]),
        asked_centre=_frozen(asked[:, 4]),
        got_centre=_frozen(got[:, 4]),
        direction_ok=bool(result.direction_ok),
        direction_cosine=float(result.direction_cosine),
        magnitude_ratio=float(result.magnitude_ratio),
        error_pct=_frozen(error),
    )


def _similarity(motion: np.ndarray, width: int, height: int) -> np.ndarray:
    """(3, 3) pixels -> pixels for `[tx, ty, rot_deg, log_scale]` as
    `metrics.decompose_homography` reads them: scale and turn about the centre, then shift."""
    tx, ty, rot, log_scale = (float(v) for v in motion)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    scale, angle = math.exp(log_scale), math.radians(rot)
    a, b = scale * math.cos(angle), scale * math.sin(angle)
    return np.array(
        [
            [a, -b, cx + tx - a * cx + b * cy],
            [b, a, cy + ty - b * cx - a * cy],
            [0.0, 0.0, 1.0],
        ]
    )


def _apply(h: np.ndarray, point: np.ndarray) -> np.ndarray:
    x, y, w = h @ np.array([point[0], point[1], 1.0])
    return np.array([x / w, y / w])


def _frozen(array: np.ndarray) -> np.ndarray:
    out = np.array(array, np.float32)
    out.setflags(write=False)
    return out
