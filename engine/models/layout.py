"""A scene's layout as channels at latent resolution: where each object is, what it is, and
what the sky, ground and far layer are, for the generator to paint.

A 4 M-parameter generator cannot learn from cross-attention alone that "blue" belongs to the
cube and "sand" to the ground (see the storyboard planner). So a plan, or during training the
world's exact labels, is handed to it as pixels it reads directly. Per latent frame j (video
frame `4j`, as the other controls):

    0      occupancy: the fraction of the latent cell the objects cover (0..1)
    1-3    colour: the covering object's palette RGB in -1..1, times occupancy
    4-8    kind: ball, cube, cone, star, person, times occupancy
    9      layout given (1) or free (0)
    10-12  sky: day, dusk, night (one-hot, the same everywhere)
    13-16  ground: grass, sand, snow, checker
    17-19  far layer: hills, mountains, skyline

Channels 0-9 join the patch tokens; 10-19 are averaged per latent frame and reach the model
through the adaptive norms (`VideoDiT.scene_in`), since they say one thing about the whole
frame. All zeros means "no plan", which is what the model is trained to read when a plan is
dropped, so a shot without one runs as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..synth.palette import COLOURS
from ..synth.scene import FAR_LAYERS, GROUNDS, KINDS, SKIES
from .conditioning import latent_frame_sources

OBJECT_CHANNELS = 10  # occupancy, colour, kind, given
SCENE_CHANNELS = len(SKIES) + len(GROUNDS) + len(FAR_LAYERS)
LAYOUT_CHANNELS = OBJECT_CHANNELS + SCENE_CHANNELS


def scene_vector(sky: str | None, ground: str | None, far: str | None) -> np.ndarray:
    """(SCENE_CHANNELS,) one-hot sky, ground and far layer; a part left None stays zero."""
    out = np.zeros(SCENE_CHANNELS, np.float32)
    offset = 0
    for value, options in ((sky, SKIES), (ground, GROUNDS), (far, FAR_LAYERS)):
        if value is not None:
            out[offset + options.index(value)] = 1.0
        offset += len(options)
    return out


def layout_channels(
    objects: Sequence[tuple[str, str, np.ndarray]],
    frames: int,
    latent_width: int,
    latent_height: int,
    sky: str | None = None,
    ground: str | None = None,
    far: str | None = None,
) -> np.ndarray:
    """(LAYOUT_CHANNELS, T', h, w) float32 from (kind, colour, masks (T, H, W)) per object.

    Masks are each object's visible pixels per video frame, occlusion already applied (as the
    world renders them), at any resolution: each latent cell reads the area it covers.
    """
    sources = latent_frame_sources(frames)
    out = np.zeros((LAYOUT_CHANNELS, len(sources), latent_height, latent_width), np.float32)
    size = (latent_width, latent_height)
    for kind, colour, masks in objects:
        rgb = np.asarray(COLOURS[colour], np.float32) / 127.5 - 1.0
        k = 4 + KINDS.index(kind)
        for j, f in enumerate(sources):
            mask = np.asarray(masks[min(f, len(masks) - 1)], np.float32)
            cover = cv2.resize(mask, size, interpolation=cv2.INTER_AREA)
            out[0, j] += cover
            out[1:4, j] += rgb[:, None, None] * cover
            out[k, j] += cover
    np.clip(out[0], 0.0, 1.0, out=out[0])
    out[9] = 1.0
    out[OBJECT_CHANNELS:] = scene_vector(sky, ground, far)[:, None, None, None]
    return out


def layout_from_clip(clip, latent_width: int, latent_height: int) -> np.ndarray:
    """The layout of a world clip from its exact labels (training, and a plan's render)."""
    objects = [(o.kind, o.colour, o.masks) for o in clip.objects]
    meta = clip.meta
    return layout_channels(
        objects,
        len(clip.frames),
        latent_width,
        latent_height,
        meta.get("sky"),
        meta.get("ground"),
        meta.get("far"),
    )
