"""Quality metrics for a clip: flicker, warp error, brush, camera and static adherence, PSNR, SSIM.

Each metric is a plain function on uint8 frames `(T, H, W, 3)` RGB that returns a small frozen
dataclass: the scalar a take stores, plus the per-frame values the studio plots. Pair metrics
(flicker, warp error) have `T - 1` values, entry `i` comparing frame `i + 1` with frame `i`.

Motion comes from OpenCV's DIS optical flow (medium preset) on BT.601 luma. Its patches are
mean-normalised, so a change of brightness does not read as motion: brightness pumping stays
in the residual that the flicker and warp metrics measure. Intensities are in 8-bit levels
(0..255), positions in pixels (x right, y down), adherence errors in percent of the frame width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import InvalidRequest

#: flow below this many pixels (after camera compensation) counts as still, for `flicker`
STILL_FLOW_PX = 0.5
#: a global motion smaller than this at every corner is treated as none (no resampling)
_SNAP_PX = 0.1
#: PSNR of identical frames, instead of infinity
PSNR_CAP_DB = 100.0
#: a camera move shorter than this (in frame widths, see `_motion_vector`) counts as locked off
STATIC_MOVE = 0.01


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class FlickerResult:
    """Frame-to-frame change where the picture should be still (8-bit levels)."""

    mean: float  # mean absolute luma change over the still pixels of all pairs
    per_frame: np.ndarray  # (T-1,) float32 mean absolute luma change per pair, NaN if none still
    chroma_mean: float  # the same for colour (mean of |dCb| and |dCr|), catches hue pumping
    chroma_per_frame: np.ndarray  # (T-1,) float32
    still_fraction: np.ndarray  # (T-1,) float32 share of the frame that was judged


@dataclass(frozen=True, eq=False)
class WarpErrorResult:
    """Each frame against the previous one carried along the flow (8-bit levels)."""

    mean: float  # mean absolute RGB error over the non-occluded pixels of all pairs
    per_frame: np.ndarray  # (T-1,) float32 per pair, NaN if every pixel was occluded
    valid_fraction: np.ndarray  # (T-1,) float32 share of pixels that passed the occlusion check


@dataclass(frozen=True, eq=False)
class AdherenceResult:
    """Where a brushed region went against where it was asked to go (percent of frame width)."""

    mean_error_pct: float  # mean over frames 1..T-1 of the displacement error
    endpoint_error_pct: float  # error at the last frame
    tracked_path: np.ndarray  # (T, 2) float32 px: measured displacement added to target_path[0]
    per_frame_error_pct: np.ndarray  # (T,) float32, 0 at frame 0 by construction


@dataclass(frozen=True, eq=False)
class CameraAdherenceResult:
    """The camera move seen in the frames against the requested one.

    Motion rows are `[tx, ty, rot_deg, log_scale]` of frame 0 -> frame t (see
    `decompose_homography`). Direction and magnitude compare the whole path, with each
    component expressed as image motion in frame widths (`_motion_vector`).
    """

    direction_ok: bool  # direction_cosine > 0.5 (for a locked-off request: the camera held)
    direction_cosine: float  # -1..1
    magnitude_ratio: float  # |estimated| / |requested|; 1 is the requested amount of motion
    estimated: np.ndarray  # (T, 4) float32
    requested: np.ndarray  # (T, 4) float32


@dataclass(frozen=True, eq=False)
class StaticDriftResult:
    """How far a static region's content strays from frame 0 carried by the camera (8-bit levels)."""

    mean: float  # mean absolute RGB difference over the region's visible pixels, frames 1..T-1
    per_frame: np.ndarray  # (T,) float32, 0 at frame 0; NaN where the region is out of view
    visible_fraction: np.ndarray  # (T,) float32 share of the keyframe's region (by weight) in view


@dataclass(frozen=True, eq=False)
class PsnrResult:
    """Peak signal-to-noise ratio against a reference, dB (8-bit peak), capped at 100."""

    mean: float  # from the mean squared error over all pixels of all frames
    per_frame: np.ndarray  # (T,) float32


@dataclass(frozen=True, eq=False)
class SsimResult:
    """Structural similarity (Wang et al. 2004) on luma against a reference, at most 1."""

    mean: float  # mean of the per-frame values
    per_frame: np.ndarray  # (T,) float32


def _frozen(array: np.ndarray) -> np.ndarray:
    """A float32 copy that cannot be written, so a result stays what it measured."""
    out = np.array(array, np.float32)
    out.setflags(write=False)
    return out


def _mean(total: float, count: float) -> float:
    return float(total / count) if count > 0 else 0.0


# ----------------------------------------------------------------------------- inputs


def _check_frames(frames: object, name: str = "frames") -> np.ndarray:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8:
        raise InvalidRequest(f"Metrics need {name} as 8-bit RGB video (a uint8 array).")
    if frames.ndim != 4 or frames.shape[-1] != 3 or 0 in frames.shape:
        raise InvalidRequest(
            f"Metrics need {name} shaped (frames, height, width, 3); got {frames.shape}."
        )
    return frames


def _check_length(frames: np.ndarray, values: np.ndarray, what: str) -> None:
    if len(values) != len(frames):
        raise InvalidRequest(
            f"The {what} has {len(values)} entries but the clip has {len(frames)} frames."
        )


def _luma(frames: np.ndarray) -> np.ndarray:
    """(T, H, W) float32 BT.601 luma in 8-bit levels."""
    return frames.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _chroma(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 2) float32 BT.601 (Cb, Cr) colour differences in 8-bit levels, offset removed."""
    rgb = frames.astype(np.float32)
    y = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.stack([(rgb[..., 2] - y) * 0.564, (rgb[..., 0] - y) * 0.713], axis=-1)


# ----------------------------------------------------------------------------- optical flow


def _gray(frames: np.ndarray) -> np.ndarray:
    return np.clip(_luma(frames) + 0.5, 0, 255).astype(np.uint8)


def _flows(gray: np.ndarray, backward: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """DIS flow of consecutive pairs: forward[i] maps frame i into i+1, backward[i] the reverse.

    `frame_i(x) ~ frame_{i+1}(x + forward[i](x))`,
    `frame_{i+1}(x) ~ frame_i(x + backward[i](x))`.
    """
    h, w = gray.shape[1:]
    if min(h, w) < 16:  # DIS needs a few of its 8-pixel patches per side
        raise InvalidRequest(
            f"Motion metrics need frames at least 16 pixels on each side; got {w}x{h}."
        )
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    pairs = len(gray) - 1
    fwd = np.stack([dis.calc(gray[i], gray[i + 1], None) for i in range(pairs)])
    bwd = (
        np.stack([dis.calc(gray[i + 1], gray[i], None) for i in range(pairs)]) if backward else None
    )
    return fwd, bwd


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))


def _remap(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _inside(map_x: np.ndarray, map_y: np.ndarray, h: int, w: int) -> np.ndarray:
    return (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)


def _consistent(bwd: np.ndarray, fwd: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels of frame i+1 whose backward flow the forward flow sends back home.

    The test of Sundaram et al. (2010): |b + f(x + b)|^2 < 0.01 (|b|^2 + |f|^2) + 0.5. Pixels
    failing it were occluded or revealed between the two frames, so have no partner to compare.
    """
    h, w = bwd.shape[:2]
    gx, gy = _grid(h, w)
    map_x, map_y = gx + bwd[..., 0], gy + bwd[..., 1]
    f = _remap(fwd, map_x, map_y)
    gap = np.sum((bwd + f) ** 2, axis=-1)
    tolerance = 0.01 * (np.sum(bwd**2, axis=-1) + np.sum(f**2, axis=-1)) + 0.5
    return (gap < tolerance) & _inside(map_x, map_y, h, w)


def _apply(m: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (3, 3) transform `m` applied to pixel grids: float32 maps for `cv2.remap`."""
    den = m[2, 0] * gx + m[2, 1] * gy + m[2, 2]
    map_x = (m[0, 0] * gx + m[0, 1] * gy + m[0, 2]) / den
    map_y = (m[1, 0] * gx + m[1, 1] * gy + m[1, 2]) / den
    return map_x.astype(np.float32), map_y.astype(np.float32)


def _points(h: int, w: int) -> np.ndarray:
    """(N, 2) int pixel grid of about 32x32 samples for robust global-motion fits."""
    step = max(1, min(h, w) // 32)
    ys, xs = np.mgrid[step // 2 : h : step, step // 2 : w : step]
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def _fit(flow: np.ndarray, model: str) -> np.ndarray:
    """(3, 3) global motion x -> x + flow(x), fitted with RANSAC on a grid of flow vectors.

    `model` is "similarity" (translation, rotation, uniform scale) or "homography".
    Falls back to the identity when the fit fails (a blank frame, say).
    """
    pts = _points(*flow.shape[:2])
    src = pts.astype(np.float32)
    dst = src + flow[pts[:, 1], pts[:, 0]]
    if model == "homography" and len(src) >= 4:
        m, _ = cv2.findHomography(src, dst, cv2.RANSAC, 1.0, maxIters=2000, confidence=0.995)
        return m if m is not None else np.eye(3)
    m, _ = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.0, maxIters=2000, confidence=0.995
    )
    return np.vstack([m, [0.0, 0.0, 1.0]]) if m is not None else np.eye(3)


# ----------------------------------------------------------------------------- flicker


def flicker(frames: np.ndarray, still_mask: np.ndarray | None = None) -> FlickerResult:
    """Brightness and colour pumping and noise crawl where the picture should not change.

    Camera motion is compensated first: a homography fitted (RANSAC) to the flow from each
    frame to the previous one carries the previous frame onto the current, so a pan or zoom
    is not counted, and only that one smooth warp is applied (a per-pixel flow warp could
    "explain" crawling texture away as motion). A global motion under 0.1 px is not applied,
    so a locked-off shot is compared pixel for pixel.

    `still_mask` ((H, W) or (T, H, W) bool, True = should be still; a (T, H, W) mask is read
    at the later frame of each pair) says where to look. By default the still pixels are
    those whose flow, once the camera motion is removed, is under 0.5 px, that pass the
    forward-backward occlusion check, and that lie 2 px inside such a region: moving objects
    and the background they uncover are left out. Pixels carried in from outside the previous
    frame are always left out.

    Returns the mean absolute change of luma (and of Cb/Cr) over those pixels, 8-bit levels;
    0 is perfectly steady. Per pair, entry i compares frame i+1 with frame i.
    """
    frames = _check_frames(frames)
    t, h, w = frames.shape[:3]
    if still_mask is not None:
        still_mask = np.asarray(still_mask, bool)
        if still_mask.shape not in ((h, w), (t, h, w)):
            raise InvalidRequest(
                f"The still mask must be shaped ({h}, {w}) or ({t}, {h}, {w}); "
                f"got {still_mask.shape}."
            )
    if t < 2:
        empty = np.zeros(0, np.float32)
        return FlickerResult(0.0, _frozen(empty), 0.0, _frozen(empty), _frozen(empty))

    luma, chroma = _luma(frames), _chroma(frames)
    fwd, bwd = _flows(_gray(frames))
    gx, gy = _grid(h, w)
    erode = np.ones((5, 5), np.uint8)
    luma_pf, chroma_pf, fraction = (np.full(t - 1, np.nan, np.float32) for _ in range(3))
    luma_sum = chroma_sum = count = 0.0
    for i in range(t - 1):
        # where each pixel of frame i+1 was in frame i if only the camera moved
        map_x, map_y = _apply(_fit(bwd[i], "homography"), gx, gy)
        if still_mask is None:
            residual = np.hypot(gx + bwd[i][..., 0] - map_x, gy + bwd[i][..., 1] - map_y)
            still = (residual < STILL_FLOW_PX) & _consistent(bwd[i], fwd[i])
            still = cv2.erode(still.astype(np.uint8), erode).astype(bool)
        else:
            still = still_mask[i + 1] if still_mask.ndim == 3 else still_mask
        corners = np.hypot(map_x - gx, map_y - gy)[[0, 0, -1, -1], [0, -1, 0, -1]]
        if corners.max() < _SNAP_PX:
            prev_luma, prev_chroma = luma[i], chroma[i]
        else:
            still = still & _inside(map_x, map_y, h, w)
            prev_luma, prev_chroma = _remap(luma[i], map_x, map_y), _remap(chroma[i], map_x, map_y)
        n = int(still.sum())
        fraction[i] = n / (h * w)
        if n == 0:
            continue
        dl = np.abs(luma[i + 1] - prev_luma)[still]
        dc = np.abs(chroma[i + 1] - prev_chroma)[still]
        luma_pf[i], chroma_pf[i] = dl.mean(), dc.mean()
        luma_sum, chroma_sum, count = luma_sum + dl.sum(), chroma_sum + dc.mean(-1).sum(), count + n
    return FlickerResult(
        _mean(luma_sum, count),
        _frozen(luma_pf),
        _mean(chroma_sum, count),
        _frozen(chroma_pf),
        _frozen(fraction),
    )


# ----------------------------------------------------------------------------- warp error


def warp_error(frames: np.ndarray) -> WarpErrorResult:
    """Temporal warp error: each frame against the previous one warped along the optical flow.

    The usual temporal-consistency measure of video work (Lai et al. 2018): with the flow
    `b` from frame i+1 back to frame i, compare frame_{i+1}(x) with frame_i(x + b(x)).
    Pixels occluded or revealed between the two (forward-backward check) and pixels whose
    partner lies outside the frame are left out. Whatever the flow cannot explain counts:
    flicker, crawling texture, objects that change shape or colour.

    Returns the mean absolute RGB error in 8-bit levels over the kept pixels (0 is perfectly
    consistent), per pair (entry i compares frame i+1 with frame i) and overall.
    """
    frames = _check_frames(frames)
    t, h, w = frames.shape[:3]
    if t < 2:
        empty = np.zeros(0, np.float32)
        return WarpErrorResult(0.0, _frozen(empty), _frozen(empty))
    fwd, bwd = _flows(_gray(frames))
    gx, gy = _grid(h, w)
    rgb = frames.astype(np.float32)
    per_frame, fraction = np.full(t - 1, np.nan, np.float32), np.zeros(t - 1, np.float32)
    total = count = 0.0
    for i in range(t - 1):
        valid = _consistent(bwd[i], fwd[i])
        n = int(valid.sum())
        fraction[i] = n / (h * w)
        if n == 0:
            continue
        warped = _remap(rgb[i], gx + bwd[i][..., 0], gy + bwd[i][..., 1])
        err = np.abs(rgb[i + 1] - warped).mean(-1)[valid]
        per_frame[i] = err.mean()
        total, count = total + err.sum(), count + n
    return WarpErrorResult(_mean(total, count), _frozen(per_frame), _frozen(fraction))


# ----------------------------------------------------------------------------- motion brush


#: per-frame size changes tried when tracking a brushed region (zoom, approach, recede)
_TRACK_SCALES = (1 / 1.05, 1.0, 1.05)


def track_region(frames: np.ndarray, region_mask: np.ndarray) -> np.ndarray:
    """(T, 2) float32 displacement (px) of a region of frame 0 over the clip, 0 at frame 0.

    Masked template matching, frame to frame: the region's pixels in frame i (the frame-0
    mask moved and scaled to where the region is now) are looked for in frame i+1 by least
    squares over RGB, at three sizes (5 % smaller, same, 5 % larger), to a sub-pixel
    minimum. The search covers both standing still and keeping the last velocity, plus 10 %
    of the frame around them, so bounces are followed. Only the region's own pixels count,
    so a flat-coloured object over a textured background is found as well as a textured
    one (optical flow smears such an object into the background), and taking the template
    from the previous frame follows gradual changes of shading and shape. The displacement
    is that of the region's centroid.

    The mask should cover the object snugly: background inside it pulls toward the
    background's motion. While less than a quarter of the region is on screen it keeps its
    last velocity; an object hidden behind another for a while may be lost.
    """
    frames = _check_frames(frames)
    t, h, w = frames.shape[:3]
    mask = np.asarray(region_mask, bool)
    if mask.shape != (h, w) or not mask.any():
        raise InvalidRequest(
            f"The brushed region must be a non-empty ({h}, {w}) mask of frame 0; got "
            f"{'an empty mask' if mask.shape == (h, w) else f'shape {mask.shape}'}."
        )
    mask_u8 = mask.astype(np.uint8) * 255
    centre = np.argwhere(mask)[:, ::-1].mean(axis=0)  # (x, y) centroid at frame 0
    radius = max(4, round(0.1 * max(h, w)))
    rgb = frames.astype(np.float32)
    disp, velocity, scale = np.zeros((t, 2)), np.zeros(2), 1.0
    for i in range(t - 1):
        where = centre + disp[i]
        shift = where - scale * centre  # frame-0 mask -> frame i: scale about the centroid
        move = np.float64([[scale, 0, shift[0]], [0, scale, shift[1]]])
        region = cv2.warpAffine(mask_u8, move, (w, h), flags=cv2.INTER_LINEAR) > 127
        found = None
        if region.sum() >= max(1.0, 0.25 * scale**2 * mask.sum()):
            found = _match(rgb[i], rgb[i + 1], region, where, velocity, radius)
        if found is not None:
            velocity = found[0] - where
            scale = float(np.clip(scale * found[1], 0.25, 4.0))
        disp[i + 1] = disp[i] + velocity
    return disp.astype(np.float32)


def _match(
    current: np.ndarray,
    following: np.ndarray,
    region: np.ndarray,
    where: np.ndarray,
    velocity: np.ndarray,
    radius: int,
) -> tuple[np.ndarray, float] | None:
    """Where the point `where` of `region` in `current` went in `following`, and the size change.

    Returns ((x, y) px with sub-pixel precision, scale factor), or None when the search
    window cannot hold the region.
    """
    h, w = current.shape[:2]
    ys, xs = np.nonzero(region)
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    template, template_mask = current[y0:y1, x0:x1], region[y0:y1, x0:x1].astype(np.uint8)
    lo = np.minimum(np.round(velocity), 0).astype(int) - radius
    hi = np.maximum(np.round(velocity), 0).astype(int) + radius
    best = None
    for k in _TRACK_SCALES:
        if k == 1.0:
            scaled, scaled_mask = template, template_mask
        else:
            size = (max(1, round((x1 - x0) * k)), max(1, round((y1 - y0) * k)))
            scaled = cv2.resize(template, size, interpolation=cv2.INTER_LINEAR)
            scaled_mask = cv2.resize(template_mask, size, interpolation=cv2.INTER_NEAREST)
        th, tw = scaled_mask.shape
        # scaled about the template's centre, so it stays put in the search
        sx0 = max(round((x0 + x1 - tw) / 2) + lo[0], 0)
        sy0 = max(round((y0 + y1 - th) / 2) + lo[1], 0)
        sx1 = min(round((x0 + x1 + tw) / 2) + hi[0], w)
        sy1 = min(round((y0 + y1 + th) / 2) + hi[1], h)
        if sx1 - sx0 < tw or sy1 - sy0 < th or not scaled_mask.any():
            continue
        score = cv2.matchTemplate(
            following[sy0:sy1, sx0:sx1], scaled, cv2.TM_SQDIFF, mask=scaled_mask
        )
        my, mx = np.unravel_index(int(np.argmin(score)), score.shape)
        cost = float(score[my, mx]) / float(scaled_mask.sum())
        if best is None or cost < best[0]:
            sx = tw / (x1 - x0)  # the real scale after rounding the size
            dx = mx + _vertex(score[my, max(mx - 1, 0) : mx + 2])
            dy = my + _vertex(score[max(my - 1, 0) : my + 2, mx])
            local = (where - [x0, y0] + 0.5) * [sx, th / (y1 - y0)] - 0.5  # `where` in scaled
            best = (cost, np.array([sx0 + dx, sy0 + dy]) + local, sx)
    return None if best is None else (best[1], best[2])


def _vertex(scores: np.ndarray) -> float:
    """Sub-pixel offset of a minimum from the parabola through it and its two neighbours."""
    if len(scores) < 3:  # at the window's edge: no parabola
        return 0.0
    left, mid, right = (float(v) for v in scores)
    curve = left - 2.0 * mid + right
    return float(np.clip(0.5 * (left - right) / curve, -0.5, 0.5)) if curve > 0 else 0.0


def brush_adherence(
    frames: np.ndarray,
    region_mask: np.ndarray,
    target_path: np.ndarray,
    normalised: bool = False,
) -> AdherenceResult:
    """How closely a brushed region followed its requested trajectory.

    `region_mask` (H, W) bool is the brushed region at frame 0; `target_path` (T, 2) the
    requested position per frame, x right and y down, in pixels (or, with `normalised`, in
    fractions of the width and height). The region is tracked with `track_region`, and its
    displacement from frame 0 is compared with the path's displacement from its first
    point, so the anchor the user clicked need not be the region's centre.

    Errors are Euclidean distances in percent of the frame width: 0 is a perfect follow,
    10 means the object ended up a tenth of the frame away from where it was asked to be.
    """
    frames = _check_frames(frames)
    t, h, w = frames.shape[:3]
    target = np.asarray(target_path, np.float64)
    if target.ndim != 2 or target.shape[1] != 2 or not np.isfinite(target).all():
        raise InvalidRequest(
            "The brush trajectory must be a (frames, 2) array of finite x, y positions."
        )
    _check_length(frames, target, "brush trajectory")
    if normalised:
        target = target * [w, h]
    disp = track_region(frames, region_mask).astype(np.float64)
    errors = 100.0 * np.linalg.norm(disp - (target - target[0]), axis=1) / w
    return AdherenceResult(
        float(errors[1:].mean()) if t > 1 else 0.0,
        float(errors[-1]),
        _frozen(target[0] + disp),
        _frozen(errors),
    )


# ----------------------------------------------------------------------------- camera


def decompose_homography(
    homography: np.ndarray, width: int, height: int
) -> tuple[float, float, float, float]:
    """The similarity closest to `h` over the frame, about its centre: (tx, ty, rot_deg, log_scale).

    `homography` maps pixels of one view to another (x right, y down). The least-squares similarity
    over a 9x9 grid of points spanning the frame gives: tx, ty the mean motion of the
    points (px; a pan right moves the picture left, tx < 0); rot_deg the on-screen rotation
    of the content (degrees, positive = clockwise as seen, since y points down); log_scale
    the natural log of the magnification (> 0 zooms in).
    """
    h = np.asarray(homography, np.float64)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    xs, ys = np.meshgrid(np.linspace(0, width - 1, 9), np.linspace(0, height - 1, 9))
    src = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    dst = h @ src
    qx, qy = dst[0] / dst[2] - cx, dst[1] / dst[2] - cy
    px, py = src[0] - cx, src[1] - cy
    tx, ty = qx.mean(), qy.mean()
    qx, qy = qx - tx, qy - ty
    norm = np.sum(px**2 + py**2)
    a = np.sum(px * qx + py * qy) / norm
    b = np.sum(px * qy - py * qx) / norm
    return float(tx), float(ty), math.degrees(math.atan2(b, a)), math.log(math.hypot(a, b))


def estimate_camera_motion(frames: np.ndarray) -> np.ndarray:
    """(T, 4) float32 `[tx, ty, rot_deg, log_scale]` of frame 0 -> frame t, seen in the frames.

    A similarity per consecutive pair is fitted with RANSAC to a grid of DIS flow vectors
    (objects moving on their own are outliers), the transforms are chained to frame 0 and
    each chain is read with `decompose_homography`.
    """
    frames = _check_frames(frames)
    t, h, w = frames.shape[:3]
    chain = np.tile(np.eye(3), (t, 1, 1))
    if t > 1:
        fwd, _ = _flows(_gray(frames), backward=False)
        for i in range(t - 1):
            chain[i + 1] = _fit(fwd[i], "similarity") @ chain[i]
    return np.array([decompose_homography(m, w, h) for m in chain], np.float32)


def _motion_vector(motion: np.ndarray, width: int) -> np.ndarray:
    """(T, 4) `[tx, ty, rot_deg, log_scale]` -> image motion in frame widths, all comparable.

    Translation divided by the width; rotation and log-scale as the displacement they give a
    point half a width from the centre (rotation in radians / 2, log-scale / 2).
    """
    m = np.asarray(motion, np.float64)
    return np.stack([m[:, 0] / width, m[:, 1] / width, np.radians(m[:, 2]) / 2, m[:, 3] / 2], 1)


def camera_adherence(frames: np.ndarray, homographies: np.ndarray) -> CameraAdherenceResult:
    """Whether the camera moved the requested way and by the requested amount.

    `homographies` (T, 3, 3) is the requested path as `engine.camera.homographies` gives it:
    H_t maps reference-view pixels to frame t's, so frame 0 -> frame t is H_t H_0^-1.
    Estimated (`estimate_camera_motion`) and requested motion are put in common units
    (`_motion_vector`) and compared over the whole path at once (all frames stacked; for a
    one-way move this is the end-to-end motion, and a move that comes back is judged too):
    direction_cosine is their cosine similarity, direction_ok says it exceeds 0.5, and
    magnitude_ratio is |estimated| / |requested|.

    A requested move under 1 % of the frame width counts as a locked-off camera: then
    direction_ok means the camera held within that, and magnitude_ratio is measured
    against that 1 %.
    """
    frames = _check_frames(frames)
    t, h, w = frames.shape[:3]
    hs = np.asarray(homographies, np.float64)
    if hs.ndim != 3 or hs.shape[1:] != (3, 3) or not np.isfinite(hs).all():
        raise InvalidRequest("The camera path must be (frames, 3, 3) finite homographies.")
    _check_length(frames, hs, "camera path")
    base = np.linalg.inv(hs[0])
    requested = np.array([decompose_homography(m @ base, w, h) for m in hs], np.float32)
    estimated = estimate_camera_motion(frames)
    est, req = _motion_vector(estimated, w).ravel(), _motion_vector(requested, w).ravel()
    est_norm, req_norm = float(np.linalg.norm(est)), float(np.linalg.norm(req))
    scale = math.sqrt(t)  # stacked frames: a constant offset of 1 % reads as 1 %
    if req_norm < STATIC_MOVE * scale:
        held = est_norm < STATIC_MOVE * scale
        cosine = 1.0 if held else 0.0
        ratio = est_norm / (STATIC_MOVE * scale)
    else:
        cosine = float(est @ req) / (est_norm * req_norm) if est_norm > 0 else 0.0
        held, ratio = cosine > 0.5, est_norm / req_norm
    return CameraAdherenceResult(
        bool(held), cosine, float(ratio), _frozen(estimated), _frozen(requested)
    )


# ----------------------------------------------------------------------------- static brush

#: a pixel counts as seen when this much of its bilinear footprint falls inside the frame
_IN_VIEW = 0.999


def static_region_drift(
    frames: np.ndarray, homographies: np.ndarray, static_mask: np.ndarray
) -> StaticDriftResult:
    """How still a static region stays in the scene: 0 when it moves exactly with the camera.

    A static stroke means still in the scene, so under a camera move its content must follow
    the camera. `homographies` (T, 3, 3) map keyframe pixels to frame t's (as
    `engine.camera.homographies` gives them) and `static_mask` ((H, W), 0..1 or bool) is the
    region in the keyframe. The camera's motion is undone by predicting each frame from frame
    0: frame 0 carried to frame t by H_t H_0^-1 (bilinear) is what a region still in the
    scene looks like there. Frame t is compared with that prediction inside the region carried
    the same way, weighted by the mask, where frame 0 saw it. A region pinned to the screen
    under a pan, a second copy of it, or one that slides or melts reads as tens of levels; a
    clip that is its keyframe warped by the camera (the previs) reads as about 0.

    Returns the mean absolute RGB difference in 8-bit levels over frames 1..T-1 and per frame.
    """
    frames = _check_frames(frames)
    t, h, w = frames.shape[:3]
    hs = np.asarray(homographies, np.float64)
    if hs.ndim != 3 or hs.shape[1:] != (3, 3) or not np.isfinite(hs).all():
        raise InvalidRequest("The camera path must be (frames, 3, 3) finite homographies.")
    _check_length(frames, hs, "camera path")
    mask = np.asarray(static_mask, np.float32)
    if mask.shape != (h, w) or not (mask > 0).any():
        raise InvalidRequest(
            f"The static region must be a non-empty ({h}, {w}) mask of the keyframe; got "
            f"{'an empty mask' if mask.shape == (h, w) else f'shape {mask.shape}'}."
        )

    def warp(image: np.ndarray, homography: np.ndarray, flags: int = 0) -> np.ndarray:
        return cv2.warpPerspective(image, homography, (w, h), flags=cv2.INTER_LINEAR | flags)

    ones = np.ones((h, w), np.float32)
    # keyframe pixels frame 0 shows: only they can be predicted
    shown_first = warp(ones, hs[0], cv2.WARP_INVERSE_MAP) >= _IN_VIEW
    first, to_first = frames[0].astype(np.float32), np.linalg.inv(hs[0])
    per_frame, visible = np.full(t, np.nan, np.float32), np.zeros(t, np.float32)
    per_frame[0] = 0.0
    visible[0] = float(mask[shown_first].sum() / mask.sum())
    diff_sum = weight_sum = 0.0
    for i in range(1, t):
        carry = hs[i] @ to_first  # frame 0 -> frame i by the camera alone
        predicted = warp(first, carry)
        weight = np.where(warp(ones, carry) >= _IN_VIEW, warp(mask, hs[i]), 0.0)
        shown = warp(ones, hs[i], cv2.WARP_INVERSE_MAP) >= _IN_VIEW
        visible[i] = float(mask[shown & shown_first].sum() / mask.sum())
        total = float(weight.sum())
        if total <= 0.0:
            continue
        diff = float((np.abs(frames[i].astype(np.float32) - predicted).mean(-1) * weight).sum())
        per_frame[i] = diff / total
        diff_sum, weight_sum = diff_sum + diff, weight_sum + total
    return StaticDriftResult(_mean(diff_sum, weight_sum), _frozen(per_frame), _frozen(visible))


# ----------------------------------------------------------------------------- reconstruction


def _check_pair(frames: np.ndarray, reference: np.ndarray) -> None:
    _check_frames(frames)
    _check_frames(reference, "the reference")
    if frames.shape != reference.shape:
        raise InvalidRequest(
            f"The clip and its reference differ in shape: {frames.shape} and {reference.shape}."
        )


def _psnr(mse: np.ndarray | float) -> np.ndarray:
    mse = np.asarray(mse, np.float64)
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(255.0**2 / mse)
    return np.minimum(db, PSNR_CAP_DB)


def psnr(frames: np.ndarray, reference: np.ndarray) -> PsnrResult:
    """Peak signal-to-noise ratio of `frames` against `reference`, dB with an 8-bit peak of 255.

    Over all RGB values; identical frames give 100 dB instead of infinity. The overall value
    comes from the mean squared error of the whole clip (not the mean of per-frame dB).
    Around 30 dB is a good lossy reconstruction, above 40 dB hard to tell apart.
    """
    _check_pair(frames, reference)
    diff = frames.astype(np.float32) - reference.astype(np.float32)
    mse = np.mean(diff**2, axis=(1, 2, 3), dtype=np.float64)
    return PsnrResult(float(_psnr(mse.mean())), _frozen(_psnr(mse)))


def _blur(a: np.ndarray) -> np.ndarray:
    """SSIM's Gaussian window over each channel of (H, W, C); shape kept when C is 1."""
    return cv2.GaussianBlur(a, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT).reshape(a.shape)


def ssim(frames: np.ndarray, reference: np.ndarray) -> SsimResult:
    """Structural similarity (Wang et al. 2004) of `frames` against `reference` on BT.601 luma.

    The standard form: Gaussian window with sigma 1.5 (11x11), K1 = 0.01, K2 = 0.03, dynamic
    range 255; the SSIM map is averaged per frame without the 5-pixel border the window
    cannot fill. 1 means identical; blur, noise and misalignment lower it.
    """
    _check_pair(frames, reference)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    x = _luma(frames).transpose(1, 2, 0)  # (H, W, T): frames as channels, blurred at once
    y = _luma(reference).transpose(1, 2, 0)
    values = []
    for s in range(0, x.shape[2], 256):  # OpenCV takes at most 512 channels
        xs, ys = x[..., s : s + 256], y[..., s : s + 256]
        mx, my = _blur(xs), _blur(ys)
        vx, vy, cov = _blur(xs * xs) - mx**2, _blur(ys * ys) - my**2, _blur(xs * ys) - mx * my
        smap = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
        pad = 5 if min(smap.shape[:2]) > 10 else 0
        smap = smap[pad : smap.shape[0] - pad, pad : smap.shape[1] - pad]
        values.append(smap.mean(axis=(0, 1)))
    per_frame = np.concatenate(values)
    return SsimResult(float(per_frame.mean()), _frozen(per_frame))
