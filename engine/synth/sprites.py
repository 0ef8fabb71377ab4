"""Shaded object sprites, drawn once per (kind, colour, light) and reused by every clip.

An object is a billboard: an RGBA picture of it, lit from the clip's sun side, that the renderer
maps into each frame with one affine warp (scale, roll and perspective lean at once). Sprites
are drawn in *object units* (the collision radius is 1; y up from the ground contact), 4x
supersampled for clean edges, and kept as a small mip pyramid so a distant object is not
minified by more than 2x in one warp (which would alias).

The alpha centroid of each level is stored: the renderer pins it to the object's reference
point, so the centroid of an unoccluded mask lands exactly on the labelled trajectory.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from .palette import COLOURS, LIGHT_DIRECTION, LIGHT_TINT

#: pixels per object unit at the finest mip level
UNIT_PX = 32
_LEVELS = 4
_SUPERSAMPLE = 4
_MARGIN = 2  # transparent pixels around the silhouette (per level-0 pixel)
#: (width, height) of each kind's drawing in object units
EXTENT = {
    "ball": (2.0, 2.0),
    "cube": (2.0, 2.5),
    "cone": (2.0, 2.7),
    "star": (2.3, 2.1),
    "person": (1.4, 3.2),
}


@dataclass(frozen=True)
class SpriteLevel:
    """One mip level: straight-alpha RGBA and where the object's anchor points are in it."""

    rgba: np.ndarray  # (h, w, 4) uint8
    unit: float  # pixels per object unit
    centroid: tuple[float, float]  # alpha centroid (u, v), pixel-centre coordinates


@dataclass(frozen=True)
class Sprite:
    """A shaded object picture at several resolutions; `height` is the alpha centroid's height."""

    kind: str
    levels: tuple[SpriteLevel, ...]
    height: float  # centroid height above the ground contact, object units

    def level_for(self, unit_px: float) -> SpriteLevel:
        """The coarsest level still at least as fine as `unit_px` on screen."""
        for level in reversed(self.levels):
            if level.unit >= unit_px:
                return level
        return self.levels[0]


@functools.lru_cache(maxsize=512)
def sprite(kind: str, colour: str, sky: str, light_side: float) -> Sprite:
    """The sprite of a `colour` `kind` under `sky` light coming from `light_side` (-1 left, +1 right)."""
    if kind not in EXTENT:
        raise ValueError(f"Unknown object kind {kind!r}; choose one of: {', '.join(EXTENT)}.")
    w_units, h_units = EXTENT[kind]
    width = _round8(w_units * UNIT_PX + 2 * _MARGIN)
    height = _round8(h_units * UNIT_PX + 2 * _MARGIN)
    ss = _SUPERSAMPLE
    # object-unit coordinates of every supersampled pixel centre (y up from the ground contact)
    j = (np.arange(width * ss) + 0.5) / ss - 0.5
    i = (np.arange(height * ss) + 0.5) / ss - 0.5
    x = ((j - (width - 1) / 2.0) / UNIT_PX)[None, :].repeat(height * ss, 0)
    y = ((height - 1 - _MARGIN - i) / UNIT_PX)[:, None].repeat(width * ss, 1)
    light = np.array(LIGHT_DIRECTION[sky]) * np.array([light_side, 1.0, 1.0])
    light /= np.linalg.norm(light)
    alpha, shade = _DRAW[kind](x, y, light)
    albedo = np.asarray(COLOURS[colour], np.float64) * np.asarray(LIGHT_TINT[sky])
    rgb = np.clip(
        albedo[None, None, :] * shade[..., None] + _specular(shade)[..., None] * 60.0, 0, 255
    )
    rgba = np.concatenate([rgb, 255.0 * alpha[..., None]], axis=-1).astype(np.float32)
    top = cv2.resize(rgba, (width, height), interpolation=cv2.INTER_AREA)
    levels = []
    for k in range(_LEVELS):
        img = (
            top
            if k == 0
            else cv2.resize(top, (width >> k, height >> k), interpolation=cv2.INTER_AREA)
        )
        img8 = np.clip(img + 0.5, 0, 255).astype(np.uint8)
        levels.append(SpriteLevel(img8, UNIT_PX / 2**k, _centroid(img8[..., 3])))
    v_ground = height - 1 - _MARGIN  # level-0 row of the ground contact (pixel centres)
    return Sprite(kind, tuple(levels), (v_ground - levels[0].centroid[1]) / UNIT_PX)


def _round8(n: float) -> int:
    return int(math.ceil(n / 8.0) * 8)


def _centroid(alpha: np.ndarray) -> tuple[float, float]:
    a = alpha.astype(np.float64)
    total = a.sum()
    v, u = np.indices(a.shape)
    return float((u * a).sum() / total), float((v * a).sum() / total)


def _specular(shade: np.ndarray) -> np.ndarray:
    """A small glossy highlight where the diffuse term peaks."""
    return np.clip((shade - 0.9) / 0.15, 0.0, 1.0) ** 2


def _lambert(nx, ny, nz, light) -> np.ndarray:
    """Ambient plus diffuse, kept bright enough that a shaded colour is still its name."""
    return 0.62 + 0.45 * np.clip(nx * light[0] + ny * light[1] + nz * light[2], 0.0, 1.0)


# ---------------------------------------------------------------------------------------------
# Shapes: each returns (alpha in 0..1, shade factor) on the supersampled grid
# ---------------------------------------------------------------------------------------------


def _ball(x, y, light):
    yy = y - 1.0
    rr = x * x + yy * yy
    inside = rr <= 1.0
    nz = -np.sqrt(np.clip(1.0 - rr, 0.0, 1.0))
    return inside.astype(np.float64), _lambert(x, yy, nz, light)


def _cube(x, y, light):
    front = (np.abs(x) <= 1.0) & (y >= 0.0) & (y <= 2.0)
    depth = (y - 2.0) / 0.45  # 0..1 across the top face, which narrows with distance
    top = (y > 2.0) & (depth <= 1.0) & (np.abs(x) <= 1.0 - 0.12 * depth)
    shade = np.where(top, _lambert(0.0, 1.0, 0.0, light) * 1.05, _lambert(0.0, 0.0, -1.0, light))
    edge = front & (y > 1.94)  # a thin darker rim where the faces meet reads as an edge
    return (front | top).astype(np.float64), np.where(edge, shade * 0.85, shade)


def _cone(x, y, light):
    base_y, apex_y = 0.25, 2.65
    half = np.clip((apex_y - y) / (apex_y - base_y), 0.0, 1.0)
    body = (y >= base_y) & (y <= apex_y) & (np.abs(x) <= half)
    base = (y < base_y) & (x * x + ((y - base_y) / base_y) ** 2 <= 1.0)
    xn = np.clip(x / np.maximum(np.where(body, half, 1.0), 1e-3), -1.0, 1.0)
    slope = math.atan(1.0 / (apex_y - base_y))
    shade = _lambert(
        xn * math.cos(slope), math.sin(slope), -np.sqrt(1.0 - xn * xn) * math.cos(slope), light
    )
    return (body | base).astype(np.float64), shade


def _star_polygon(scale: float, cx: float, cy: float) -> np.ndarray:
    angles = np.pi / 2 + np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, 1.15, 0.47) * scale
    return np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)


def _star(x, y, light):
    cy = 1.15 * math.cos(math.pi / 5)  # the two lower points touch the ground
    h, w = x.shape
    # rasterise the polygon on the supersampled grid: object units -> grid pixels
    sx = (w - 1) / (x[0, -1] - x[0, 0])
    sy = (h - 1) / (y[0, 0] - y[-1, 0])

    def raster(poly):
        pts = np.stack([(poly[:, 0] - x[0, 0]) * sx, (y[0, 0] - poly[:, 1]) * sy], axis=1)
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 1, cv2.LINE_8, shift=4)
        return mask.astype(bool)

    face = raster(_star_polygon(1.0, -0.04, cy + 0.02))
    back = raster(_star_polygon(1.0, 0.06, cy - 0.04))  # the extruded thickness, seen below-right
    dist = np.hypot(x + 0.04, y - cy) / 1.15
    shade = np.where(face, _lambert(0.0, 0.0, -1.0, light) * (1.08 - 0.2 * dist), 0.55)
    return (face | back).astype(np.float64), shade


def _person(x, y, light):
    r_body, r_head, head_y = 0.62, 0.46, 2.68
    yb = np.clip(y, r_body, 2.1 - r_body)
    body = x * x + (y - yb) ** 2 <= r_body * r_body
    head = x * x + (y - head_y) ** 2 <= r_head * r_head
    xn = np.clip(x / r_body, -1.0, 1.0)
    body_shade = _lambert(xn, 0.15, -np.sqrt(1.0 - xn * xn), light)
    hx, hy = x / r_head, (y - head_y) / r_head
    hz = -np.sqrt(np.clip(1.0 - hx * hx - hy * hy, 0.0, 1.0))
    shade = np.where(head, _lambert(hx, hy, hz, light), body_shade)
    return (body | head).astype(np.float64), shade


_DRAW = {"ball": _ball, "cube": _cube, "cone": _cone, "star": _star, "person": _person}
