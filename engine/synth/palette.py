"""Named colours and the world's lighting: one place that says what "red" and "dusk" look like.

The palette is fixed and small on purpose: captions name these colours and the evaluation asks
"is the named object in the named colour there", so every object is painted in exactly one of
`COLOURS` and `nearest_colour` is the shading-tolerant judge both the tests and the eval use.
"""

from __future__ import annotations

import math

import numpy as np

#: canonical RGB of every colour a caption may name
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (214, 38, 38),
    "orange": (245, 130, 20),
    "yellow": (240, 212, 36),
    "green": (46, 170, 64),
    "blue": (40, 96, 222),
    "purple": (136, 58, 196),
    "pink": (248, 128, 184),
    "white": (238, 238, 238),
    "black": (34, 34, 38),
}
COLOUR_NAMES = tuple(COLOURS)

#: words a caption may use for a colour (the canonical name first; it is used most often)
COLOUR_WORDS: dict[str, tuple[str, ...]] = {
    "red": ("red", "crimson", "scarlet"),
    "orange": ("orange", "tangerine"),
    "yellow": ("yellow", "golden", "lemon-yellow"),
    "green": ("green", "emerald", "lime-green"),
    "blue": ("blue", "azure", "cobalt"),
    "purple": ("purple", "violet"),
    "pink": ("pink", "rose", "magenta-pink"),
    "white": ("white", "snow-white", "pale"),
    "black": ("black", "jet-black", "dark"),
}

_PALETTE = np.array(list(COLOURS.values()), dtype=np.float64)  # (9, 3)


def nearest_colour(rgb) -> str:
    """The palette name closest to `rgb` after the best brightness scale (shading-tolerant).

    Each palette colour may be dimmed or brightened (factor 0.45..1.35, as lighting does) before
    its distance is taken, so a shaded red sphere is still red, while grey stays white or black
    because a grey is far from every saturated colour at any scale.
    """
    x = np.asarray(rgb, dtype=np.float64).reshape(3)
    scale = (_PALETTE @ x) / np.maximum((_PALETTE**2).sum(axis=1), 1e-9)
    scale = np.clip(scale, 0.45, 1.35)
    dist = np.linalg.norm(x[None, :] - scale[:, None] * _PALETTE, axis=1)
    return COLOUR_NAMES[int(np.argmin(dist))]


# ---------------------------------------------------------------------------------------------
# Time of day
# ---------------------------------------------------------------------------------------------

#: sky gradients: (zenith, horizon) RGB per time of day; the clip jitters them a little
SKY_GRADIENTS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "day": ((58, 118, 214), (188, 214, 240)),
    "dusk": ((44, 52, 120), (250, 150, 90)),
    "night": ((6, 9, 26), (30, 40, 78)),
}

#: colour of the light on objects and ground per time of day (multiplies albedo)
LIGHT_TINT: dict[str, tuple[float, float, float]] = {
    "day": (1.0, 1.0, 1.0),
    "dusk": (1.0, 0.92, 0.84),
    "night": (0.66, 0.72, 0.9),
}

#: brightness of the ground under each light (objects keep theirs so their colours read)
GROUND_LIGHT = {"day": 1.0, "dusk": 0.8, "night": 0.45}

#: where the key light comes from, camera-relative: (sideways, up, toward the scene); the x part
#: is multiplied by the clip's light side (-1 left, +1 right). Day light comes from behind the
#: camera; the low dusk sun and the moon sit in front of it, so shadows fall toward the camera.
LIGHT_DIRECTION = {"day": (0.55, 0.65, -0.55), "dusk": (0.6, 0.28, 0.75), "night": (0.4, 0.6, 0.7)}

#: how far (scene units) the ground stays visible before melting into haze
FOG_DISTANCE = {"day": 9.0, "dusk": 7.0, "night": 5.0}

#: darkness of a cast shadow on the ground (0 none, 1 black)
SHADOW_STRENGTH = {"day": 0.5, "dusk": 0.42, "night": 0.25}

#: (dark, light) albedo of each ground; the texture's grey level interpolates between them
GROUND_COLOURS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "grass": ((38, 92, 30), (120, 176, 70)),
    "sand": ((186, 150, 98), (236, 212, 160)),
    "snow": ((188, 200, 220), (250, 252, 255)),
    "checker": ((52, 52, 60), (226, 222, 214)),
}

#: other checker floors (dark, light) a clip may draw instead of the default
CHECKER_COLOURS = (
    ((52, 52, 60), (226, 222, 214)),
    ((96, 46, 40), (232, 218, 190)),
    ((30, 60, 110), (220, 226, 236)),
)

#: far-layer colours per (layer, time): the far layer is also pulled toward the horizon haze
FAR_COLOURS: dict[str, dict[str, tuple[int, int, int]]] = {
    "hills": {"day": (70, 120, 70), "dusk": (70, 50, 80), "night": (12, 18, 30)},
    "mountains": {"day": (96, 110, 140), "dusk": (80, 60, 96), "night": (16, 20, 36)},
    "skyline": {"day": (110, 118, 136), "dusk": (52, 40, 70), "night": (10, 12, 22)},
}


def jitter_colour(rng: np.random.Generator, rgb, amount: float = 12.0) -> np.ndarray:
    """`rgb` moved by a small random amount per channel: variety without changing its name."""
    return np.clip(np.asarray(rgb, np.float64) + rng.uniform(-amount, amount, 3), 0, 255)


def ramp_lut(dark, light, contrast: float = 0.0) -> np.ndarray:
    """A (256, 1, 3) uint8 colour map from grey level to colour, for `cv2.applyColorMap`.

    `contrast` > 0 steepens the ramp around mid-grey (a tanh curve), which re-sharpens edges the
    texture's resampling softened (a checker floor seen close up) and leaves the mean alone.
    """
    t = np.arange(256, dtype=np.float64) / 255.0
    if contrast > 0.0:
        t = 0.5 + 0.5 * np.tanh(contrast * (t - 0.5) * 2.0) / math.tanh(contrast)
    dark = np.asarray(dark, np.float64)
    light = np.asarray(light, np.float64)
    lut = dark[None, :] + (light - dark)[None, :] * t[:, None]
    return np.clip(lut + 0.5, 0, 255).astype(np.uint8).reshape(256, 1, 3)
