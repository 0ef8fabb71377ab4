"""Motion brush: painted regions with trajectories, compiled to per-frame fields.

A stroke is what a user paints on the keyframe: a soft region (a raster mask over the whole
frame, at any resolution) and a path its anchor follows, or a static region that must stay
put. Everything in a stroke is normalised to the frame (0..1), so one shot compiles to the
output size for previs and to the latent size for a model.

The motion is a rigid translation of the region, offset(t) = path(t) - path(0): the path is
a Catmull-Rom curve through the points, travelled at constant speed between the points that
carry a frame time, and scaled by the stroke's strength. `compile_regions` turns a shot's
strokes into what backends condition on: each stroke's region after paint order (where
strokes overlap, the one painted later wins, as layers do in a paint program) and its
offsets, from which a frame's displacement field and masks are made when it is read
(`StrokeRegions`); `compile_strokes` builds every frame at once (`StrokeFields`).
"""

from __future__ import annotations

import base64
import binascii
import math
import numbers
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

import cv2
import numpy as np

from . import limits
from .errors import InvalidRequest, ProjectError
from .fields import count as count_items
from .fields import number, show

STROKE_KINDS = ("move", "static")
DEFAULT_COLOR = "#ff5a36"

#: samples per curve segment when measuring arc length; far finer than a pixel for drawn paths
_SAMPLES_PER_SEGMENT = 64
#: Catmull-Rom knot exponent: 0.5 (centripetal) makes no cusps or loops at sharp turns
_CATMULL_ALPHA = 0.5
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_RE = re.compile(r"#[0-9a-fA-F]{6}")


def _new_id() -> str:
    return uuid.uuid4().hex[:8]


# ---------------------------------------------------------------------------------------------
# Document: points and strokes
# ---------------------------------------------------------------------------------------------


@dataclass
class TrajectoryPoint:
    """One point of a stroke's path, normalised to the frame (x right, y down, both 0..1).

    `frame` pins when the region's anchor reaches this point; None leaves the timing to the
    arc length between the timed points around it.
    """

    x: float
    y: float
    frame: float | None = None

    def to_dict(self) -> dict:
        frame = None if self.frame is None else float(self.frame)
        return {"x": float(self.x), "y": float(self.y), "frame": frame}

    @classmethod
    def from_dict(cls, d: object, field: str = "trajectory[0]") -> TrajectoryPoint:
        data = _require_dict(d, field)
        x = _number(_require(data, "x", field), f"{field}.x")
        y = _number(_require(data, "y", field), f"{field}.y")
        frame = data.get("frame")
        point = cls(x, y, None if frame is None else _number(frame, f"{field}.frame"))
        point.validate(field)
        return point

    def validate(self, field: str = "point") -> None:
        """Raise `ProjectError` naming `field.x`/`.y`/`.frame` for a point off the frame or a bad time."""
        for name in ("x", "y"):
            value = _number(getattr(self, name), f"{field}.{name}")
            if not 0.0 <= value <= 1.0:
                raise ProjectError(
                    f"{field}.{name} must lie on the frame, between 0 and 1 (got {value:g}).",
                    f"{field}.{name}",
                )
        if self.frame is not None:
            frame = _number(self.frame, f"{field}.frame")
            if frame < 0:
                raise ProjectError(
                    f"{field}.frame must not be negative (got {frame:g}).", f"{field}.frame"
                )


@dataclass
class MotionStroke:
    """A painted region and what it does: follow `trajectory` ("move") or stay still ("static").

    `mask` is float32 (h, w) in [0, 1] covering the whole frame at any resolution; soft edges
    are fine. A bool mask is read as 0/1 and a uint8 mask as 0..255. The first trajectory
    point is the anchor in the keyframe; with fewer than two points the region does not move.
    `strength` (0..1) scales the displacement. Invisible strokes still act: visibility is a
    display matter.
    """

    mask: np.ndarray
    kind: str = "move"
    trajectory: list[TrajectoryPoint] = field(default_factory=list)
    strength: float = 1.0
    name: str = ""
    color: str = DEFAULT_COLOR
    visible: bool = True
    id: str = field(default_factory=_new_id)

    def __post_init__(self) -> None:
        self.mask = _as_mask(self.mask)

    def to_dict(self) -> dict:
        """A JSON-able dict; the mask travels as an 8-bit grayscale PNG in base64."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "color": self.color,
            "visible": bool(self.visible),
            "strength": float(self.strength),
            "trajectory": [point.to_dict() for point in self.trajectory],
            "mask_png": _encode_mask(self.mask),
        }

    @classmethod
    def from_dict(cls, d: object, field: str = "strokes[0]") -> MotionStroke:
        """Read and validate a stroke; a `ProjectError` names the offending key under `field`."""
        data = _require_dict(d, field)
        points = _require(data, "trajectory", field)
        if not isinstance(points, list):
            raise ProjectError(
                f"{field}.trajectory must be a list of points.", f"{field}.trajectory"
            )
        count_items(points, f"{field}.trajectory", limits.MAX_POINTS, "points")
        mask = _decode_mask(_require(data, "mask_png", field), f"{field}.mask_png")
        stroke = cls(
            mask=mask,
            kind=_require(data, "kind", field),
            trajectory=[
                TrajectoryPoint.from_dict(p, f"{field}.trajectory[{j}]")
                for j, p in enumerate(points)
            ],
            strength=data.get("strength", 1.0),
            name=data.get("name", ""),
            color=data.get("color", DEFAULT_COLOR),
            visible=data.get("visible", True),
            id=data.get("id") or _new_id(),
        )
        stroke.validate(field)
        stroke.strength = float(stroke.strength)
        return stroke

    def validate(self, field: str = "stroke") -> None:
        """Raise `ProjectError` naming the first bad field (e.g. ``strokes[1].trajectory[3].x``)."""
        if self.kind not in STROKE_KINDS:
            raise ProjectError(
                f"{field}.kind must be one of {', '.join(STROKE_KINDS)} (got {show(self.kind)}).",
                f"{field}.kind",
            )
        strength = _number(self.strength, f"{field}.strength")
        if not 0.0 <= strength <= 1.0:
            raise ProjectError(
                f"{field}.strength must be between 0 and 1 (got {strength:g}).", f"{field}.strength"
            )
        mask = self.mask
        if not isinstance(mask, np.ndarray) or mask.ndim != 2 or mask.size == 0:
            shape = getattr(mask, "shape", type(mask).__name__)
            raise ProjectError(
                f"{field}.mask must be a 2D image covering the frame (got shape {shape}).",
                f"{field}.mask",
            )
        if not np.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
            raise ProjectError(
                f"{field}.mask values must be finite and within 0..1.", f"{field}.mask"
            )
        previous = None
        for j, point in enumerate(self.trajectory):
            where = f"{field}.trajectory[{j}]"
            if not isinstance(point, TrajectoryPoint):
                raise ProjectError(f"{where} must be a trajectory point.", where)
            point.validate(where)
            if point.frame is not None:
                if previous is not None and point.frame <= previous:
                    raise ProjectError(
                        f"{where}.frame must come after the previous timed point, frame "
                        f"{previous:g} (got {point.frame:g}).",
                        f"{where}.frame",
                    )
                previous = float(point.frame)
            elif j == 0:
                previous = 0.0  # an untimed anchor sits at frame 0
        for key, kind in (("name", str), ("color", str), ("id", str), ("visible", bool)):
            if not isinstance(getattr(self, key), kind):
                raise ProjectError(
                    f"{field}.{key} must be a {kind.__name__} (got {show(getattr(self, key))}).",
                    f"{field}.{key}",
                )
        if not _COLOR_RE.fullmatch(self.color):
            raise ProjectError(
                f"{field}.color must look like #rrggbb (got {self.color!r}).", f"{field}.color"
            )
        if not self.id:
            raise ProjectError(f"{field}.id must not be empty.", f"{field}.id")


# ---------------------------------------------------------------------------------------------
# Trajectories
# ---------------------------------------------------------------------------------------------


def trajectory_offsets(stroke: MotionStroke, frames: int) -> np.ndarray:
    """(T, 2) float32: the region's offset from its anchor at frames 0..T-1, normalised units.

    Untimed points share the shot by arc length (constant speed); a point with a frame time is
    reached at that frame (times past the shot end are clamped to the last frame). offset[0]
    is 0. Static strokes, strokes with fewer than two points and strength 0 give zeros.
    """
    _check_frames(frames)
    stroke.validate()
    return _offsets(stroke, frames)


def _offsets(stroke: MotionStroke, frames: int) -> np.ndarray:
    offsets = np.zeros((frames, 2), np.float32)
    points = stroke.trajectory
    if stroke.kind != "move" or len(points) < 2 or stroke.strength == 0 or frames < 2:
        return offsets
    anchors = np.array([[p.x, p.y] for p in points], np.float64)  # (n, 2)
    curve = _catmull_rom(anchors)  # (S, 2), passes through every point
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(curve, axis=0), axis=1))])
    point_arc = arc[::_SAMPLES_PER_SEGMENT]  # (n,) arc length at each control point
    travelled = _arc_length_per_frame(points, point_arc, frames)  # (T,)
    position = np.stack([np.interp(travelled, arc, curve[:, k]) for k in (0, 1)], -1)  # (T, 2)
    offsets[:] = (position - anchors[0]) * float(stroke.strength)
    offsets[0] = 0.0
    return offsets


def _arc_length_per_frame(
    points: list[TrajectoryPoint], point_arc: np.ndarray, frames: int
) -> np.ndarray:
    """How far along the curve the anchor is at each frame: piecewise linear between timed knots.

    Knots: the anchor at frame 0, every timed point (clamped to the last frame), and the last
    point at the last frame when it carries no time. Between knots the speed is constant, which
    spreads untimed points by arc length.
    """
    last = float(frames - 1)
    times, lengths = [0.0], [0.0]
    for point, length in zip(points, point_arc, strict=True):
        if point.frame is not None:
            times.append(min(float(point.frame), last))
            lengths.append(float(length))
    if points[-1].frame is None:
        times.append(last)
        lengths.append(float(point_arc[-1]))
    times_a, lengths_a = np.array(times), np.array(lengths)
    # several knots at one time (clamped past the end, or a timed anchor at 0): the latest wins
    keep = np.append(times_a[1:] != times_a[:-1], True)
    return np.interp(np.arange(frames, dtype=np.float64), times_a[keep], lengths_a[keep])


def _catmull_rom(points: np.ndarray, samples: int = _SAMPLES_PER_SEGMENT) -> np.ndarray:
    """Centripetal Catmull-Rom through `points` (n, 2) with pinned ends, as a dense polyline.

    Returns ((n - 1) * samples + 1, 2); control point i is sample i * samples. The ends are
    pinned by reflecting the neighbour point (the curve starts heading at the next point).
    """
    ends = (2 * points[:1] - points[1:2], 2 * points[-1:] - points[-2:-1])
    ext = np.concatenate([ends[0], points, ends[1]])  # (n + 2, 2)
    step = np.linalg.norm(np.diff(ext, axis=0), axis=1) ** _CATMULL_ALPHA
    knots = np.concatenate([[0.0], np.cumsum(np.maximum(step, 1e-6))])  # (n + 2,)

    p0, p1, p2, p3 = (ext[k : len(ext) - 3 + k, None, :] for k in range(4))  # (K, 1, 2) each
    t0, t1, t2, t3 = (knots[k : len(knots) - 3 + k, None, None] for k in range(4))  # (K, 1, 1)
    frac = np.linspace(0.0, 1.0, samples, endpoint=False)[None, :, None]  # (1, S, 1)
    u = t1 + (t2 - t1) * frac  # (K, S, 1)
    # Barry-Goldman pyramid: three linear blends, two quadratic, one cubic
    a1 = ((t1 - u) * p0 + (u - t0) * p1) / (t1 - t0)
    a2 = ((t2 - u) * p1 + (u - t1) * p2) / (t2 - t1)
    a3 = ((t3 - u) * p2 + (u - t2) * p3) / (t3 - t2)
    b1 = ((t2 - u) * a1 + (u - t0) * a2) / (t2 - t0)
    b2 = ((t3 - u) * a2 + (u - t1) * a3) / (t3 - t1)
    curve = ((t2 - u) * b1 + (u - t1) * b2) / (t2 - t1)  # (K, S, 2)
    return np.concatenate([curve.reshape(-1, 2), points[-1:]])


# ---------------------------------------------------------------------------------------------
# Compiled fields
# ---------------------------------------------------------------------------------------------
#
# Three forms answer the same questions (size, frames, `region_ids`, `static_mask`, and per
# frame `flow(t)` / `move_mask(t)`; `flows` / `move_masks` give the whole clip on request):
# `StrokeRegions` keeps each stroke's region once and its offsets per frame, so a 121-frame
# 720p shot holds a few megabytes; `ResampledFields` shows another form at another size and
# timing, a frame at a time; `StrokeFields` holds every frame as dense arrays.


class _PerFrame:
    """Whole-clip arrays and pixel tracks built from `flow(t)` / `move_mask(t)`."""

    frames: int
    height: int
    width: int

    def flow(self, t: int) -> np.ndarray:  # pragma: no cover - every form has its own
        raise NotImplementedError

    def move_mask(self, t: int) -> np.ndarray:  # pragma: no cover - every form has its own
        raise NotImplementedError

    @property
    def flows(self) -> np.ndarray:
        """(T, H, W, 2) float32, every frame's flow: megabytes per frame, prefer `flow(t)`."""
        out = np.empty((self.frames, self.height, self.width, 2), np.float32)
        for t in range(self.frames):
            out[t] = self.flow(t)
        return out

    @property
    def move_masks(self) -> np.ndarray:
        """(T, H, W) float32, every frame's move mask: prefer `move_mask(t)`."""
        out = np.empty((self.frames, self.height, self.width), np.float32)
        for t in range(self.frames):
            out[t] = self.move_mask(t)
        return out

    def flow_at(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """(T, n, 2) float32: the flow at pixels (ys[k], xs[k]) over the whole clip."""
        return np.stack([self.flow(t)[ys, xs] for t in range(self.frames)])

    def dense(self) -> StrokeFields:
        """Every frame as arrays (`StrokeFields`)."""
        return StrokeFields(self.flows, self.move_masks, self.static_mask, self.region_ids)


@dataclass(frozen=True)
class StrokeFields:
    """A shot's strokes compiled at one size (H, W) and length T, every frame held as arrays.

    flows:       (T, H, W, 2) float32, pixel displacement (dx, dy) of each keyframe pixel at
                 frame t; zero outside moving regions
    move_masks:  (T, H, W) float32, where the moving regions are at frame t (soft, 0..1)
    static_mask: (H, W) float32, the regions that must not move
    region_ids:  (H, W) int16, which stroke owns each keyframe pixel after paint order, -1 none
    """

    flows: np.ndarray
    move_masks: np.ndarray
    static_mask: np.ndarray
    region_ids: np.ndarray

    def __post_init__(self) -> None:
        t, h, w = self.move_masks.shape
        if self.flows.shape != (t, h, w, 2) or self.static_mask.shape != (h, w):
            raise ValueError("StrokeFields arrays disagree on frames or size.")
        if self.region_ids.shape != (h, w):
            raise ValueError("StrokeFields.region_ids must match the frame size.")

    @property
    def frames(self) -> int:
        return self.move_masks.shape[0]

    @property
    def height(self) -> int:
        return self.move_masks.shape[1]

    @property
    def width(self) -> int:
        return self.move_masks.shape[2]

    def flow(self, t: int) -> np.ndarray:
        return self.flows[t]

    def move_mask(self, t: int) -> np.ndarray:
        return self.move_masks[t]

    def flow_at(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        return self.flows[:, ys, xs]

    def dense(self) -> StrokeFields:
        return self


@dataclass(frozen=True, eq=False)
class StrokeRegion:
    """One stroke's share of the keyframe after paint order, cropped to where it lies.

    owned:   (h, w) bool at (x, y), the keyframe pixels the stroke owns
    alpha:   (ha, wa) float32 at (ax, ay), its coverage there (the box of coverage > 0)
    offsets: (T, 2) float32, the region's rigid displacement in pixels at each frame
    """

    index: int  # the stroke's place in paint order: its region id
    kind: str  # "move" | "static"
    owned: np.ndarray
    x: int
    y: int
    alpha: np.ndarray
    ax: int
    ay: int
    offsets: np.ndarray

    @property
    def writes_flow(self) -> bool:
        """Whether the region has a flow: a move stroke that gets anywhere."""
        return self.kind == "move" and bool(self.offsets.any())


@dataclass(frozen=True, eq=False)
class StrokeRegions(_PerFrame):
    """A shot's strokes compiled at (`width`, `height`) and `frames`, a frame made on demand.

    Each stroke keeps its region once (`StrokeRegion`, cropped) and one rigid offset per frame;
    `flow(t)` and `move_mask(t)` build frame t's arrays from them, exactly as the dense
    fields of `compile_strokes` hold them.
    """

    width: int
    height: int
    frames: int
    regions: tuple[StrokeRegion, ...]

    @cached_property
    def region_ids(self) -> np.ndarray:
        """(H, W) int16: which stroke owns each keyframe pixel after paint order, -1 none."""
        ids = np.full((self.height, self.width), -1, np.int16)
        for r in self.regions:
            h, w = r.owned.shape
            ids[r.y : r.y + h, r.x : r.x + w][r.owned] = r.index
        return ids

    @cached_property
    def static_mask(self) -> np.ndarray:
        """(H, W) float32: the static strokes' regions in the keyframe."""
        mask = np.zeros((self.height, self.width), np.float32)
        for r in self.regions:
            if r.kind == "static":
                h, w = r.alpha.shape
                mask[r.ay : r.ay + h, r.ax : r.ax + w] += r.alpha
        return mask

    def flow(self, t: int) -> np.ndarray:
        """(H, W, 2) float32: each keyframe pixel's displacement at frame t, 0 off the moves."""
        flow = np.zeros((self.height, self.width, 2), np.float32)
        for r in self.regions:
            if r.writes_flow:
                h, w = r.owned.shape
                np.copyto(
                    flow[r.y : r.y + h, r.x : r.x + w], r.offsets[t], where=r.owned[..., None]
                )
        return flow

    def move_mask(self, t: int) -> np.ndarray:
        """(H, W) float32: where the moving regions are at frame t, later strokes on top."""
        mask = np.zeros((self.height, self.width), np.float32)
        for r in self.regions:
            if r.kind == "move" and r.alpha.size:
                dx, dy = r.offsets[t]
                moved, px, py = translate_patch(r.alpha, r.ax + float(dx), r.ay + float(dy))
                composite_over(mask, moved, moved, px, py)
        return mask

    def flow_at(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """(T, n, 2) float32: a pixel's flow is its owner's offsets, so no frame is built."""
        out = np.zeros((self.frames, len(ys), 2), np.float32)
        by_index = {r.index: r for r in self.regions}
        for k, index in enumerate(self.region_ids[ys, xs]):
            region = by_index.get(int(index))
            if region is not None and region.writes_flow:
                out[:, k] = region.offsets
        return out


@dataclass(frozen=True, eq=False)
class ResampledFields(_PerFrame):
    """Another form of a shot's strokes at (`width`, `height`), a frame made on demand.

    Frame t is frame `t_index[t]` of `source` resized with `interpolation` (flows scaled to
    the new pixels), the way whole-clip arrays would be resized frame by frame; the region
    owners are resized to the nearest pixel. Nothing is kept but the source.
    """

    source: StrokeRegions | ResampledFields | StrokeFields
    width: int
    height: int
    t_index: np.ndarray  # (T,) int, a source frame per frame
    interpolation: int  # an OpenCV interpolation flag

    @property
    def frames(self) -> int:
        return len(self.t_index)

    @cached_property
    def region_ids(self) -> np.ndarray:
        return cv2.resize(
            self.source.region_ids, (self.width, self.height), interpolation=cv2.INTER_NEAREST
        )

    @cached_property
    def static_mask(self) -> np.ndarray:
        return self._resize(self.source.static_mask).astype(np.float32)

    def flow(self, t: int) -> np.ndarray:
        scale = np.float32([self.width / self.source.width, self.height / self.source.height])
        return self._resize(self.source.flow(int(self.t_index[t]))) * scale

    def move_mask(self, t: int) -> np.ndarray:
        return self._resize(self.source.move_mask(int(self.t_index[t])))

    def _resize(self, plane: np.ndarray) -> np.ndarray:
        return cv2.resize(plane, (self.width, self.height), interpolation=self.interpolation)


#: any compiled form of a shot's strokes
Fields = StrokeFields | StrokeRegions | ResampledFields


def compile_regions(
    strokes: list[MotionStroke] | tuple[MotionStroke, ...], width: int, height: int, frames: int
) -> StrokeRegions:
    """Compile strokes, in paint order, to `StrokeRegions` at `width` x `height` x `frames`.

    Masks are resized with bilinear interpolation. Each keyframe pixel belongs to the stroke
    whose layer shows most there (later strokes lie on top); the region moves rigidly by its
    stroke's offsets, converted to pixels of this size. Static strokes have zero displacement
    and make up `static_mask`. Strokes are validated first (``strokes[i]...`` fields).
    """
    _check_frames(frames)
    if int(width) < 1 or int(height) < 1:
        raise InvalidRequest(f"The frame size must be at least 1x1 (got {width}x{height}).")
    for i, stroke in enumerate(strokes):
        stroke.validate(f"strokes[{i}]")
    masks = [_resize_mask(stroke.mask, width, height) for stroke in strokes]
    owner, coverage = _paint_order(masks, width, height)
    del masks
    to_pixels = np.array([width, height], np.float32)
    regions = []
    for i, stroke in enumerate(strokes):
        owned = owner == i
        x, y, w, h = cv2.boundingRect(owned.astype(np.uint8))
        if w == 0 or h == 0:
            continue
        inside = owned[y : y + h, x : x + w]
        alpha = np.where(inside, coverage[y : y + h, x : x + w], 0.0).astype(np.float32)
        bx, by, bw, bh = cv2.boundingRect((alpha > 0).astype(np.uint8))
        offsets = np.zeros((frames, 2), np.float32)
        if stroke.kind == "move":
            offsets = _offsets(stroke, frames) * to_pixels  # (T, 2) pixels
        regions.append(
            StrokeRegion(
                index=i,
                kind=stroke.kind,
                owned=inside.copy(),
                x=x,
                y=y,
                alpha=alpha[by : by + bh, bx : bx + bw].copy(),
                ax=x + bx,
                ay=y + by,
                offsets=offsets,
            )
        )
    return StrokeRegions(int(width), int(height), int(frames), tuple(regions))


def compile_strokes(
    strokes: list[MotionStroke] | tuple[MotionStroke, ...], width: int, height: int, frames: int
) -> StrokeFields:
    """`compile_regions` with every frame built: dense `StrokeFields` for short or small clips.

    A shot's controls keep the regions (`compile_regions`) and build frames as they are read;
    this is for code that wants whole arrays, e.g. a single frame (`frames=1`) or latent size.
    """
    return compile_regions(strokes, width, height, frames).dense()


def _paint_order(masks: list[np.ndarray], width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Who owns each pixel when strokes stack like layers, the later ones on top.

    Stroke i shows with weight m_i * prod_{j>i} (1 - m_j) ('over' compositing). A pixel goes to
    the stroke that shows most there (ties to the later one), so a faint soft edge painted on
    top does not steal an earlier stroke's solid core. Returns the owner (H, W) int16 (-1 for
    unpainted pixels) and the coverage 1 - prod(1 - m_i) (H, W) float32.
    """
    owner = np.full((height, width), -1, np.int16)
    best = np.zeros((height, width), np.float32)
    uncovered = np.ones((height, width), np.float32)
    for i in reversed(range(len(masks))):
        shows = masks[i] * uncovered
        wins = shows > best  # strict: on a tie the later stroke, visited first, keeps the pixel
        owner[wins] = i
        best[wins] = shows[wins]
        uncovered *= 1.0 - masks[i]
    return owner, 1.0 - uncovered


# ---------------------------------------------------------------------------------------------
# Patch helpers, shared with previs
# ---------------------------------------------------------------------------------------------


def translate_patch(patch: np.ndarray, x: float, y: float) -> tuple[np.ndarray, int, int]:
    """Place `patch` (h, w[, C]) float32 with its top-left corner at sub-pixel (x, y).

    Returns the resampled patch (bilinear, one pixel larger when the shift is fractional) and
    the integer top-left corner to paste it at. Only the patch is warped, never a whole frame.
    """
    ix, iy = math.floor(x), math.floor(y)
    fx, fy = x - ix, y - iy
    if fx == 0.0 and fy == 0.0:
        return patch, ix, iy
    h, w = patch.shape[:2]
    shift = np.array([[1.0, 0.0, fx], [0.0, 1.0, fy]], np.float64)
    moved = cv2.warpAffine(
        patch,
        shift,
        (w + 1, h + 1),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return moved, ix, iy


def composite_over(dst: np.ndarray, premul: np.ndarray, alpha: np.ndarray, x: int, y: int) -> None:
    """In place: dst = premul + dst * (1 - alpha) on the patch at (x, y), clipped to dst.

    `dst` is (H, W) or (H, W, C), float32 or uint8; `premul` has dst's channels, premultiplied
    by `alpha` (h, w). uint8 results are rounded.
    """
    height, width = dst.shape[:2]
    h, w = alpha.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    if x0 >= x1 or y0 >= y1:
        return
    src = (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))
    a, p = alpha[src], premul[src]
    roi = dst[y0:y1, x0:x1]
    if roi.ndim == 3:
        a = a[..., None]
    out = p + roi * (1.0 - a)
    if dst.dtype == np.uint8:
        out = np.clip(np.rint(out), 0, 255)
    roi[...] = out


# ---------------------------------------------------------------------------------------------
# Small helpers: masks, PNG, validation
# ---------------------------------------------------------------------------------------------


def _as_mask(mask: object) -> np.ndarray:
    array = np.asarray(mask)
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    try:
        return array.astype(np.float32, copy=False)
    except (TypeError, ValueError):
        return array  # not numeric: `validate` names it


def _resize_mask(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    if mask.shape == (height, width):
        return mask.astype(np.float32, copy=False)
    resized = cv2.resize(
        np.ascontiguousarray(mask, np.float32), (width, height), interpolation=cv2.INTER_LINEAR
    )
    return np.clip(resized, 0.0, 1.0)


def _encode_mask(mask: np.ndarray) -> str:
    levels = np.rint(np.clip(np.nan_to_num(mask), 0.0, 1.0) * 255.0).astype(np.uint8)
    ok, png = cv2.imencode(".png", levels)
    if not ok:  # pragma: no cover - a 2D uint8 image always encodes
        raise ProjectError("The stroke mask could not be encoded as PNG.", "mask_png")
    return base64.b64encode(png.tobytes()).decode("ascii")


def declared_mask_size(text: object) -> tuple[int, int] | None:
    """(width, height) from a base64 mask PNG's header, decoding 33 bytes, not the image;
    None when the text does not start like a PNG (the full decode then says why)."""
    if not isinstance(text, str) or len(text) < 44:
        return None
    try:
        head = base64.b64decode(text[:44], validate=True)
    except (binascii.Error, ValueError):
        return None
    if not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def check_mask_budget(strokes: Iterable[tuple[str, object]], budget: int) -> None:
    """Refuse, before any mask is decoded, raw strokes whose masks together declare more
    than `budget` pixels (each decoded mask costs 4 bytes a pixel)."""
    total = 0
    for where, raw in strokes:
        size = declared_mask_size(raw.get("mask_png")) if isinstance(raw, dict) else None
        if size is None:
            continue
        total += size[0] * size[1]
        if total > budget:
            raise ProjectError(
                f"the stroke masks up to here hold {total / 1e6:.0f} million pixels; Kinema "
                f"reads at most {budget / 1e6:.0f} million in one project",
                f"{where}.mask_png",
            )


def _decode_mask(text: object, field: str) -> np.ndarray:
    if not isinstance(text, str):
        raise ProjectError(f"{field} must be base64 PNG text.", field)
    size = declared_mask_size(text)
    if size is not None and (max(size) > limits.MAX_MASK_SIDE or 0 in size):
        raise ProjectError(
            f"{field} is a {size[0]}x{size[1]} image; masks may be at most "
            f"{limits.MAX_MASK_SIDE} pixels on a side.",
            field,
        )
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProjectError(f"{field} is not valid base64 text.", field) from None
    if not data.startswith(_PNG_SIGNATURE) or size is None:
        raise ProjectError(f"{field} does not hold a PNG image.", field)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ProjectError(f"{field} holds a damaged PNG image.", field)
    if image.ndim != 2:
        raise ProjectError(
            f"{field} must be a grayscale PNG (got {image.shape[2]} channels).", field
        )
    if image.dtype == np.uint16:
        return image.astype(np.float32) / 65535.0
    return image.astype(np.float32) / 255.0


def _check_frames(frames: int) -> None:
    if int(frames) < 1:
        raise InvalidRequest(f"A shot needs at least one frame (got {frames}).")


def _require_dict(d: object, field: str) -> dict:
    if not isinstance(d, dict):
        raise ProjectError(f"{field} must be an object (got {type(d).__name__}).", field)
    return d


def _require(d: dict, key: str, field: str) -> object:
    if key not in d:
        raise ProjectError(f"{field}.{key} is missing.", f"{field}.{key}")
    return d[key]


def _number(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ProjectError(f"{field} must be a number (got {show(value)}).", field)
    return number(value, field)
