"""What a clip shows, drawn from a seed: sky, ground, far layer, objects and the camera move.

A `SceneSpec` is a plain dataclass, so a test (or a curriculum) can also build one by hand:
"a red ball bouncing on snow at dusk while the camera pans left" is a few lines. `sample_scene`
fills in everything not forced, from one `numpy.random.Generator`, so a seed decides it all.
Objects are placed where the reference view sees them and given velocities that keep them in
view; in some clips two of them cross at different depths, so one passes behind the other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .palette import COLOUR_NAMES
from .physics import simulate
from .rig import CAMERA_MOVES, FOV_DEG, MOVE_EASINGS

SKIES = ("day", "dusk", "night")
GROUNDS = ("grass", "sand", "snow", "checker")
FAR_LAYERS = ("hills", "mountains", "skyline")
KINDS = ("ball", "cube", "cone", "star", "person")

#: what each kind may do
MOTIONS: dict[str, tuple[str, ...]] = {
    "ball": ("bounce", "roll", "rest"),
    "cube": ("slide", "fall", "rest"),
    "cone": ("slide", "fall", "rest"),
    "star": ("spin", "slide", "fall", "rest"),
    "person": ("walk", "rest"),
}
#: the label verb of each motion (`ObjectLabel.motion`)
VERBS = {
    "bounce": "bounces",
    "roll": "rolls",
    "slide": "slides",
    "fall": "falls",
    "rest": "rests",
    "walk": "walks",
    "spin": "spins",
}
#: motions that carry an object across the ground
TRAVELLING = ("bounce", "roll", "slide", "walk")

#: collision radius range per kind, scene units (the camera stands ~0.45 units high)
_RADIUS = {
    "ball": (0.09, 0.15),
    "cube": (0.08, 0.13),
    "cone": (0.08, 0.13),
    "star": (0.09, 0.14),
    "person": (0.07, 0.1),
}
#: half-width of the view, as x / depth, that placed objects stay inside
_VIEW = 0.75 * math.tan(math.radians(FOV_DEG / 2.0))


@dataclass
class ObjectSpec:
    """One object and its initial state. `position` is its bottom: y is height above ground."""

    kind: str  # one of KINDS
    colour: str  # one of COLOUR_NAMES
    motion: str  # one of MOTIONS[kind]
    position: tuple[float, float, float]  # x right, y up (bottom above ground), z depth
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)  # units / s
    radius: float = 0.1  # collision radius; the drawing scales with it
    restitution: float = 0.3  # fraction of speed kept in a bounce
    friction: float = 0.3  # sliding friction (balls: rolling resistance)
    spin: float = 0.0  # rad / s about the vertical axis ("spin" only)


@dataclass
class SceneSpec:
    """Everything a clip shows; `detail_seed` drives textures, palette jitter and wording."""

    sky: str = "day"  # one of SKIES
    ground: str = "grass"  # one of GROUNDS
    far: str = "hills"  # one of FAR_LAYERS
    objects: list[ObjectSpec] = field(default_factory=list)
    camera_move: str = "static"  # one of CAMERA_MOVES
    camera_strength: float = 1.0  # multiplies the move's magnitude
    camera_easing: str = "ease-in-out"
    camera_height: float = 0.45  # rig height above the ground, scene units
    camera_pitch: float = -8.0  # rig pitch, degrees (negative looks down)
    sun_azimuth: float = -30.0  # degrees, negative = the light comes from the left
    detail_seed: int = 0

    def validate(self) -> None:
        """Raise ValueError, naming the field, for anything the world cannot draw."""
        for name, value, options in (
            ("sky", self.sky, SKIES),
            ("ground", self.ground, GROUNDS),
            ("far", self.far, FAR_LAYERS),
            ("camera_move", self.camera_move, tuple(CAMERA_MOVES)),
        ):
            if value not in options:
                raise ValueError(f"{name}: {value!r} is not one of {', '.join(options)}.")
        if not 0.05 <= self.camera_height <= 5.0:
            raise ValueError(f"camera_height: {self.camera_height} is outside 0.05..5 units.")
        for i, obj in enumerate(self.objects):
            where = f"objects[{i}]"
            if obj.kind not in KINDS:
                raise ValueError(f"{where}.kind: {obj.kind!r} is not one of {', '.join(KINDS)}.")
            if obj.colour not in COLOUR_NAMES:
                raise ValueError(
                    f"{where}.colour: {obj.colour!r} is not one of {', '.join(COLOUR_NAMES)}."
                )
            if obj.motion not in MOTIONS[obj.kind]:
                raise ValueError(
                    f"{where}.motion: a {obj.kind} cannot {obj.motion!r}; it can {', '.join(MOTIONS[obj.kind])}."
                )
            if not obj.radius > 0.0:
                raise ValueError(f"{where}.radius: must be positive (got {obj.radius}).")

    def meta(self) -> dict:
        """The scene's labels as plain JSON-able values."""
        return {
            "sky": self.sky,
            "ground": self.ground,
            "far": self.far,
            "camera_move": self.camera_move,
            "camera_strength": float(self.camera_strength),
            "camera_easing": self.camera_easing,
            "camera_height": float(self.camera_height),
            "camera_pitch": float(self.camera_pitch),
            "sun_azimuth": float(self.sun_azimuth),
            "objects": [f"{o.colour} {o.kind}" for o in self.objects],
        }


def sample_scene(
    rng: np.random.Generator,
    frames: int = 17,
    fps: float = 12.0,
    *,
    sky: str | None = None,
    ground: str | None = None,
    far: str | None = None,
    camera_move: str | None = None,
    objects: Sequence[tuple[str | None, str | None, str | None]] | None = None,
    crossing: bool | None = None,
) -> SceneSpec:
    """Draw a scene; any argument given is forced, the rest comes from `rng`.

    `objects` forces the count and, per object, any of (kind, colour, motion) (None = draw).
    `crossing` forces (or forbids) two objects crossing at different depths (needs two).
    """
    duration = max(frames - 1, 1) / fps
    spec = SceneSpec(
        sky=sky or _pick(rng, SKIES),
        ground=ground or _pick(rng, GROUNDS),
        far=far or _pick(rng, FAR_LAYERS),
        camera_move=camera_move or _pick(rng, tuple(CAMERA_MOVES)),
        camera_strength=float(rng.uniform(0.6, 1.4)),
        camera_easing=_pick(rng, MOVE_EASINGS),
        camera_height=float(rng.uniform(0.35, 0.6)),
        camera_pitch=float(rng.uniform(-13.0, -4.0)),
        sun_azimuth=float(rng.choice([-1.0, 1.0]) * rng.uniform(15.0, 60.0)),
        detail_seed=int(rng.integers(0, 2**31 - 1)),
    )
    if objects is None:
        objects = [(None, None, None)] * int(rng.choice([1, 2, 3], p=[0.35, 0.4, 0.25]))
    for kind, colour, motion in objects:
        kind = kind or _pick(rng, KINDS)
        colour = colour or _pick(rng, COLOUR_NAMES, avoid=[o.colour for o in spec.objects])
        motion = motion or _pick_motion(rng, kind)
        spec.objects.append(_place(rng, kind, colour, motion, duration, spec.objects))
    if crossing is None:
        crossing = len(spec.objects) >= 2 and rng.random() < 0.35
    if crossing and len(spec.objects) >= 2:
        # a lower camera, so the near object's outline covers the far one's (not just its feet)
        spec.camera_height = float(rng.uniform(0.22, 0.32))
        spec.camera_pitch = float(rng.uniform(-6.0, -2.0))
        _arrange_crossing(rng, spec.objects, frames, fps)
    return spec


def make_object(
    rng: np.random.Generator,
    kind: str,
    colour: str,
    motion: str,
    *,
    frames: int = 17,
    fps: float = 12.0,
) -> ObjectSpec:
    """One object of the given kind, colour and motion, placed and launched from `rng`."""
    return _place(rng, kind, colour, motion, max(frames - 1, 1) / fps, [])


def _pick(rng: np.random.Generator, options: Sequence[str], avoid: Sequence[str] = ()) -> str:
    choices = [o for o in options if o not in avoid] or list(options)
    return choices[int(rng.integers(len(choices)))]


def _pick_motion(rng: np.random.Generator, kind: str) -> str:
    """A motion for `kind`; resting is half as likely as each way of moving."""
    options = MOTIONS[kind]
    weights = np.array([0.5 if m == "rest" else 1.0 for m in options])
    return options[int(rng.choice(len(options), p=weights / weights.sum()))]


def _place(
    rng: np.random.Generator,
    kind: str,
    colour: str,
    motion: str,
    duration: float,
    others: list[ObjectSpec],
) -> ObjectSpec:
    """Place an object in view, clear of `others`, with initial velocity for its motion."""
    if motion not in MOTIONS.get(kind, ()):
        raise ValueError(f"A {kind} cannot {motion}; it can: {', '.join(MOTIONS.get(kind, ()))}.")
    radius = float(rng.uniform(*_RADIUS[kind]))
    for _ in range(20):  # rejection sampling: a few tries to stay clear of the others
        z = float(rng.uniform(1.1, 2.8))
        x = float(rng.uniform(-0.7, 0.7)) * _VIEW * z
        if all(
            math.hypot(x - o.position[0], z - o.position[2]) > 1.5 * (radius + o.radius) + 0.05
            for o in others
        ):
            break
    obj = ObjectSpec(kind, colour, motion, (x, 0.0, z), radius=radius)
    travel = float(rng.uniform(0.25, 0.8)) * _VIEW * z * float(rng.choice([-1.0, 1.0]))
    if abs(x + travel) > _VIEW * z:  # keep it in view: go the other way
        travel = -travel
    vx, vz = travel / duration, float(rng.uniform(-0.15, 0.15)) * z / duration
    if motion == "bounce":
        height = float(rng.uniform(1.0, 4.0)) * radius
        return replace(
            obj,
            position=(x, height, z),
            velocity=(vx, float(rng.uniform(-0.2, 1.2)), vz),
            restitution=float(rng.uniform(0.6, 0.85)),
            friction=0.02,
        )
    if motion == "roll":
        return replace(
            obj, velocity=(vx, 0.0, vz), restitution=0.5, friction=float(rng.uniform(0.01, 0.05))
        )
    if motion == "slide":
        mu = float(rng.uniform(0.05, 0.2))
        speed = math.hypot(vx, vz) * float(rng.uniform(1.1, 1.5))
        scale = speed / max(math.hypot(vx, vz), 1e-9)
        return replace(obj, velocity=(vx * scale, 0.0, vz * scale), friction=mu, restitution=0.2)
    if motion == "fall":
        height = float(rng.uniform(2.0, 5.0)) * radius
        return replace(
            obj, position=(x, height, z), restitution=float(rng.uniform(0.1, 0.3)), friction=0.6
        )
    if motion == "walk":
        return replace(obj, velocity=(vx * 0.8, 0.0, vz * 0.5))
    if motion == "spin":
        return replace(
            obj, spin=float(rng.choice([-1.0, 1.0]) * rng.uniform(2.0, 6.0)), friction=0.6
        )
    return replace(obj, friction=0.6)  # rest


def _arrange_crossing(
    rng: np.random.Generator, objects: list[ObjectSpec], frames: int, fps: float
) -> None:
    """Make objects[0] (near) pass in front of objects[1] (far) mid-clip, in the reference view."""
    near, far = objects[0], objects[1]
    duration = max(frames - 1, 1) / fps
    if near.motion not in TRAVELLING:
        near.motion = next(m for m in MOTIONS[near.kind] if m in TRAVELLING)
    z_near = float(rng.uniform(1.1, 1.6))
    z_far = z_near + float(rng.uniform(0.5, 1.0))
    sign = float(rng.choice([-1.0, 1.0]))
    speed = float(rng.uniform(1.0, 1.4)) * _VIEW * z_near / duration
    lift, vy = (near.position[1], near.velocity[1]) if near.motion == "bounce" else (0.0, 0.0)
    objects[0] = near = replace(
        near, position=(0.0, lift, z_near), velocity=(sign * speed, vy, 0.0)
    )
    if near.motion == "slide":  # glide through rather than stop in front
        near.friction = min(near.friction, 0.03)
    objects[1] = far = replace(
        far,
        position=(0.0, far.position[1], z_far),
        velocity=(far.velocity[0], far.velocity[1], 0.0),
    )
    # where would each be at the crossing time, started at x = 0? shift both so they meet there
    meet_time = float(rng.uniform(0.4, 0.6)) * duration
    k = int(round(meet_time * fps))
    sim = simulate([near, far], k + 1, fps)
    screen = float(rng.uniform(-0.2, 0.2)) * _VIEW
    for i, obj in enumerate((near, far)):
        dx = screen * sim.positions[k, i, 2] - sim.positions[k, i, 0]
        objects[i] = replace(obj, position=(obj.position[0] + dx, obj.position[1], obj.position[2]))
    for obj in objects[2:]:  # a third object stays out of the way, further back
        obj.position = (obj.position[0], obj.position[1], max(obj.position[2], z_far + 0.4))
