"""The procedural physics world that trains and tests Kinema's built-in video model.

Deterministic from a seed, rendered with numpy and OpenCV: a sky (day, dusk, night), a textured
ground in perspective (grass, sand, snow, a checker floor), a far layer (hills, mountains, a
skyline), one to three objects (ball, cube, cone, star, person) in named colours with shading and
shadows, moving under gravity with bounces, rolling, sliding and collisions, filmed by a camera
that pans, tilts, rolls, zooms, dollies, trucks and pedestals. Every clip carries its caption,
camera poses, object trajectories, masks and depth order.

    clip = render_clip(seed=7)                      # a Clip: frames + labels
    for batch in batches(8, workers=2): ...         # numpy batches for training
    bench_world()                                   # one-core frames per second
"""

from __future__ import annotations

from .caption import CAMERA_WORDS, GROUND_WORDS, KIND_WORDS, TIME_NOUNS, TIME_WORDS, describe
from .clip import POSE_FIELDS, Clip, ObjectLabel, render_clip
from .dataset import MAX_OBJECTS, Batch, batches, bench_world, make_batch
from .palette import COLOUR_NAMES, COLOUR_WORDS, COLOURS, nearest_colour
from .physics import GRAVITY, Simulation, simulate
from .rig import CAMERA_MOVES, FOV_DEG
from .scene import (
    FAR_LAYERS,
    GROUNDS,
    KINDS,
    MOTIONS,
    SKIES,
    VERBS,
    ObjectSpec,
    SceneSpec,
    make_object,
    sample_scene,
)

__all__ = [
    "CAMERA_MOVES",
    "CAMERA_WORDS",
    "COLOURS",
    "COLOUR_NAMES",
    "COLOUR_WORDS",
    "FAR_LAYERS",
    "FOV_DEG",
    "GRAVITY",
    "GROUNDS",
    "GROUND_WORDS",
    "KINDS",
    "KIND_WORDS",
    "MAX_OBJECTS",
    "MOTIONS",
    "POSE_FIELDS",
    "SKIES",
    "TIME_NOUNS",
    "TIME_WORDS",
    "VERBS",
    "Batch",
    "Clip",
    "ObjectLabel",
    "ObjectSpec",
    "SceneSpec",
    "Simulation",
    "batches",
    "bench_world",
    "describe",
    "make_batch",
    "make_object",
    "nearest_colour",
    "render_clip",
    "sample_scene",
    "simulate",
]
