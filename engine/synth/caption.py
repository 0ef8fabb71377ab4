"""Captions written from the scene, in varied words, so the model learns language, not a template.

Every caption names each object's colour and kind, what it does, the ground, the time of day and
the camera move; the far layer and a direction of travel appear in some. Wording, synonyms and
sentence shape are drawn from the clip's generator. The phrase tables are exported so tests and
the evaluation can check that a caption mentions what the scene holds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .palette import COLOUR_WORDS
from .scene import SceneSpec

KIND_WORDS: dict[str, tuple[str, ...]] = {
    "ball": ("ball", "sphere", "ball"),
    "cube": ("cube", "box", "block"),
    "cone": ("cone", "pointed cone"),
    "star": ("star", "star shape"),
    "person": ("person", "figure", "little person"),
}
GROUND_WORDS: dict[str, tuple[str, ...]] = {
    "grass": ("the grass", "a grassy field", "a green lawn", "a meadow"),
    "sand": ("the sand", "a sandy beach", "the dunes", "sandy ground"),
    "snow": ("the snow", "a snowy field", "fresh snow", "a snowfield"),
    "checker": ("a checkered floor", "a checkerboard floor", "a tiled floor", "the checker floor"),
}
TIME_WORDS: dict[str, tuple[str, ...]] = {
    "day": ("in daylight", "on a sunny day", "at midday", "under a blue sky"),
    "dusk": ("at dusk", "at sunset", "in the evening light", "at twilight"),
    "night": ("at night", "under the night sky", "in the dark of night", "by moonlight"),
}
TIME_NOUNS: dict[str, tuple[str, ...]] = {
    "day": ("daylight", "a sunny day", "midday"),
    "dusk": ("dusk", "sunset", "twilight"),
    "night": ("night", "a moonlit night", "nightfall"),
}
FAR_WORDS: dict[str, tuple[str, ...]] = {
    "hills": ("rolling hills", "hills", "low hills"),
    "mountains": ("mountains", "a mountain range", "snowy peaks"),
    "skyline": ("a city skyline", "distant buildings", "the skyline of a city"),
}
#: (present tense, gerund) pairs per motion
VERB_WORDS: dict[str, tuple[tuple[str, str], ...]] = {
    "bounce": (("bounces", "bouncing"), ("hops", "hopping"), ("bounces along", "bouncing along")),
    "roll": (("rolls", "rolling"), ("rolls along", "rolling along")),
    "slide": (("slides", "sliding"), ("glides", "gliding"), ("skids", "skidding")),
    "fall": (("falls", "falling"), ("drops", "dropping"), ("falls down", "falling down")),
    "rest": (("rests", "resting"), ("sits still", "sitting still"), ("stands", "standing")),
    "walk": (("walks", "walking"), ("strolls", "strolling")),
    "spin": (("spins", "spinning"), ("twirls", "twirling"), ("turns in place", "turning in place")),
}
_PREPOSITIONS = {
    "bounce": ("across", "over"),
    "roll": ("across", "over"),
    "slide": ("across", "over"),
    "walk": ("across", "over"),
    "fall": ("onto",),
    "rest": ("on",),
    "spin": ("on",),
}
#: (clause, gerund phrase) pairs per camera move
CAMERA_WORDS: dict[str, tuple[tuple[str, str], ...]] = {
    "static": (
        ("the camera holds still", "a static camera"),
        ("the camera stays still", "a locked-off camera"),
    ),
    "pan-left": (
        ("the camera pans left", "the camera panning left"),
        ("the camera pans to the left", "panning to the left"),
    ),
    "pan-right": (
        ("the camera pans right", "the camera panning right"),
        ("the camera pans to the right", "panning to the right"),
    ),
    "tilt-up": (
        ("the camera tilts up", "the camera tilting up"),
        ("the camera tilts upward", "tilting upward"),
    ),
    "tilt-down": (
        ("the camera tilts down", "the camera tilting down"),
        ("the camera tilts downward", "tilting downward"),
    ),
    "roll-clockwise": (
        ("the camera rolls clockwise", "the camera rolling clockwise"),
        ("the camera rolls to the right", "rolling clockwise"),
    ),
    "roll-counterclockwise": (
        ("the camera rolls counterclockwise", "the camera rolling counterclockwise"),
        ("the camera rolls to the left", "rolling counterclockwise"),
    ),
    "zoom-in": (
        ("the camera zooms in", "the camera zooming in"),
        ("the lens zooms in", "a slow zoom in"),
    ),
    "zoom-out": (
        ("the camera zooms out", "the camera zooming out"),
        ("the lens zooms out", "a slow zoom out"),
    ),
    "dolly-in": (
        ("the camera dollies in", "the camera dollying in"),
        ("the camera pushes in", "pushing in"),
    ),
    "dolly-out": (
        ("the camera dollies out", "the camera dollying out"),
        ("the camera pulls back", "pulling back"),
    ),
    "truck-left": (
        ("the camera trucks left", "the camera trucking left"),
        ("the camera slides left", "tracking left"),
    ),
    "truck-right": (
        ("the camera trucks right", "the camera trucking right"),
        ("the camera slides right", "tracking right"),
    ),
    "pedestal-up": (
        ("the camera rises", "the camera rising"),
        ("the camera pedestals up", "craning up"),
    ),
    "pedestal-down": (
        ("the camera lowers", "the camera lowering"),
        ("the camera pedestals down", "craning down"),
    ),
}


def describe(spec: SceneSpec, directions: Sequence[str | None], rng: np.random.Generator) -> str:
    """A caption of `spec`; `directions[i]` (e.g. "to the left") says where object i travels."""

    def pick(options):
        return options[int(rng.integers(len(options)))]

    subjects = []
    for obj, direction in zip(spec.objects, directions, strict=True):
        colour = (
            COLOUR_WORDS[obj.colour][0] if rng.random() < 0.7 else pick(COLOUR_WORDS[obj.colour])
        )
        noun = f"{colour} {pick(KIND_WORDS[obj.kind])}"
        present, gerund = pick(VERB_WORDS[obj.motion])
        if direction and rng.random() < 0.5:
            present, gerund = f"{present} {direction}", f"{gerund} {direction}"
        subjects.append((_article(noun), present, gerund, obj.motion))
    ground = pick(GROUND_WORDS[spec.ground])
    time = pick(TIME_WORDS[spec.sky])
    clause, gerund = pick(CAMERA_WORDS[spec.camera_move])
    far = pick(FAR_WORDS[spec.far]) if rng.random() < 0.4 else ""
    if not subjects:
        scene = f"an empty stretch of {ground.removeprefix('the ').removeprefix('a ')} {time}"
        return f"{scene}, {f'{far} on the horizon, ' if far else ''}{clause}"
    prep = pick(_PREPOSITIONS[subjects[0][3]])
    doing = _join([f"{noun} {present}" for noun, present, _, _ in subjects])
    being = _join([f"{noun} {gerund}" for noun, _, gerund, _ in subjects])
    far_tail = f" with {far} in the distance" if far else ""
    form = int(rng.integers(4))
    if form == 0:
        return f"{doing} {prep} {ground} {time}{far_tail} while {clause}"
    if form == 1:
        return f"{pick(TIME_NOUNS[spec.sky])} over {ground}{far_tail}; {being}, {gerund.removeprefix('the ')}"
    if form == 2:
        return f"{clause[0].upper()}{clause[1:]} as {doing} {prep} {ground} {time}{far_tail}."
    return f"{being} on {ground} {time}{', ' + far + ' behind' if far else ''}, {gerund.removeprefix('the ')}"


def _article(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
