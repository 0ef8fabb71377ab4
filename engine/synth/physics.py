"""Rigid-body motion for the world: gravity, bounces, friction, rolling and collisions.

Every body is a sphere of its collision radius for the ground and for each other (a cube or a
standing person is close enough to a sphere at this size), integrated with fixed substeps in
plain Python floats: clips hold 1-3 bodies, where numpy's per-call cost would dominate.
Semi-implicit Euler with an exact ground clamp is stable and, above all, deterministic.

World axes: x right, y up, z forward (away from the camera); the ground is the plane y = 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .scene import ObjectSpec

#: gravity in scene units / s^2; objects are ~0.1 units across, so this reads as a toy-sized
#: world filmed in real time: a ball dropped from 0.4 units lands in about 0.35 s
GRAVITY = 7.0
#: longest substep; a clip at 12 fps takes 5 substeps per frame
MAX_DT = 1.0 / 60.0
#: a bounce that would rise less than this fraction of the radius ends the bouncing
_STICK_HEIGHT = 0.02
#: walkers bob this fraction of their radius, twice per second
_BOB_HEIGHT = 0.12
_STEP_RATE = 2.0


@dataclass(frozen=True)
class Simulation:
    """Where every body is at every frame."""

    positions: np.ndarray  # (T, n, 3) float64 centre of each collision sphere, world units
    rotations: np.ndarray  # (T, n, 3, 3) float64 body-to-world rotation (balls roll; others I)
    spins: np.ndarray  # (T, n) float64 turn about the vertical axis, radians (spinning stars)
    radii: np.ndarray  # (n,) float64 collision radius

    def bottoms(self) -> np.ndarray:
        """(T, n) height of each body's lowest point above the ground."""
        return self.positions[..., 1] - self.radii[None, :]


def simulate(objects: Sequence[ObjectSpec], frames: int, fps: float) -> Simulation:
    """Integrate the bodies of a scene from their initial state and sample every frame.

    `ObjectSpec.position` gives the bottom of the body (y = height above the ground); the
    motion picks the regime: "walk" is kinematic (constant velocity with a bob), "spin" turns
    about the vertical axis, balls roll without slipping, everything else slides with friction.
    """
    n = len(objects)
    steps = max(1, math.ceil(1.0 / (fps * MAX_DT)))
    dt = 1.0 / (fps * steps)
    radii = [float(o.radius) for o in objects]
    pos = [
        [float(o.position[0]), float(o.position[1]) + r, float(o.position[2])]
        for o, r in zip(objects, radii, strict=True)
    ]
    vel = [[float(v) for v in o.velocity] for o in objects]
    kinematic = [o.motion == "walk" for o in objects]
    balls = [o.kind == "ball" for o in objects]
    inv_mass = [0.0 if k else 1.0 / r**3 for k, r in zip(kinematic, radii, strict=True)]

    positions = np.empty((frames, n, 3))
    for k in range(frames):
        positions[k] = pos if n else 0.0
        if k == frames - 1:
            break
        for _ in range(steps):
            for i, o in enumerate(objects):
                p, v = pos[i], vel[i]
                if kinematic[i]:
                    p[0] += v[0] * dt
                    p[2] += v[2] * dt
                    continue
                _step_body(p, v, radii[i], float(o.restitution), float(o.friction), balls[i], dt)
            for i in range(n):
                for j in range(i + 1, n):
                    _collide(
                        pos[i],
                        vel[i],
                        inv_mass[i],
                        pos[j],
                        vel[j],
                        inv_mass[j],
                        radii[i] + radii[j],
                        min(objects[i].restitution, objects[j].restitution),
                    )

    times = np.arange(frames, dtype=np.float64) / fps
    radii_arr = np.asarray(radii, dtype=np.float64)
    for i in range(n):
        if kinematic[i]:
            positions[:, i, 1] += (
                _BOB_HEIGHT * radii[i] * np.abs(np.sin(math.pi * _STEP_RATE * times))
            )
    rotations = np.broadcast_to(np.eye(3), (frames, n, 3, 3)).copy()
    spins = np.zeros((frames, n))
    for i, o in enumerate(objects):
        if balls[i]:
            rotations[:, i] = _rolling_rotations(positions[:, i], radii[i])
        if o.motion == "spin":
            spins[:, i] = float(o.spin) * times
    return Simulation(positions, rotations, spins, radii_arr)


def _step_body(
    p: list[float], v: list[float], r: float, e: float, mu: float, ball: bool, dt: float
) -> None:
    """One substep of a free body: gravity, ground bounce, then friction while in contact."""
    v[1] -= GRAVITY * dt
    p[0] += v[0] * dt
    p[1] += v[1] * dt
    p[2] += v[2] * dt
    if p[1] > r:
        return
    p[1] = r
    if v[1] < 0.0:
        impact = -v[1]
        v[1] = e * impact
        if v[1] * v[1] < 2.0 * GRAVITY * _STICK_HEIGHT * r:
            v[1] = 0.0
        if not ball and impact > 2.0 * GRAVITY * dt:  # a real landing (not resting contact)
            _slow(v, mu * (1.0 + e) * impact)  # scuffs: Coulomb impulse against the slide
    if v[1] == 0.0:  # resting or gliding on the ground: sliding friction or rolling resistance
        _slow(v, mu * GRAVITY * dt)


def _slow(v: list[float], amount: float) -> None:
    """Reduce the horizontal speed by `amount`, stopping at zero."""
    speed = math.hypot(v[0], v[2])
    if speed <= amount:
        v[0] = v[2] = 0.0
    else:
        scale = 1.0 - amount / speed
        v[0] *= scale
        v[2] *= scale


def _collide(pi, vi, wi, pj, vj, wj, reach: float, e: float) -> None:
    """Separate two overlapping spheres and exchange an impulse along their normal."""
    dx, dy, dz = pj[0] - pi[0], pj[1] - pi[1], pj[2] - pi[2]
    d2 = dx * dx + dy * dy + dz * dz
    w = wi + wj
    if d2 >= reach * reach or w == 0.0:
        return
    d = math.sqrt(d2) or 1e-9
    nx, ny, nz = dx / d, dy / d, dz / d
    push = (reach - d) / w
    for a, s in ((0, nx), (1, ny), (2, nz)):
        pi[a] -= s * push * wi
        pj[a] += s * push * wj
    closing = (vj[0] - vi[0]) * nx + (vj[1] - vi[1]) * ny + (vj[2] - vi[2]) * nz
    if closing >= 0.0:
        return
    impulse = -(1.0 + e) * closing / w
    for a, s in ((0, nx), (1, ny), (2, nz)):
        vi[a] -= s * impulse * wi
        vj[a] += s * impulse * wj


def _rolling_rotations(centres: np.ndarray, radius: float) -> np.ndarray:
    """(T, 3, 3) orientation of a ball that rolls without slipping along `centres` (T, 3).

    Rolling by d along the ground turns the ball by |d| / r about up x d, so its painted
    stripes turn the right way; a ball in flight keeps turning as if it rolled.
    """
    out = np.empty((len(centres), 3, 3))
    rot = np.eye(3)
    out[0] = rot
    for k in range(1, len(centres)):
        dx, dz = centres[k, 0] - centres[k - 1, 0], centres[k, 2] - centres[k - 1, 2]
        axis = np.array([dz, 0.0, -dx])  # up x displacement
        dist = math.hypot(dx, dz)
        if dist > 1e-9:
            rot = _axis_angle(axis / dist, dist / radius) @ rot
        out[k] = rot
    return out


def _axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues' rotation matrix about a unit `axis`."""
    x, y, z = axis
    c, s = math.cos(angle), math.sin(angle)
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + s * k + (1.0 - c) * (k @ k)
