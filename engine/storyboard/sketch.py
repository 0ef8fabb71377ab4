"""The storyboard sketch: a plan as flat blocks of colour, the way a storyboard artist blocks
in a shot before anyone paints it, one picture per frame (an animatic).

Sky as its time of day's gradient above the horizon, the ground as one flat colour of its kind
under that light (a checker floor as its tiles), each object as a flat silhouette in its palette colour where the plan puts
it in that frame. No texture, shading, shadows, far layer or stars: the generator paints all
of that. A planned shot with no keyframe is generated from this animatic noised to the shot's
guide strength (as a keyframe's previs guides it), so the colours the prompt names are there
from the first step instead of being left to cross-attention, which a model this small cannot
bind; the layout channels then hold the objects to their places.

Only the plan's labels are used (each object's visible region per frame, from the world's
simulation and projection, filmed through the shot's camera poses) and the palette's named
colours; none of the world's rendered pixels. The first frame is also the picture the studio
draws a planned shot's storyboard on.
"""

from __future__ import annotations

import numpy as np

from ..camera import Pose
from ..synth.palette import COLOURS, GROUND_COLOURS, GROUND_LIGHT, LIGHT_TINT, SKY_GRADIENTS
from ..synth.rig import FOV_DEG, build_view
from .plan import ScenePlan, render_plan

#: a checker floor's tile side, scene units (the world's, `synth.backdrop.ground_tile`)
CHECKER_TILE = 0.5
#: beyond this depth (scene units) tiles are too small to draw and fade to their mean
CHECKER_FADE = 6.0


def _backdrop(plan: ScenePlan, view, t: int) -> np.ndarray:
    """(h, w, 3) float32: sky gradient above the horizon, flat ground below (a checker floor
    blocked in as its tiles, which are its only feature), for frame t."""
    spec = plan.spec
    h, w = view.height, view.width
    f = float(view.focals[t])
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    rays = np.stack([(u - view.cx) / f, -(v - view.cy) / f, np.ones_like(u)], -1)
    world = rays @ view.rotations[t].T
    up = world[..., 1] / np.linalg.norm(rays, axis=-1)
    zenith, low = (np.asarray(c, np.float32) for c in SKY_GRADIENTS[spec.sky])
    rise = (np.clip(up, 0.0, 1.0) ** 0.55).astype(np.float32)[..., None]
    sky = low + (zenith - low) * rise
    dark, light = (np.asarray(c, np.float32) for c in GROUND_COLOURS[spec.ground])
    gain = np.asarray(LIGHT_TINT[spec.sky], np.float32) * GROUND_LIGHT[spec.sky]
    ground = np.broadcast_to((dark + light) / 2 * gain, (h, w, 3)).astype(np.float32)
    if spec.ground == "checker":
        centre = view.centres[t]
        down = np.where(world[..., 1] < -1e-6, world[..., 1], -1e-6)
        along = -centre[1] / down  # ray length to the ground plane
        x = centre[0] + along * world[..., 0]
        z = centre[2] + along * world[..., 2]
        parity = (np.floor(x / CHECKER_TILE) + np.floor(z / CHECKER_TILE)) % 2
        near = np.clip(1.0 - along / CHECKER_FADE, 0.0, 1.0)[..., None].astype(np.float32)
        tiles = np.where(parity[..., None] > 0, light * gain, dark * gain).astype(np.float32)
        ground = near * tiles + (1 - near) * ground
    return np.where((up < 0)[..., None], ground, sky)


def plan_animatic(
    plan: ScenePlan, frames: int, width: int, height: int, fps: float, poses=None
) -> np.ndarray:
    """(frames, height, width, 3) uint8: the plan as flat colour, frame by frame, filmed through
    `poses` (the shot's camera) or the plan's own camera move."""
    return animatic_from_clip(plan, render_plan(plan, frames, width, height, fps, poses))


def animatic_from_clip(plan: ScenePlan, clip) -> np.ndarray:
    """The animatic from the plan's world clip (`render_plan`), whose labels it reads: a caller
    that also needs the layout renders the plan once for both."""
    spec = plan.spec
    frames, height, width = clip.frames.shape[:3]
    view = build_view(clip.poses, width, height, spec.camera_height, spec.camera_pitch, FOV_DEG)
    out = np.empty((frames, height, width, 3), np.uint8)
    for t in range(frames):
        image = _backdrop(plan, view, t)
        for label in clip.objects:  # visible regions, occlusion applied: order does not matter
            image[label.masks[t].astype(bool)] = np.asarray(COLOURS[label.colour], np.float32)
        out[t] = np.clip(image + 0.5, 0, 255).astype(np.uint8)
    return out


def painted_storyboard(
    plan: ScenePlan,
    regions: list[np.ndarray],
    frames: int,
    width: int,
    height: int,
    poses=None,
) -> tuple[np.ndarray, np.ndarray]:
    """(layout, animatic) for a shot whose user painted the strokes: the prompt's objects, in
    the order it names them, ride the user's strokes (`regions`: one (T, H, W) moving region
    per move stroke, 0..1), on the plan's sky and ground. Objects the prompt names beyond the
    strokes are left out: the user painted what is in the shot.

    The user's strokes win over the plan: the plan gives only what the strokes do not say,
    what each painted thing is and what colour, and the place it is in.
    """
    from ..models.layout import layout_channels

    spec = plan.spec
    bound = [
        (obj.kind, obj.colour, region > 0.5)
        for obj, region in zip(spec.objects, regions, strict=False)
    ]
    layout = layout_channels(
        bound, frames, width // 8, height // 8, spec.sky, spec.ground, spec.far
    )
    if poses is None:
        poses = [Pose()] * frames
    view = build_view(list(poses), width, height, spec.camera_height, spec.camera_pitch, FOV_DEG)
    out = np.empty((frames, height, width, 3), np.uint8)
    for t in range(frames):
        image = _backdrop(plan, view, t)
        for _, colour, masks in bound:
            image[masks[t]] = np.asarray(COLOURS[colour], np.float32)
        out[t] = np.clip(image + 0.5, 0, 255).astype(np.uint8)
    return layout, out


def plan_sketch(plan: ScenePlan, width: int, height: int) -> np.ndarray:
    """(height, width, 3) uint8: the plan's first frame as flat blocks of colour."""
    return plan_animatic(plan, 1, width, height, plan.fps)[0]
