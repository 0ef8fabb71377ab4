"""Sky, far layer and ground: everything behind the objects, two warps per frame.

What is at infinity (sky gradient, sun or moon, stars, clouds, hills, mountains, a skyline) is
painted once per clip into a *panorama*: a planar image in the reference view's directions,
just large enough for every frame of the clip's camera path. A frame of it is then the exact
rotation homography K_pano R_pose K^-1, so pans and tilts shift it by f tan(angle) and camera
translation leaves it still, as it should for things far away.

The ground is the plane y = 0 under a greyscale texture tile in world (x, z), cached per kind,
warped by the plane's homography and coloured through a lookup table. The tile is pre-blurred
by distance (a baked mip: depth rows are fixed since the camera stays near the origin) so far
texture does not shimmer, and the ground melts into the panorama with exponential fog, which
also gives the horizon a soft edge for free.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from .farlayer import draw_far_layer
from .palette import (
    CHECKER_COLOURS,
    FOG_DISTANCE,
    GROUND_COLOURS,
    GROUND_LIGHT,
    LIGHT_TINT,
    SKY_GRADIENTS,
    jitter_colour,
    ramp_lut,
)
from .rig import View

#: the ground tile covers x in [-10, 10], z in [-1, 19] at this many texels per unit
TEXELS_PER_UNIT = 48
_TILE_X0, _TILE_Z0, _TILE_UNITS = -10.0, -1.0, 20.0
#: a panorama holds at most this many frames' worth of pixels (its resolution drops beyond)
_MAX_PANO_FRAMES = 8.0


class Backdrop:
    """The background of every frame of one clip: `render(t)` -> (H, W, 3) uint8.

    All per-frame matrices are computed at construction, vectorised over the clip, so a frame
    costs two warps, a colour lookup, the fog weight and one blend, and the ground work is
    limited to the rows under the horizon.
    """

    def __init__(
        self,
        view: View,
        sky: str,
        ground: str,
        far: str,
        pitch_deg: float,
        sun_side: float,
        rng: np.random.Generator,
    ):
        self.view = view
        pano, pano_k = _panorama(view, sky, far, pitch_deg, sun_side, rng)
        self.pano = pano
        tile = ground_tile(ground, int(rng.integers(3)))
        self.tile = tile
        dark, light = GROUND_COLOURS[ground]
        if ground == "checker":
            dark, light = CHECKER_COLOURS[int(rng.integers(len(CHECKER_COLOURS)))]
        gain = GROUND_LIGHT[sky] * np.asarray(LIGHT_TINT[sky])
        self.lut = ramp_lut(
            jitter_colour(rng, dark, 8) * gain,
            jitter_colour(rng, light, 8) * gain,
            contrast=2.5 if ground == "checker" else 0.0,
        )
        # texture placement: a random offset (and mirror) so clips do not share one patch of grass
        scale = TEXELS_PER_UNIT * float(rng.uniform(0.85, 1.2))
        flip = float(rng.choice([-1.0, 1.0]))
        shift = float(rng.uniform(-3.0, 3.0))
        half = tile.shape[1] / (2.0 * scale)
        # texel (u, v, 1) -> ground (x, z, 1): rows keep their depth (the blur is baked by row)
        tex_to_ground = np.array(
            [
                [flip / scale, 0.0, shift - flip * half],
                [0.0, 1.0 / scale, _TILE_Z0],
                [0.0, 0.0, 1.0],
            ]
        )
        fog = FOG_DISTANCE[sky] * float(rng.uniform(0.85, 1.15))

        frames_n = len(view.focals)
        k = np.zeros((frames_n, 3, 3))
        k[:, 0, 0], k[:, 1, 1], k[:, 0, 2], k[:, 1, 2], k[:, 2, 2] = (
            view.focals,
            -view.focals,
            view.cx,
            view.cy,
            1.0,
        )
        k_inv = np.zeros_like(k)
        k_inv[:, 0, 0], k_inv[:, 1, 1] = 1.0 / view.focals, -1.0 / view.focals
        k_inv[:, 0, 2], k_inv[:, 1, 2], k_inv[:, 2, 2] = (
            -view.cx / view.focals,
            view.cy / view.focals,
            1.0,
        )
        self.to_pano = pano_k[None] @ view.pose_rotations @ k_inv  # frame pixel -> panorama pixel
        # ground (x, z, 1) -> camera: R^T (x e1 + z e3 - C); then K; texels come via tex_to_ground
        rt = view.rotations.transpose(0, 2, 1)
        plane = np.stack(
            [rt[:, :, 0], rt[:, :, 2], -np.einsum("tij,tj->ti", rt, view.centres)], axis=2
        )
        self.tex_to_img = k @ plane @ tex_to_ground[None]
        # a pixel's ray d = R K^-1 p falls at rate s = -d_y (linear in u, v) and meets the ground
        # at depth C_y / s; fog weight exp(-depth / fog) is 0 at the horizon and above it
        self.fall = -np.einsum(
            "tj,tjk->tk", view.rotations[:, 1, :], k_inv
        )  # (T, 3): s = a u + b v + c
        self.reach = view.centres[:, 1] / fog  # (T,)
        # first row where any pixel has a visible ground weight (> 1/512)
        a, b, c = self.fall[:, 0], self.fall[:, 1], self.fall[:, 2]
        edge = np.maximum(0.0, a * (view.width - 1))
        thresh = self.reach / math.log(512.0)
        rows = np.where(b > 1e-9, np.ceil((thresh - c - edge) / np.where(b > 1e-9, b, 1.0)), 0.0)
        self.first_row = np.clip(rows, 0, view.height).astype(int)
        self._u, self._v = _pixel_grid(view.width, view.height)
        self._last_sky: tuple[bytes, np.ndarray] | None = None

    def render(self, t: int) -> np.ndarray:
        width, height = self.view.width, self.view.height
        key = self.to_pano[t].tobytes()
        if self._last_sky is not None and self._last_sky[0] == key:
            out = self._last_sky[1].copy()  # no rotation or zoom since the last frame
        else:
            out = cv2.warpPerspective(
                self.pano,
                self.to_pano[t],
                (width, height),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REPLICATE,
            )
            self._last_sky = (key, out.copy())
        v0 = int(self.first_row[t])
        if v0 >= height:
            return out
        to_rows = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, -v0], [0.0, 0.0, 1.0]]) @ self.tex_to_img[t]
        grey = cv2.warpPerspective(
            self.tile,
            to_rows,
            (width, height - v0),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )
        ground = cv2.applyColorMap(grey, self.lut)
        a, b, c = (float(x) for x in self.fall[t])
        fall = self._u[v0:] * a
        fall += self._v[v0:] * b
        fall += c
        np.maximum(fall, 1e-6, out=fall)
        np.divide(-float(self.reach[t]), fall, out=fall)
        weight = np.exp(fall, out=fall)
        out[v0:] = cv2.blendLinear(ground, out[v0:], weight, 1.0 - weight)
        return out


@functools.lru_cache(maxsize=4)
def _pixel_grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    u, v = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return u, v


# ---------------------------------------------------------------------------------------------
# Panorama: sky and far layer at infinity
# ---------------------------------------------------------------------------------------------


def _panorama(
    view: View, sky: str, far: str, pitch_deg: float, sun_side: float, rng: np.random.Generator
):
    """Paint the clip's panorama; returns (image, K_pano mapping reference rays to its pixels)."""
    x0, x1, y0, y1 = _ray_bounds(view)
    fp = float(view.focals.max())
    area = (x1 - x0) * (y1 - y0) * fp * fp
    fp *= min(1.0, math.sqrt(_MAX_PANO_FRAMES * view.width * view.height / area))
    width, height = int(math.ceil((x1 - x0) * fp)) + 1, int(math.ceil((y1 - y0) * fp)) + 1
    k_pano = np.array([[fp, 0.0, -fp * x0], [0.0, -fp, fp * y1], [0.0, 0.0, 1.0]])
    pitch = math.radians(pitch_deg)
    base = np.array(
        [
            [1.0, 0.0, 0.0],
            [0.0, math.cos(pitch), math.sin(pitch)],
            [0.0, -math.sin(pitch), math.cos(pitch)],
        ]
    )

    def to_pixels(az: np.ndarray, el: np.ndarray) -> np.ndarray:
        """World azimuth/elevation (radians) -> panorama pixels (N, 2); NaN behind the view."""
        d = np.stack([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)], axis=-1) @ base
        z = np.where(d[..., 2] > 1e-3, d[..., 2], np.nan)
        return np.stack([fp * (d[..., 0] / z - x0), fp * (y1 - d[..., 1] / z)], axis=-1)

    zenith, horizon = (jitter_colour(rng, c, 10) for c in SKY_GRADIENTS[sky])
    # the gradient is smooth: compute it at 1/4 resolution and upsample
    small = (max(width // 4, 2), max(height // 4, 2))
    xs = np.linspace(x0, x1, small[0])
    ys = np.linspace(y1, y0, small[1])
    xn, yn = np.meshgrid(xs, ys)
    rays = np.stack([xn, yn, np.ones_like(xn)], axis=-1) @ base.T
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    rise = np.clip(rays[..., 1], 0.0, 1.0) ** 0.55
    img = horizon[None, None, :] + (zenith - horizon)[None, None, :] * rise[..., None]
    sun_az = math.radians(sun_side * rng.uniform(10.0, 35.0))
    sun_el = math.radians(
        {"day": 50.0, "dusk": rng.uniform(1.0, 6.0), "night": rng.uniform(14.0, 26.0)}[sky]
    )
    sun = np.array(
        [math.cos(sun_el) * math.sin(sun_az), math.sin(sun_el), math.cos(sun_el) * math.cos(sun_az)]
    )
    glow = np.clip(rays @ sun, 0.0, 1.0) ** 24
    glow_colour = {"day": (60, 50, 30), "dusk": (90, 50, 10), "night": (24, 26, 34)}[sky]
    img += glow[..., None] * np.asarray(glow_colour, np.float64)
    if sky != "night":
        _clouds(img, rays, rng, (255, 255, 255) if sky == "day" else (250, 170, 150))
    pano = cv2.resize(
        np.clip(img, 0, 255).astype(np.uint8), (width, height), interpolation=cv2.INTER_LINEAR
    )

    radius_px = max(1.5, fp * math.tan(math.radians(1.6 if sky == "night" else 2.4)))
    if sky == "night":
        _stars(pano, to_pixels, x0, x1, rng)
    if sky in ("dusk", "night"):
        centre = to_pixels(np.array(sun_az), np.array(sun_el))
        if np.isfinite(centre).all():
            disc = (255, 200, 120) if sky == "dusk" else (232, 232, 214)
            cv2.circle(
                pano,
                tuple(int(v) for v in np.round(centre * 16)),
                int(radius_px * 16),
                disc,
                -1,
                cv2.LINE_AA,
                4,
            )
    az_lo = math.atan2(x0, 1.0) - 0.2
    az_hi = math.atan2(x1, 1.0) + 0.2
    draw_far_layer(pano, far, sky, horizon, to_pixels, (az_lo, az_hi), fp, rng)
    return pano, k_pano


def _ray_bounds(view: View) -> tuple[float, float, float, float]:
    """Bounds (x0, x1, y0, y1) of reference-view rays x/z, y/z that any frame of the clip sees."""
    w, h = view.width, view.height
    u = np.array([0, w / 2, w, w, w, w / 2, 0, 0], np.float64) - 0.5
    v = np.array([0, 0, 0, h / 2, h, h, h, h / 2], np.float64) - 0.5
    rays = []
    for t in range(len(view.focals)):
        f = view.focals[t]
        cam = np.stack([(u - view.cx) / f, -(v - view.cy) / f, np.ones_like(u)], axis=1)
        rays.append(cam @ view.pose_rotations[t].T)
    d = np.concatenate(rays)
    z = np.maximum(d[:, 2], 0.05)  # clamp rays that turn past 90 degrees (never, at these moves)
    x, y = d[:, 0] / z, d[:, 1] / z
    pad = 4.0 / view.focals.min()
    return float(x.min() - pad), float(x.max() + pad), float(y.min() - pad), float(y.max() + pad)


def _clouds(img: np.ndarray, rays: np.ndarray, rng: np.random.Generator, colour) -> None:
    """Soft cloud banks: blurry blobs whose weight follows a few random directions."""
    cover = np.zeros(img.shape[:2])
    for _ in range(int(rng.integers(2, 6))):
        az, el = rng.uniform(-1.2, 1.2), rng.uniform(0.12, 0.5)
        centre = np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])
        spread = rng.uniform(0.01, 0.03)
        cover += np.exp(-(1.0 - rays @ centre) / spread) * rng.uniform(0.4, 0.9)
    cover = np.clip(cover, 0.0, 0.85) * (rays[..., 1] > 0.02)
    img += cover[..., None] * (np.asarray(colour, np.float64)[None, None, :] - img)


def _stars(pano: np.ndarray, to_pixels, x0: float, x1: float, rng: np.random.Generator) -> None:
    """Scattered stars above the horizon, fixed in the sky so they pan with it."""
    count = int(pano.shape[0] * pano.shape[1] / 90)
    az = rng.uniform(math.atan(x0) - 0.1, math.atan(x1) + 0.1, count)
    el = np.arcsin(rng.uniform(math.sin(0.06), 0.9, count))
    pts = to_pixels(az, el)
    ok = np.isfinite(pts).all(axis=1)
    pts = np.round(pts[ok]).astype(int)
    inside = (
        (pts[:, 0] >= 0)
        & (pts[:, 0] < pano.shape[1])
        & (pts[:, 1] >= 0)
        & (pts[:, 1] < pano.shape[0])
    )
    pts = pts[inside]
    level = rng.uniform(120, 255, len(pts))[:, None]
    pano[pts[:, 1], pts[:, 0]] = np.maximum(pano[pts[:, 1], pts[:, 0]], level.astype(np.uint8))


# ---------------------------------------------------------------------------------------------
# Ground textures
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def ground_tile(kind: str, variant: int = 0) -> np.ndarray:
    """(N, N) uint8 grey texture of a ground kind in world (x, z), blurred with distance."""
    if kind not in GROUND_COLOURS:
        raise ValueError(f"Unknown ground {kind!r}; choose one of: {', '.join(GROUND_COLOURS)}.")
    rng = np.random.default_rng([variant, sum(map(ord, kind))])
    n = int(_TILE_UNITS * TEXELS_PER_UNIT)
    coords = (np.arange(n) + 0.5) / TEXELS_PER_UNIT
    xs, zs = np.meshgrid(coords + _TILE_X0, coords + _TILE_Z0)
    if kind == "grass":
        tex = 0.55 * _noise(rng, n, 12) + 0.25 * _noise(rng, n, 60) + 0.35 * _noise(rng, n, 300)
    elif kind == "sand":
        warp = _noise(rng, n, 10)
        ripples = 0.5 + 0.5 * np.sin(2 * np.pi * (zs * 3.2 + xs * 0.6 + 2.5 * warp))
        tex = 0.45 * _noise(rng, n, 8) + 0.3 * ripples + 0.25 * _noise(rng, n, 200)
    elif kind == "snow":
        sparkle = (rng.random((n, n)) > 0.997).astype(np.float64)
        tex = 0.35 * _noise(rng, n, 10) + 0.15 * _noise(rng, n, 80) + 0.55 + 0.5 * sparkle
    else:
        size = 0.5
        tex = ((np.floor(xs / size) + np.floor(zs / size)) % 2) * 0.9 + 0.05 * _noise(rng, n, 100)
    tex = (tex - tex.min()) / max(tex.max() - tex.min(), 1e-9)
    return _distance_blur(np.clip(tex * 255.0 + 0.5, 0, 255).astype(np.uint8), zs[:, 0])


def _noise(rng: np.random.Generator, n: int, cells: int) -> np.ndarray:
    """Smooth value noise in [0, 1] with about `cells` features across the tile."""
    coarse = rng.random((cells + 3, cells + 3)).astype(np.float32)
    big = cv2.resize(
        coarse, (n + 3 * n // cells, n + 3 * n // cells), interpolation=cv2.INTER_CUBIC
    )
    return np.asarray(big[n // cells : n // cells + n, n // cells : n // cells + n], np.float64)


def _distance_blur(tex: np.ndarray, z_rows: np.ndarray) -> np.ndarray:
    """Blend rows toward ever blurrier copies as depth grows: a mip level baked per row.

    A ground texel seen at depth z spans about z^2 / (f h) texels across a pixel row and z / f
    along it (f ~ 140 px at 128 wide, h ~ 0.45), so the blur grows much faster along z.
    """
    depths = (0.0, 2.0, 4.0, 7.0, 12.0)
    levels = [tex.astype(np.float32)]
    for z in depths[1:-1]:
        sy = 0.4 * z * z
        sx = 0.18 * z
        levels.append(
            cv2.GaussianBlur(levels[0], (0, 0), sigmaX=sx, sigmaY=sy, borderType=cv2.BORDER_REFLECT)
        )
    levels.append(np.full_like(levels[0], float(tex.mean())))
    out = np.zeros_like(levels[0])
    z = np.clip(z_rows, 0.0, depths[-1])
    for k in range(len(depths) - 1):
        lo, hi = depths[k], depths[k + 1]
        w_hi = np.clip((z - lo) / (hi - lo), 0.0, 1.0)
        band = ((z >= lo) & (z <= hi)).astype(np.float32)[:, None]
        mix = levels[k] * (1.0 - w_hi[:, None]) + levels[k + 1] * w_hi[:, None]
        out = np.where(band > 0, mix, out)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
