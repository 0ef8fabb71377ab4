"""A plan as the shot's own controls: a motion stroke per moving object and the camera move
as a camera path, in the document's types, so the storyboard is something the user edits.

A stroke is made the way a person paints one on a world object (as `kinema eval builtin`
does): the object's first-frame region grown by a few pixels, and its path on screen with a
timed point every fourth frame (the generator's latent frame rate) and at the last frame.

The user's own work always wins. Planning a shot keeps its keyframe, its own strokes and its
own camera keys, and fills only what it lacks; planning it again replaces what the previous
plan put there (`ScenePlan.stroke_ids`, `camera_set`) and nothing else.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..camera import CameraPath
from ..motion import MotionStroke, TrajectoryPoint
from ..synth.palette import COLOURS
from ..synth.rig import camera_path
from .plan import ScenePlan, object_label, plan_prompt, render_plan

if TYPE_CHECKING:
    from ..backends import Capabilities
    from ..project import Shot

#: strokes are rendered with the long side at most this (masks are resolution-independent)
STROKE_SIDE = 256
#: a stroke's region is the object's grown by this fraction of the long side (7 px at 128)
DILATE = 7 / 128
#: an object whose screen path spans less than this fraction of the width gets no stroke
MIN_TRAVEL = 0.01


def plan_strokes(
    plan: ScenePlan, frames: int, width: int, height: int, fps: float
) -> list[MotionStroke]:
    """One move stroke per object that travels on screen, for a shot of `frames` at `fps`."""
    scale = min(1.0, STROKE_SIDE / max(width, height))
    w, h = max(8, round(width * scale)), max(8, round(height * scale))
    clip = render_plan(plan, frames, w, h, fps)
    grow = max(3, round(DILATE * max(w, h))) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow))
    times = sorted({*range(0, frames, 4), frames - 1})
    strokes = []
    for obj, label in zip(plan.spec.objects, clip.objects, strict=True):
        first = label.masks[0]
        path = label.trajectory
        if obj.motion in ("rest", "spin") or not first.any() or not np.isfinite(path).all():
            continue
        travel = float(np.ptp(path[:, 0]) + np.ptp(path[:, 1])) / w
        if travel < MIN_TRAVEL:
            continue
        region = cv2.dilate(first.astype(np.uint8), kernel).astype(np.float32)
        points = [
            TrajectoryPoint(
                float(np.clip((path[f, 0] + 0.5) / w, 0.0, 1.0)),
                float(np.clip((path[f, 1] + 0.5) / h, 0.0, 1.0)),
                float(f),
            )
            for f in times
        ]
        strokes.append(
            MotionStroke(
                mask=region,
                kind="move",
                trajectory=points,
                name=object_label(obj),
                color="#{:02x}{:02x}{:02x}".format(*COLOURS[obj.colour]),
            )
        )
    return strokes


def plan_camera(plan: ScenePlan, frames: int) -> CameraPath:
    """The plan's camera move as a path (two keyframes); a still camera is an empty path."""
    spec = plan.spec
    if spec.camera_move == "static":
        return CameraPath()
    return camera_path(spec.camera_move, frames, spec.camera_strength, spec.camera_easing)


@dataclass
class PlannedShot:
    """What planning gives a shot: the plan and the strokes and camera it then has."""

    plan: ScenePlan  # with `stroke_ids` and `camera_set` saying what it placed
    strokes: list[MotionStroke]  # the shot's whole stroke list (the user's first)
    camera: CameraPath
    notes: list[str] = field(default_factory=list)  # what was kept of the user's, in sentences

    @property
    def message(self) -> str:
        """One line for a status bar: what the plan holds and what it could not use."""
        spec = self.plan.spec
        things = ", ".join(self.plan.labels()) or "no objects"
        text = f"Planned: {things}; {spec.ground} at {spec.sky}, camera {spec.camera_move}."
        return " ".join([text, *self.notes, self.plan.notice]).strip()


def needs_plan(shot: Shot, caps: Capabilities | None = None) -> bool:
    """A shot that Generate plans first: a prompt, and no keyframe, strokes or plan yet, on a
    backend that paints a plan (`caps.storyboard`; with no `caps`, any backend)."""
    if caps is not None and not caps.storyboard:
        return False
    return (
        bool(shot.prompt.strip())
        and shot.keyframe is None
        and not shot.strokes
        and shot.plan is None
    )


def apply_plan(shot: Shot, plan: ScenePlan, width: int, height: int, fps: float) -> PlannedShot:
    """`plan` filled into what `shot` lacks, at the project's `width`, `height` and `fps`.

    The shot itself is not changed (a studio command or the CLI applies the result).
    """
    frames = max(1, shot.duration)
    old = shot.plan
    placed = set(old.stroke_ids) if old is not None else set()
    own = [s for s in shot.strokes if s.id not in placed]
    notes: list[str] = []
    planned: list[MotionStroke] = []
    if shot.keyframe is not None:
        notes.append("The keyframe is kept and what moves is painted on it: no strokes added.")
    elif own:
        notes.append("Your strokes are kept: the plan adds none.")
    else:
        planned = plan_strokes(plan, frames, width, height, fps)
    camera = copy.deepcopy(shot.camera)
    planned_camera = old is not None and old.camera_set and _same_path(shot.camera, old, frames)
    camera_set = False
    if not shot.camera.keyframes or planned_camera:
        camera = plan_camera(plan, frames)
        camera_set = bool(camera.keyframes)
    elif plan.spec.camera_move != "static":
        notes.append(f"Your camera path is kept (the prompt's is {plan.spec.camera_move}).")
    plan = replace(plan, stroke_ids=[s.id for s in planned], camera_set=camera_set)
    return PlannedShot(plan, own + planned, camera, notes)


def _same_path(camera: CameraPath, plan: ScenePlan, frames: int) -> bool:
    return camera.to_dict() == plan_camera(plan, frames).to_dict()


def plan_shot(
    shot: Shot, width: int, height: int, fps: float, seed: int | None = None
) -> PlannedShot:
    """Plan `shot` from its prompt (its own seed unless `seed` is given) and apply it."""
    frames = max(1, shot.duration)
    seed = shot.seed if seed is None else seed
    plan = plan_prompt(shot.prompt, seed, frames, fps, aspect=width / height)
    return apply_plan(shot, plan, width, height, fps)


def planned_shot(shot: Shot, planned: PlannedShot) -> Shot:
    """A copy of `shot` holding the plan, its strokes and camera (the CLI plans in memory)."""
    out = copy.copy(shot)
    out.plan, out.strokes, out.camera = planned.plan, list(planned.strokes), planned.camera
    return out
