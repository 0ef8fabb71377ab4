"""Prompt -> `ScenePlan`: the scene the prompt describes, placed and launched by the world.

The procedural world already knows how to stage a scene from a few forced choices
(`engine.synth.scene.sample_scene`) and how it then moves (`engine.synth.physics`). So the
planner only reads the prompt (`parse.read_prompt`), forces what it names, and lets the world
fill in the rest from the seed: a ball that "bounces" is launched the way the world launches
bouncing balls, and bounces because gravity and restitution make it. The same prompt and seed
always give the same plan; another seed gives another staging of the same words.

A plan is the storyboard's source of truth: the shot stores it (JSON, validated field by
field), its strokes and camera path are compiled from it (`storyboard.controls`), and the
built-in model paints its layout (`layout_for`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .. import fields, limits
from ..errors import ProjectError
from ..fields import show
from ..synth.palette import COLOUR_NAMES
from ..synth.rig import CAMERA_MOVES
from ..synth.scene import (
    FAR_LAYERS,
    GROUNDS,
    KINDS,
    MOTIONS,
    SKIES,
    TRAVELLING,
    VERBS,
    ObjectSpec,
    SceneSpec,
    sample_scene,
)
from .parse import Reading, read_prompt

#: the most objects the world (and the generator trained on it) shows at once
MAX_OBJECTS = 3
#: entries a plan's lists of words, notices and stroke ids may hold (a file is untrusted)
_MAX_WORDS = 256
#: a motion a kind cannot do -> the motions to try instead, nearest first
NEAREST_MOTION: dict[str, tuple[str, ...]] = {
    "bounce": ("roll", "fall", "walk", "slide", "rest"),
    "roll": ("slide", "walk", "bounce", "rest"),
    "slide": ("roll", "walk", "rest"),
    "fall": ("bounce", "rest"),
    "walk": ("slide", "roll", "rest"),
    "spin": ("roll", "rest"),
    "rest": ("rest",),
}
_EASINGS = ("linear", "ease-in", "ease-out", "ease-in-out", "hold", "bezier")


@dataclass
class ScenePlan:
    """A prompt staged in the world: the scene, and how the words were read.

    `spec` is the world's own scene description (initial states; physics does the rest).
    `frames` and `fps` are the timing it was staged for: velocities are chosen so objects stay
    in view for that long. `stroke_ids` and `camera_set` record what the plan put into its
    shot, so planning again replaces those and leaves the user's own work alone.
    """

    prompt: str
    seed: int
    frames: int
    fps: float
    spec: SceneSpec
    used: list[str] = field(default_factory=list)  # the words the plan follows
    unused: list[str] = field(default_factory=list)  # the words it could not use
    notices: list[str] = field(default_factory=list)  # choices made for the user, in sentences
    stroke_ids: list[str] = field(default_factory=list)
    camera_set: bool = False

    # -- reading

    @property
    def notice(self) -> str:
        """Everything the user should know about how the prompt was read, in one paragraph."""
        parts = list(self.notices)
        if self.unused:
            words = ", ".join(f"'{w}'" for w in self.unused)
            parts.append(f"Not used (the world has nothing for them): {words}.")
        return " ".join(parts)

    def labels(self) -> list[str]:
        """One label per object, as its stroke is named: "red ball · bounces"."""
        return [object_label(o) for o in self.spec.objects]

    def summary(self) -> list[str]:
        """The plan in lines a person reads (the CLI prints these)."""
        spec = self.spec
        lines = [
            f"prompt:  {self.prompt}",
            f"seed:    {self.seed}  ({self.frames} frames at {self.fps:g} fps)",
            f"sky:     {spec.sky}",
            f"ground:  {spec.ground}",
            f"far:     {spec.far}",
            f"camera:  {spec.camera_move}"
            + (f" (strength {spec.camera_strength:.2f})" if spec.camera_move != "static" else ""),
        ]
        if not spec.objects:
            lines.append("objects: none")
        for i, obj in enumerate(spec.objects):
            lines.append(f"{'objects:' if i == 0 else '':8s} {object_label(obj)}")
        lines.append(f"unused:  {', '.join(self.unused) if self.unused else 'none'}")
        lines.extend(f"note:    {n}" for n in self.notices)
        return lines

    def fingerprint(self) -> str:
        """A short hash of what the plan shows (caches key their pictures by it)."""
        data = json.dumps(self.to_dict()["spec"], sort_keys=True)
        return hashlib.sha1(f"{self.seed}:{data}".encode()).hexdigest()[:16]

    # -- JSON

    def to_dict(self) -> dict:
        spec = self.spec
        return {
            "prompt": self.prompt,
            "seed": int(self.seed),
            "frames": int(self.frames),
            "fps": float(self.fps),
            "spec": {
                "sky": spec.sky,
                "ground": spec.ground,
                "far": spec.far,
                "camera_move": spec.camera_move,
                "camera_strength": float(spec.camera_strength),
                "camera_easing": spec.camera_easing,
                "camera_height": float(spec.camera_height),
                "camera_pitch": float(spec.camera_pitch),
                "sun_azimuth": float(spec.sun_azimuth),
                "detail_seed": int(spec.detail_seed),
                "objects": [
                    {
                        "kind": o.kind,
                        "colour": o.colour,
                        "motion": o.motion,
                        "position": [float(v) for v in o.position],
                        "velocity": [float(v) for v in o.velocity],
                        "radius": float(o.radius),
                        "restitution": float(o.restitution),
                        "friction": float(o.friction),
                        "spin": float(o.spin),
                    }
                    for o in spec.objects
                ],
            },
            "used": list(self.used),
            "unused": list(self.unused),
            "notices": list(self.notices),
            "stroke_ids": list(self.stroke_ids),
            "camera_set": bool(self.camera_set),
        }

    @classmethod
    def from_dict(cls, data: object, field: str = "plan") -> ScenePlan:
        """Read and validate a plan; a `ProjectError` names the first bad field."""
        data = _object(data, field)
        spec_data = _object(_need(data, "spec", field), f"{field}.spec")
        where = f"{field}.spec"
        objects = []
        raw_objects = _list(spec_data, "objects", where, limit=MAX_OBJECTS, what="objects")
        for i, raw in enumerate(raw_objects):
            at = f"{where}.objects[{i}]"
            raw = _object(raw, at)
            kind = _choice(raw, "kind", at, KINDS)
            motion = _choice(raw, "motion", at, MOTIONS[kind])
            objects.append(
                ObjectSpec(
                    kind=kind,
                    colour=_choice(raw, "colour", at, COLOUR_NAMES),
                    motion=motion,
                    position=_vector(raw, "position", at, 100.0),
                    velocity=_vector(raw, "velocity", at, 100.0),
                    radius=_number(raw, "radius", at, 1e-3, 5.0),
                    restitution=_number(raw, "restitution", at, 0.0, 1.0),
                    friction=_number(raw, "friction", at, 0.0, 10.0),
                    spin=_number(raw, "spin", at, -100.0, 100.0),
                )
            )
        spec = SceneSpec(
            sky=_choice(spec_data, "sky", where, SKIES),
            ground=_choice(spec_data, "ground", where, GROUNDS),
            far=_choice(spec_data, "far", where, FAR_LAYERS),
            objects=objects,
            camera_move=_choice(spec_data, "camera_move", where, tuple(CAMERA_MOVES)),
            camera_strength=_number(spec_data, "camera_strength", where, 0.0, 5.0),
            camera_easing=_choice(spec_data, "camera_easing", where, _EASINGS),
            camera_height=_number(spec_data, "camera_height", where, 0.05, 5.0),
            camera_pitch=_number(spec_data, "camera_pitch", where, -89.0, 89.0),
            sun_azimuth=_number(spec_data, "sun_azimuth", where, -180.0, 180.0),
            detail_seed=_whole(spec_data, "detail_seed", where, 0, 2**32 - 1),
        )
        stroke_ids = _list(data, "stroke_ids", field)
        for i, value in enumerate(stroke_ids):
            if not isinstance(value, str) or not value or len(value) > 64:
                raise ProjectError(
                    f"must be a stroke id, got {show(value)}", f"{field}.stroke_ids[{i}]"
                )
        camera_set = data.get("camera_set", False)
        if not isinstance(camera_set, bool):
            raise ProjectError(
                f"must be true or false, got {show(camera_set)}", f"{field}.camera_set"
            )
        return cls(
            prompt=_text(data, "prompt", field),
            seed=_whole(data, "seed", field, 0, 2**32 - 1),
            frames=_whole(data, "frames", field, 1, 100_000),
            fps=_number(data, "fps", field, 1e-3, 240.0),
            spec=spec,
            used=_words(data, "used", field),
            unused=_words(data, "unused", field),
            notices=_words(data, "notices", field),
            stroke_ids=list(stroke_ids),
            camera_set=camera_set,
        )


def object_label(obj: ObjectSpec) -> str:
    return f"{obj.colour} {obj.kind} · {VERBS[obj.motion]}"


# ---------------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------------


def plan_prompt(
    prompt: str, seed: int = 0, frames: int = 25, fps: float = 12.0, aspect: float = 1.0
) -> ScenePlan:
    """Stage `prompt` in the world for a shot of `frames` frames at `fps`, from `seed`.

    What the prompt names is forced; the rest (where things stand, how hard they are thrown,
    the unnamed ground or sky) comes from the seed. A prompt that names no camera move gets a
    still camera, and one that names no object an empty scene: the plan shows what was asked.
    `aspect` (width / height) is the frame the shot is seen in: the world stages for a square
    one, so in a wide frame a ball thrown high is brought lower, and one too near moved back,
    until the whole of its path is in the picture.
    """
    if frames < 1 or not (fps > 0 and math.isfinite(fps)):
        raise ValueError(
            f"A plan needs at least one frame at a positive fps (got {frames}, {fps})."
        )
    reading = read_prompt(prompt)
    notices = list(reading.notices)
    # the planner's own choices (an unnamed pan's direction), apart from the world's stream
    choose = np.random.default_rng([int(seed), 11])
    asks = _object_asks(reading, choose, notices)
    camera = "static"
    if reading.camera:
        camera = reading.camera[int(choose.integers(len(reading.camera)))]
        if len(reading.camera) > 1:
            notices.append(f"'{reading.camera_word}' names no direction: the camera goes {camera}.")
    crossing = reading.crossing is not None and len(asks) >= 2
    if reading.crossing == "behind" and crossing:  # "A passes behind B": B is the near one
        asks[0], asks[1] = asks[1], asks[0]
    spec = sample_scene(
        np.random.default_rng(int(seed)),
        frames,
        fps,
        sky=reading.sky,
        ground=reading.ground,
        far=reading.far,
        camera_move=camera,
        objects=[(a.kind, a.colour, a.motion) for a in asks],
        crossing=crossing,
    )
    if reading.camera_speed is not None:
        spec.camera_strength = float(np.clip(spec.camera_strength * reading.camera_speed, 0.3, 2.0))
    for index, ask in enumerate(asks):
        duration = max(frames - 1, 1) / fps
        spec.objects[index] = _adjust(spec.objects[index], ask, duration, crossing and index < 2)
    if crossing and asks[0].direction in ("left", "right"):
        _mirror_all(spec, asks[0].direction)
    _keep_in_view(spec, frames, fps, aspect)
    if not crossing:
        _unhide(spec, aspect)
    spec.validate()
    return ScenePlan(
        prompt=prompt,
        seed=int(seed),
        frames=int(frames),
        fps=float(fps),
        spec=spec,
        used=reading.used,
        unused=reading.unused,
        notices=notices,
    )


@dataclass
class _Ask:
    """One object to stage: its forced fields, and how to bend the world's staging after."""

    kind: str
    colour: str | None
    motion: str | None
    direction: str | None
    size: float
    speed: float


def _object_asks(reading: Reading, choose: np.random.Generator, notices: list[str]) -> list[_Ask]:
    asks: list[_Ask] = []
    for obj in reading.objects:
        motion = obj.motion
        allowed = MOTIONS[obj.kind]
        if motion == "travel" or (motion is None and obj.direction is not None):
            options = [m for m in allowed if m in TRAVELLING]
            motion = options[int(choose.integers(len(options)))]
        elif motion is not None and motion not in allowed:
            instead = next(m for m in NEAREST_MOTION[motion] if m in allowed)
            notices.append(
                f"A {obj.kind} cannot {motion} in this world (it can "
                f"{_or(allowed)}): '{obj.motion_word}' became {VERBS[instead]}."
            )
            motion = instead
        if obj.direction is not None and motion not in TRAVELLING:
            notices.append(
                f"A {obj.kind} that {VERBS[motion]} stays where it is: "
                f"it does not go {_direction_words(obj.direction)}."
            )
        for _ in range(obj.count):
            asks.append(_Ask(obj.kind, obj.colour, motion, obj.direction, obj.size, obj.speed))
    if len(asks) > MAX_OBJECTS:
        notices.append(
            f"The prompt asks for {len(asks)} objects; the world shows at most {MAX_OBJECTS}, "
            f"so the shot has the first {MAX_OBJECTS}."
        )
        asks = asks[:MAX_OBJECTS]
    return asks


def _adjust(obj: ObjectSpec, ask: _Ask, duration: float, crossing: bool) -> ObjectSpec:
    """Bend the world's staging to what the words say: direction, size, speed."""
    x, y, z = obj.position
    vx, vy, vz = obj.velocity
    if ask.size != 1.0:
        obj = replace(obj, radius=obj.radius * ask.size)
        y *= ask.size  # a bounce or a drop starts from a height measured in radii
    if ask.speed != 1.0 and obj.motion in TRAVELLING:
        vx, vz = vx * ask.speed, vz * ask.speed
    if ask.direction is not None and obj.motion in TRAVELLING and not crossing:
        speed = math.hypot(vx, vz)
        if ask.direction in ("left", "right"):
            want = -1.0 if ask.direction == "left" else 1.0
            if vx * want < 0:  # mirror the staging: it stays in view the other way too
                x, vx = -x, -vx
            if abs(vx) < 0.5 * speed:
                vx = want * speed
        else:  # toward or away from the camera: mostly depth, a little sideways
            sign = -1.0 if ask.direction == "toward" else 1.0
            room = max(z - 0.8, 0.1) if sign < 0 else max(3.5 - z, 0.1)  # scene units
            vz = sign * min(max(speed, 0.1), room / duration)
            vx *= 0.25
    return replace(obj, position=(x, y, z), velocity=(vx, vy, vz))


def _keep_in_view(spec: SceneSpec, frames: int, fps: float, aspect: float) -> None:
    """Bring each object's whole path into a frame of `aspect`, seen from the reference view:
    lower a throw that leaves the top (height and upward speed, so it still bounces), move
    back one whose foot is under the bottom edge (its screen travel stays the same)."""
    from ..camera import Pose
    from ..synth.physics import simulate
    from ..synth.rig import build_view

    height = 64
    width = max(8, round(height * max(aspect, 0.1)))
    view = build_view([Pose()] * frames, width, height, spec.camera_height, spec.camera_pitch)
    for i, obj in enumerate(spec.objects):
        for _ in range(12):
            centres = simulate([obj], frames, fps).positions[:, 0]  # (T, 3)
            lift = np.array([0.0, 1.2 * obj.radius, 0.0])
            top, _ = view.project((centres + lift)[:, None, :])
            foot, _ = view.project((centres - lift)[:, None, :])
            if top[:, 0, 1].min() < 0.0 and (obj.position[1] > 0.0 or obj.velocity[1] > 0.0):
                x, y, z = obj.position
                vx, vy, vz = obj.velocity
                obj = replace(obj, position=(x, 0.7 * y, z), velocity=(vx, 0.7 * vy, vz))
            elif foot[:, 0, 1].max() > height - 1.0:
                x, y, z = obj.position
                vx, vy, vz = obj.velocity
                obj = replace(
                    obj, position=(1.15 * x, y, 1.15 * z), velocity=(1.15 * vx, vy, 1.15 * vz)
                )
            else:
                break
        spec.objects[i] = obj


def _unhide(spec: SceneSpec, aspect: float) -> None:
    """Move an object hidden behind a nearer one in the first frame out from behind it,
    sideways at its own depth: the world places objects apart on the ground, not on screen,
    and a storyboard must show (and give a stroke to) everything it was asked for."""
    from ..camera import Pose
    from ..synth.rig import build_view

    height = 64
    width = max(8, round(height * max(aspect, 0.1)))
    view = build_view([Pose()], width, height, spec.camera_height, spec.camera_pitch)
    focal = float(view.focals[0])
    for _ in range(3):
        moved = False
        centres = np.array(
            [[o.position[0], o.position[1] + o.radius, o.position[2]] for o in spec.objects]
        )
        if len(centres) < 2:
            return
        uv, depth = view.project(centres[None])
        uv, depth = uv[0], depth[0]
        radii = np.array([focal * o.radius / max(d, 1e-3) for o, d in zip(spec.objects, depth)])
        for far in np.argsort(-depth):
            for near in range(len(spec.objects)):
                if depth[near] >= depth[far]:
                    continue
                gap = abs(uv[far, 0] - uv[near, 0])
                reach = 1.1 * (radii[far] + radii[near])
                if gap >= reach or abs(uv[far, 1] - uv[near, 1]) >= reach:
                    continue
                x, y, z = spec.objects[far].position
                side = 1.0 if uv[far, 0] >= uv[near, 0] else -1.0
                limit = 0.9 * (width / 2) / focal * depth[far]  # half the view at that depth
                for sign in (side, -side):
                    dx = sign * (reach - gap if sign == side else reach + gap) * depth[far] / focal
                    if abs(x + dx) <= limit:
                        spec.objects[far] = replace(spec.objects[far], position=(x + dx, y, z))
                        moved = True
                        break
                break
        if not moved:
            return


def _mirror_all(spec: SceneSpec, direction: str) -> None:
    """Crossing objects are staged as a pair; a direction for the pair mirrors the scene."""
    near = spec.objects[0]
    want = -1.0 if direction == "left" else 1.0
    if near.velocity[0] * want >= 0:
        return
    for i, obj in enumerate(spec.objects):
        x, y, z = obj.position
        vx, vy, vz = obj.velocity
        spec.objects[i] = replace(obj, position=(-x, y, z), velocity=(-vx, vy, vz))


def _or(options: Sequence[str]) -> str:
    options = list(options)
    return options[0] if len(options) == 1 else ", ".join(options[:-1]) + " or " + options[-1]


def _direction_words(direction: str) -> str:
    return {
        "left": "to the left",
        "right": "to the right",
        "toward": "toward the camera",
        "away": "away from the camera",
    }[direction]


# ---------------------------------------------------------------------------------------------
# Rendering a plan: its layout for the generator, its first frame for the storyboard
# ---------------------------------------------------------------------------------------------


def render_plan(plan: ScenePlan, frames: int, width: int, height: int, fps: float, poses=None):
    """The world's clip of the plan (`engine.synth.Clip`), simulated at `frames` and `fps`.

    With `poses` (one `engine.camera.Pose` per frame), the scene is filmed through them instead
    of the plan's camera move: a user's own camera path wins over the plan's.
    """
    from ..synth import render_clip

    if poses is None:
        return render_clip(plan.seed, frames, (width, height), fps, spec=plan.spec)
    return _render_through(plan, frames, width, height, fps, list(poses))


def _render_through(plan: ScenePlan, frames: int, width: int, height: int, fps: float, poses):
    """`render_clip` with given camera poses (the world's rig keeps its height and pitch)."""
    from ..synth.clip import Clip, ObjectLabel
    from ..synth.physics import simulate
    from ..synth.render import render_frames
    from ..synth.rig import FOV_DEG, build_view

    if len(poses) != frames:
        raise ValueError(f"{len(poses)} camera poses for {frames} frames.")
    spec = plan.spec
    spec.validate()
    view = build_view(poses, width, height, spec.camera_height, spec.camera_pitch, FOV_DEG)
    sim = simulate(spec.objects, frames, fps)
    out = render_frames(spec, view, sim, np.random.default_rng([plan.seed, 1]))
    labels = [
        ObjectLabel(
            o.kind,
            o.colour,
            VERBS[o.motion],
            out.trajectories[i],
            out.masks[i],
            out.depths[i],
            sim.positions[:, i].astype(np.float32),
        )
        for i, o in enumerate(spec.objects)
    ]
    meta = spec.meta() | {"fov": FOV_DEG, "width": width, "height": height}
    return Clip(
        out.frames, plan.prompt, list(poses), labels, out.order,
        np.zeros((frames, 2), np.float32), view.focals.astype(np.float32), float(fps),
        int(plan.seed), meta,
    )  # fmt: skip


def layout_for(
    plan: ScenePlan, frames: int, width: int, height: int, fps: float, poses=None
) -> np.ndarray:
    """(LAYOUT_CHANNELS, 1 + (frames - 1) // 4, height // 8, width // 8) float32: the plan's
    objects, sky, ground and far layer per latent frame, for the built-in generator.

    The plan is rendered by the world at exactly the shot's frames, size and fps (its physics
    simulated at that rate), and only its labels are read (`engine.models.layout`).
    """
    from ..models.layout import layout_from_clip

    clip = render_plan(plan, frames, width, height, fps, poses)
    return layout_from_clip(clip, width // 8, height // 8)


def plan_picture(plan: ScenePlan, width: int, height: int) -> np.ndarray:
    """(height, width, 3) uint8: the plan's first frame as a storyboard sketch (flat colour,
    `sketch.plan_sketch`), the picture its storyboard is drawn on where a keyframe would be:
    the previs moves it along the plan's strokes and camera."""
    from .sketch import plan_sketch

    return plan_sketch(plan, width, height)


# ---------------------------------------------------------------------------------------------
# Field readers (the messages match engine.project's)
# ---------------------------------------------------------------------------------------------


def _object(data: object, where: str) -> dict:
    if not isinstance(data, dict):
        raise ProjectError("must be an object", where)
    return data


def _need(data: dict, key: str, where: str) -> object:
    if key not in data:
        raise ProjectError("is missing", f"{where}.{key}")
    return data[key]


def _text(data: dict, key: str, where: str) -> str:
    return fields.text(_need(data, key, where), f"{where}.{key}", limits.MAX_PROMPT_CHARS)


def _choice(data: dict, key: str, where: str, options: Sequence[str]) -> str:
    value = _need(data, key, where)
    if not isinstance(value, str) or value not in options:
        raise ProjectError(
            f"must be one of {', '.join(options)}, got {show(value)}", f"{where}.{key}"
        )
    return str(value)


def _number(data: dict, key: str, where: str, lo: float, hi: float) -> float:
    return fields.number(_need(data, key, where), f"{where}.{key}", lo, hi)


def _whole(data: dict, key: str, where: str, lo: int, hi: int) -> int:
    return fields.whole(_need(data, key, where), f"{where}.{key}", lo, hi)


def _vector(data: dict, key: str, where: str, limit: float) -> tuple[float, float, float]:
    value = _need(data, key, where)
    if not isinstance(value, list) or len(value) != 3:
        raise ProjectError(f"must be a list of three numbers, got {show(value)}", f"{where}.{key}")
    x, y, z = (fields.number(n, f"{where}.{key}[{i}]", -limit, limit) for i, n in enumerate(value))
    return (x, y, z)


def _list(data: dict, key: str, where: str, limit: int = _MAX_WORDS, what: str = "entries") -> list:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ProjectError(f"must be a list, got {type(value).__name__}", f"{where}.{key}")
    return fields.count(value, f"{where}.{key}", limit, what)


def _words(data: dict, key: str, where: str) -> list[str]:
    values = _list(data, key, where)
    return [
        fields.text(v, f"{where}.{key}[{i}]", limits.MAX_NAME_CHARS) for i, v in enumerate(values)
    ]
