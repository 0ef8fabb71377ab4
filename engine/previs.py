"""Previs: the instant guide video, made with OpenCV and no model.

The keyframe is cut into layers by the compiled strokes, one per brushed region. Each frame
opens the holes the moving regions leave (filled once per clip from the surrounding
background), pastes the layers back moved along their trajectories in paint order, then moves
the whole picture by the camera homography. A static region is pasted back where it was, so
the camera carries it with the rest of the scene: still in the scene, not on the screen. Everything that does not change over the clip
(the fill, the layers, each region's offsets) is worked out once, so a frame costs a few patch
blends and one perspective warp: a 48-frame 512x512 clip takes well under a second.

Both entry points are pure functions of their inputs; the studio calls them while the user
drags, and real models denoise from what they return.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import InvalidRequest
from .motion import Fields, composite_over, translate_patch

#: the hole is grown by this many pixels before filling, so no bilinear fringe of the region stays
_HOLE_GROW = 3
#: the fill is computed at 1/_FILL_SCALE of the frame (or smaller, see _FILL_MAX_SIDE)...
_FILL_SCALE = 4
#: ...with its long side at most this many pixels, so big frames fill as fast as small ones
_FILL_MAX_SIDE = 320
#: offsets below this (pixels) count as standing still
_STILL = 1e-3
#: a hole is fully open once its region has moved this many pixels
_OPEN_PX = 1.0
#: alpha below this (less than one 8-bit level) is not part of a region's hole
_ALPHA_EPS = 1.0 / 255.0
_KERNEL = np.ones((3, 3), np.uint8)


@dataclass(frozen=True)
class _Layer:
    """One brushed region lifted from the keyframe: RGB premultiplied by alpha, then alpha."""

    rgba: np.ndarray  # (h, w, 4) float32
    x: int  # top-left corner in the keyframe
    y: int
    offsets: np.ndarray  # (T, 2) float32 pixel offsets from the keyframe position

    @property
    def moves(self) -> bool:
        return bool(np.abs(self.offsets).max(initial=0.0) > _STILL)


@dataclass(frozen=True)
class _Hole:
    """The place a moving region leaves: the fill, and how much of it shows at each frame.

    The hole opens as the region moves off (fully after `_OPEN_PX` pixels), so a frame where
    the region sits at home is the keyframe itself, halo-free.
    """

    fill: np.ndarray  # (h, w, 3) float32, the background guessed behind the region
    weight: np.ndarray  # (h, w, 1) float32, 1 over the grown region, feathered outside
    x: int
    y: int
    opening: np.ndarray  # (T,) float32 in 0..1

    def open_in(self, frame: np.ndarray, t: int) -> None:
        opening = float(self.opening[t])
        if opening <= 0.0:
            return
        h, w = self.weight.shape[:2]
        roi = frame[self.y : self.y + h, self.x : self.x + w]
        mixed = roi + (self.fill - roi) * (self.weight * opening)
        roi[...] = np.clip(np.rint(mixed), 0, 255)


def render_previs(
    keyframe: np.ndarray, homographies: np.ndarray, fields: Fields | None = None
) -> Iterator[np.ndarray]:
    """Yield the previs frame by frame: (H, W, 3) uint8 RGB, one per homography.

    keyframe:     (H, W, 3) uint8, the shot's first frame
    homographies: (T, 3, 3), keyframe pixels -> frame t pixels (the camera)
    fields:       the compiled strokes at (H, W) and T frames, or None for camera only

    Inputs are checked and the per-clip work is done before the first frame is asked for.
    """
    keyframe, homographies = _check_inputs(keyframe, homographies, fields)
    holes, layers = _plan(keyframe, fields)
    return _frames(keyframe, holes, layers, homographies)


def previs_video(
    keyframe: np.ndarray, homographies: np.ndarray, fields: Fields | None = None
) -> np.ndarray:
    """The whole previs clip as (T, H, W, 3) uint8; see `render_previs`."""
    frames = render_previs(keyframe, homographies, fields)
    height, width = keyframe.shape[:2]
    video = np.empty((len(homographies), height, width, 3), np.uint8)
    for t, frame in enumerate(frames):
        video[t] = frame
    return video


def _frames(
    keyframe: np.ndarray, holes: list[_Hole], layers: list[_Layer], homographies: np.ndarray
) -> Iterator[np.ndarray]:
    """Per frame: open the holes, paste the layers in paint order, move the camera."""
    height, width = keyframe.shape[:2]
    for t, homography in enumerate(homographies):
        frame = keyframe.copy()
        for hole in holes:
            hole.open_in(frame, t)
        for layer in layers:
            dx, dy = layer.offsets[t]
            patch, px, py = translate_patch(layer.rgba, layer.x + float(dx), layer.y + float(dy))
            composite_over(frame, patch[..., :3], patch[..., 3], px, py)
        if not _is_identity(homography):
            frame = cv2.warpPerspective(
                frame,
                homography,
                (width, height),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REFLECT_101,
            )
        yield frame


def _plan(keyframe: np.ndarray, fields: Fields | None) -> tuple[list[_Hole], list[_Layer]]:
    """The once-per-clip work: the holes moving regions leave, and every region's layer.

    Layers stay in paint order; static ones are pasted too, so a static region painted over a
    moving one keeps hiding it. With nothing moving there is nothing to do per frame.
    """
    if fields is None:
        return [], []
    layers = _layers(keyframe, fields)
    moving = [layer for layer in layers if layer.moves]
    if not moving:
        return [], []
    height, width = keyframe.shape[:2]
    regions = []
    for layer in moving:
        h, w = layer.rgba.shape[:2]
        region = np.zeros((height, width), np.uint8)
        region[layer.y : layer.y + h, layer.x : layer.x + w] = layer.rgba[..., 3] > _ALPHA_EPS
        regions.append(cv2.dilate(region, _KERNEL, iterations=_HOLE_GROW))
    fill = _fill(keyframe, np.bitwise_or.reduce(regions))
    holes = []
    for layer, region in zip(moving, regions, strict=True):
        weight = cv2.GaussianBlur(region.astype(np.float32), (5, 5), 0)  # feathered edge
        x, y, w, h = cv2.boundingRect((weight > 0).astype(np.uint8))
        moved = np.linalg.norm(layer.offsets, axis=1)  # (T,)
        holes.append(
            _Hole(
                fill=fill[y : y + h, x : x + w],
                weight=weight[y : y + h, x : x + w, None],
                x=x,
                y=y,
                opening=np.clip(moved / _OPEN_PX, 0.0, 1.0).astype(np.float32),
            )
        )
    return holes, layers


def _layers(keyframe: np.ndarray, fields: Fields) -> list[_Layer]:
    """Lift every stroke's region (moving or static) out of the keyframe, in paint order.

    A region's soft alpha is the t=0 move mask (or the static mask) on the pixels it owns; it
    moves rigidly, so its offsets are the flow at its innermost pixel.
    """
    region_ids = fields.region_ids
    first = fields.move_mask(0)
    alpha_all = np.minimum(first + fields.static_mask, 1.0)  # (H, W)
    if not (region_ids >= 0).any() and (first > 0).any():
        region_ids = _regions_without_ids(first)
    lifted, cores = [], []
    for region in np.unique(region_ids[region_ids >= 0]):
        owned = (region_ids == region) & (alpha_all > 0)
        x, y, w, h = cv2.boundingRect(owned.astype(np.uint8))
        if w == 0 or h == 0:
            continue
        inside = owned[y : y + h, x : x + w]
        alpha = np.where(inside, alpha_all[y : y + h, x : x + w], 0.0).astype(np.float32)
        core_y, core_x = _innermost(inside)
        rgb = keyframe[y : y + h, x : x + w].astype(np.float32) * alpha[..., None]
        lifted.append((np.concatenate([rgb, alpha[..., None]], axis=-1), x, y))  # (h, w, 4)
        cores.append((y + core_y, x + core_x))
    if not lifted:
        return []
    ys, xs = np.array(cores).T
    tracks = fields.flow_at(ys, xs).astype(np.float32)  # (T, regions, 2)
    return [
        _Layer(rgba, x, y, np.ascontiguousarray(tracks[:, k]))
        for k, (rgba, x, y) in enumerate(lifted)
    ]


def _regions_without_ids(first_mask: np.ndarray) -> np.ndarray:
    """Fallback when the fields carry no owners: each connected moving area is one region."""
    _, labels = cv2.connectedComponents((first_mask > 0).astype(np.uint8))
    return (labels - 1).astype(np.int16)


def _innermost(inside: np.ndarray) -> tuple[int, int]:
    """(y, x) of the pixel farthest from the region's edge: its flow is untouched by resizing."""
    padded = np.pad(inside.astype(np.uint8), 1)
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, 3)
    y, x = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return int(y) - 1, int(x) - 1


def _fill(keyframe: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32: the background guessed inside `hole` (H, W) uint8 0/1.

    Inpainted on a small copy, which is fast and whose blur suits a guide, then scaled back
    up. Valid inside the hole only; any small pixel that saw the hole is refilled, so no
    colour of the lifted regions leaks into the fill.
    """
    height, width = keyframe.shape[:2]
    factor = max(_FILL_SCALE, math.ceil(max(height, width) / _FILL_MAX_SIDE))
    small_size = (max(1, round(width / factor)), max(1, round(height / factor)))
    small = cv2.resize(keyframe, small_size, interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole.astype(np.float32), small_size, interpolation=cv2.INTER_AREA) > 0
    small_hole = cv2.dilate(small_hole.astype(np.uint8), _KERNEL)
    filled = cv2.inpaint(small, small_hole, 3, cv2.INPAINT_TELEA)
    return cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)


def _is_identity(homography: np.ndarray) -> bool:
    scale = homography[2, 2] if homography[2, 2] != 0 else 1.0
    return bool(np.allclose(homography / scale, np.eye(3), rtol=0.0, atol=1e-7))


def _check_inputs(
    keyframe: np.ndarray, homographies: np.ndarray, fields: Fields | None
) -> tuple[np.ndarray, np.ndarray]:
    keyframe = np.asarray(keyframe)
    if keyframe.dtype != np.uint8 or keyframe.ndim != 3 or keyframe.shape[2] != 3:
        raise InvalidRequest(
            f"Previs needs an RGB keyframe (H, W, 3) uint8 (got {keyframe.shape} {keyframe.dtype})."
        )
    homographies = np.asarray(homographies, np.float64)
    if homographies.ndim != 3 or homographies.shape[1:] != (3, 3) or len(homographies) < 1:
        raise InvalidRequest(
            f"Previs needs one 3x3 camera homography per frame (got shape {homographies.shape})."
        )
    if not np.isfinite(homographies).all():
        raise InvalidRequest("The camera path gives a homography that is not finite.")
    if fields is not None:
        height, width = keyframe.shape[:2]
        if (fields.height, fields.width) != (height, width):
            raise InvalidRequest(
                f"The motion strokes were compiled at {fields.width}x{fields.height} but the "
                f"keyframe is {width}x{height}."
            )
        if fields.frames != len(homographies):
            raise InvalidRequest(
                f"The motion strokes cover {fields.frames} frames but the camera path "
                f"{len(homographies)}."
            )
    return np.ascontiguousarray(keyframe), homographies
