"""Twenty prompts written by hand, in words the world's captioner never uses.

The held-out world clips are described by `engine.synth.caption`, whose phrasing the planner
was built to read; a person writes otherwise: other synonyms ("orb", "crate", "pyramid",
"desert", "chessboard", "sundown"), counts ("two", "three"), colour names outside the
captioner's tables ("ruby", "navy", "lavender") and other word orders. Each prompt carries
what it asks for, written down by a person and not by the planner, so a planner that misreads
a prompt fails here instead of grading itself.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HandPrompt:
    text: str
    objects: tuple[tuple[str, str], ...]  # (colour, kind) per object asked for
    ground: str
    sky: str


HAND_PROMPTS = (
    HandPrompt("two ruby orbs leap over the desert at noon", (("red", "ball"),) * 2, "sand", "day"),
    HandPrompt(
        "at sundown a navy crate scoots across the chessboard",
        (("blue", "cube"),),
        "checker",
        "dusk",
    ),
    HandPrompt(
        "a jade pyramid sits on a snowy plain at midnight", (("green", "cone"),), "snow", "night"
    ),
    HandPrompt(
        "a lavender globe rolls over the turf in the morning", (("purple", "ball"),), "grass", "day"
    ),
    HandPrompt(
        "under the evening sky, an amber brick slips across the sand",
        (("orange", "cube"),),
        "sand",
        "dusk",
    ),
    HandPrompt(
        "three ivory orbs bounce on the tiles by day", (("white", "ball"),) * 3, "checker", "day"
    ),
    HandPrompt(
        "a charcoal pyramid plummets onto a pasture at noon", (("black", "cone"),), "grass", "day"
    ),
    HandPrompt(
        "a fuchsia hiker wanders across the desert at sundown",
        (("pink", "person"),),
        "sand",
        "dusk",
    ),
    HandPrompt(
        "on a checkerboard, two mustard cubes rest under the midnight sky",
        (("yellow", "cube"),) * 2,
        "checker",
        "night",
    ),
    HandPrompt("a sapphire star whirls on the snow at noon", (("blue", "star"),), "snow", "day"),
    HandPrompt(
        "the camera pans left as a lime orb jumps across the park in the morning",
        (("green", "ball"),),
        "grass",
        "day",
    ),
    HandPrompt(
        "a plum crate tumbles down onto the desert at midnight",
        (("purple", "cube"),),
        "sand",
        "night",
    ),
    HandPrompt(
        "an ebony globe and an ivory pyramid sit on a chessboard at noon",
        (("black", "ball"), ("white", "cone")),
        "checker",
        "day",
    ),
    HandPrompt(
        "at golden hour a salmon orb rolls over the snow", (("pink", "ball"),), "snow", "dusk"
    ),
    HandPrompt(
        "tracking right, a cherry crate scoots over the tiles at sundown",
        (("red", "cube"),),
        "checker",
        "dusk",
    ),
    HandPrompt(
        "a navy pyramid and a ruby star stay put on the turf under a starry sky",
        (("blue", "cone"), ("red", "star")),
        "grass",
        "night",
    ),
    HandPrompt(
        "a jade walker marches across the snow at noon", (("green", "person"),), "snow", "day"
    ),
    HandPrompt(
        "in the evening, three sapphire bricks sit on the desert",
        (("blue", "cube"),) * 3,
        "sand",
        "dusk",
    ),
    HandPrompt(
        "a mustard orb leaps across the pasture at midnight, camera zooming in",
        (("yellow", "ball"),),
        "grass",
        "night",
    ),
    HandPrompt(
        "on the tiles at noon, a charcoal star whirls", (("black", "star"),), "checker", "day"
    ),
)
