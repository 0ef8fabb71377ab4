"""The far layer on the horizon: rolling hills, a mountain range or a city skyline.

Drawn into the clip's panorama as polygons in world azimuth/elevation, so the layer is fixed
in the world: a pan slides it across the frame, a dolly or truck does not move it (it is far
away), which is what makes the near ground and objects show parallax against it. Every layer
reaches a little below the horizon so the foggy far ground meets it without a gap.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

from .palette import FAR_COLOURS

_BELOW = -0.12  # radians: where every far polygon closes, under the horizon
_SHIFT = 4  # fixed-point bits for sub-pixel polygon edges


def draw_far_layer(
    pano: np.ndarray,
    far: str,
    sky: str,
    haze: np.ndarray,
    to_pixels: Callable[[np.ndarray, np.ndarray], np.ndarray],
    azimuths: tuple[float, float],
    focal: float,
    rng: np.random.Generator,
) -> None:
    """Paint `far` ("hills", "mountains" or "skyline") into `pano` in place.

    `to_pixels(az, el)` maps world azimuth/elevation (radians) to panorama pixels; `azimuths`
    is the range the clip can see; `haze` is the horizon colour distant layers fade toward.
    """
    if far not in FAR_COLOURS:
        raise ValueError(f"Unknown far layer {far!r}; choose one of: {', '.join(FAR_COLOURS)}.")
    lo, hi = azimuths
    samples = max(48, int((hi - lo) * focal / 2.0))
    az = np.linspace(lo, hi, samples)
    base = np.asarray(FAR_COLOURS[far][sky], np.float64)
    if far == "hills":
        for haze_amount, height, amp in ((0.55, 0.07, 0.035), (0.2, 0.035, 0.025)):
            ridge = height + _waves(rng, az, amp, (3.0, 7.0, 17.0))
            _fill_ridge(pano, to_pixels, az, ridge, _mix(base, haze, haze_amount))
    elif far == "mountains":
        ridge = _peaks(rng, az)
        _fill_ridge(pano, to_pixels, az, ridge, _mix(base, haze, 0.35))
        snow = float(np.quantile(ridge, 0.75))
        cap = np.maximum(ridge, snow)
        poly = np.concatenate(
            [np.stack([az, cap], 1), np.stack([az[::-1], np.full(samples, snow)], 1)]
        )
        snow_colour = {"day": (236, 240, 248), "dusk": (230, 170, 170), "night": (60, 66, 90)}[sky]
        _fill(
            pano,
            to_pixels(poly[:, 0], poly[:, 1]),
            _mix(np.asarray(snow_colour, np.float64), haze, 0.25),
        )
        front = 0.03 + _waves(rng, az, 0.015, (5.0, 13.0))
        _fill_ridge(pano, to_pixels, az, front, _mix(base * 0.8, haze, 0.1))
    else:
        _skyline(pano, to_pixels, lo, hi, sky, base, haze, rng)


def _mix(colour: np.ndarray, haze: np.ndarray, amount: float) -> tuple[int, int, int]:
    c = colour * (1.0 - amount) + np.asarray(haze, np.float64) * amount
    return tuple(int(v) for v in np.clip(np.round(c), 0, 255))


def _waves(
    rng: np.random.Generator, az: np.ndarray, amp: float, freqs: tuple[float, ...]
) -> np.ndarray:
    """A smooth random ridge: a few sines of falling amplitude."""
    out = np.zeros_like(az)
    for k, f in enumerate(freqs):
        out += amp / (k + 1) * np.sin(f * az + rng.uniform(0, 2 * math.pi))
    return out


def _peaks(rng: np.random.Generator, az: np.ndarray) -> np.ndarray:
    """A jagged mountain ridge: piecewise-linear peaks and saddles, with small-scale roughness."""
    knots = [az[0] - 0.2]
    while knots[-1] < az[-1] + 0.2:
        knots.append(knots[-1] + rng.uniform(0.05, 0.14))
    heights = np.where(
        np.arange(len(knots)) % 2 == 0,
        rng.uniform(0.025, 0.06, len(knots)),
        rng.uniform(0.07, 0.17, len(knots)),
    )
    ridge = np.interp(az, knots, heights)
    return ridge + _waves(rng, az, 0.004, (60.0, 140.0))


def _fill_ridge(pano, to_pixels, az: np.ndarray, ridge: np.ndarray, colour) -> None:
    """Fill everything under `ridge` (down to below the horizon)."""
    poly_az = np.concatenate([az, [az[-1], az[0]]])
    poly_el = np.concatenate([ridge, [_BELOW, _BELOW]])
    _fill(pano, to_pixels(poly_az, poly_el), colour)


def _fill(pano: np.ndarray, pts: np.ndarray, colour) -> None:
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(pts) >= 3:
        cv2.fillPoly(
            pano, [np.round(pts * (1 << _SHIFT)).astype(np.int32)], colour, cv2.LINE_AA, _SHIFT
        )


def _skyline(
    pano,
    to_pixels,
    lo: float,
    hi: float,
    sky: str,
    base: np.ndarray,
    haze,
    rng: np.random.Generator,
) -> None:
    """Blocks of buildings of random width and height; lit windows at night."""
    windows_az, windows_el = [], []
    az = lo - rng.uniform(0.0, 0.05)
    while az < hi:
        width = rng.uniform(0.025, 0.07)
        height = rng.uniform(0.02, 0.13)
        shade = rng.uniform(0.8, 1.2)
        corners_az = np.array([az, az, az + width, az + width])
        corners_el = np.array([_BELOW, height, height, _BELOW])
        _fill(
            pano,
            to_pixels(corners_az, corners_el),
            _mix(np.clip(base * shade, 0, 255), haze, rng.uniform(0.1, 0.35)),
        )
        if sky != "day":
            cols = np.arange(az + 0.006, az + width - 0.004, 0.011)
            rows = np.arange(0.008, height - 0.006, 0.012)
            ga, ge = np.meshgrid(cols, rows)
            lit = rng.random(ga.shape) < (0.35 if sky == "night" else 0.15)
            windows_az.append(ga[lit])
            windows_el.append(ge[lit])
        az += width + rng.uniform(0.0, 0.015)
    # the street level: one even band from the horizon down, so the foggy ground meets it cleanly
    band_az = np.array([lo - 0.1, hi + 0.1, hi + 0.1, lo - 0.1])
    band_el = np.array([0.004, 0.004, _BELOW, _BELOW])
    _fill(pano, to_pixels(band_az, band_el), _mix(base, haze, 0.3))
    if windows_az:
        pts = to_pixels(np.concatenate(windows_az), np.concatenate(windows_el))
        pts = np.round(pts[np.isfinite(pts).all(axis=1)]).astype(int)
        ok = (
            (pts[:, 0] >= 0)
            & (pts[:, 0] < pano.shape[1])
            & (pts[:, 1] >= 0)
            & (pts[:, 1] < pano.shape[0])
        )
        pano[pts[ok, 1], pts[ok, 0]] = (255, 214, 120)
