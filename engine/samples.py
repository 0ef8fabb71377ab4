"""The sample project, made by code: a meadow keyframe, a camera move and a painted stroke.

`make_meadow(folder)` writes `Meadow.kinema` from scratch, so the shipped sample can be
rebuilt exactly (`python -m engine.samples assets/samples`) and the studio can hand a
first-time user a fresh copy without touching the installed one. The keyframe is drawn
with OpenCV: no downloaded media.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from .camera import CameraKeyframe, CameraPath, Pose, preset
from .motion import MotionStroke, TrajectoryPoint
from .project import Project, Shot, ShotSettings

SAMPLE_NAME = "Meadow"


def meadow_keyframe(width: int = 512, height: int = 288, seed: int = 7):
    """A sunny meadow with hills, a tree and a red ball; returns (image, ball (x, y, rx, ry))."""
    rng = np.random.default_rng(seed)
    h, w = height, width
    horizon = int(h * 0.52)
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    top, bottom = np.array([70, 130, 215], np.float32), np.array([190, 220, 245], np.float32)
    img = (top + (bottom - top) * np.clip(y / 0.55, 0, 1)) * np.ones((1, w, 1), np.float32)
    cv2.circle(img, (int(w * 0.8), int(h * 0.16)), int(h * 0.07), (255, 244, 200), -1, cv2.LINE_AA)
    clouds = np.zeros((h, w), np.float32)
    for _ in range(6):
        cx, cy = rng.uniform(0, w), rng.uniform(0.05, 0.3) * h
        for _ in range(5):
            centre = (int(cx + rng.uniform(-40, 40)), int(cy + rng.uniform(-6, 6)))
            axes = (int(rng.uniform(20, 45)), int(rng.uniform(7, 14)))
            cv2.ellipse(clouds, centre, axes, 0, 0, 360, 1.0, -1, cv2.LINE_AA)
    clouds = cv2.GaussianBlur(clouds, (0, 0), 4)[..., None] * 0.75
    img = img * (1 - clouds) + 250 * clouds
    xs = np.arange(w)
    for colour, base, amp in (((112, 150, 170), 0.44, 0.08), ((70, 130, 80), 0.5, 0.05)):
        ph = rng.uniform(0, 6.28, 3)
        wave = (
            np.sin(xs / w * 6.0 + ph[0]) * 0.6
            + np.sin(xs / w * 13 + ph[1]) * 0.3
            + np.sin(xs / w * 29 + ph[2]) * 0.1
        )
        ridge = base * h - amp * h * wave
        img[np.arange(h)[:, None] >= ridge[None, :]] = colour
    t = (np.arange(horizon, h) - horizon) / (h - horizon)
    grass = np.array([60, 140, 55], np.float32) * (0.75 + 0.35 * t)[:, None]
    noise = cv2.GaussianBlur(rng.normal(0, 1, (h - horizon, w)).astype(np.float32), (0, 0), 1.2)
    stripes = np.sin((xs[None, :] - w / 2) / (1 + 6 * t[:, None]) * 0.9) * 6
    texture = (noise * 18 + stripes)[..., None] * np.array([0.6, 1.0, 0.5], np.float32)
    img[horizon:] = grass[:, None, :] + texture
    img = np.clip(img, 0, 255)
    tx, ty = int(w * 0.78), int(h * 0.62)
    cv2.rectangle(img, (tx - 5, ty - 40), (tx + 5, ty + 10), (90, 60, 35), -1)
    for dx, dy, r in ((0, -60, 30), (-22, -45, 22), (22, -45, 22), (0, -85, 20)):
        cv2.circle(img, (tx + dx, ty + dy), r, (40, 105, 45), -1, cv2.LINE_AA)
    cv2.circle(img, (tx - 8, ty - 68), 12, (60, 135, 60), -1, cv2.LINE_AA)
    bx, by, br = int(w * 0.22), int(h * 0.74), int(h * 0.085)
    shadow = np.zeros((h, w), np.float32)
    cv2.ellipse(shadow, (bx + 8, by + br - 2), (int(br * 1.1), int(br * 0.3)), 0, 0, 360, 1.0, -1)
    img = img * (1 - 0.45 * cv2.GaussianBlur(shadow, (0, 0), 3)[..., None])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    inside = np.clip((1.0 - np.hypot(xx - bx, yy - by) / br) * br, 0, 1)[..., None]
    glint = np.hypot(xx - bx + br * 0.35, yy - by + br * 0.4) / (1.6 * br)
    ball = np.array([215, 35, 30], np.float32) * np.clip(1.15 - glint, 0.35, 1.15)[..., None]
    img = img * (1 - inside) + ball * inside
    return np.clip(img, 0, 255).astype(np.uint8), (bx / w, by / h, br / w, br / h)


def _ellipse_mask(cx: float, cy: float, rx: float, ry: float, size: int = 256) -> np.ndarray:
    """A soft elliptical region in normalised frame coordinates, stored at `size` x `size`."""
    mask = np.zeros((size, size), np.float32)
    centre = (round(cx * size), round(cy * size))
    cv2.ellipse(mask, centre, (round(rx * size), round(ry * size)), 0, 0, 360, 1.0, -1, cv2.LINE_AA)
    return cv2.GaussianBlur(mask, (0, 0), 1.0)


def make_meadow(parent: Path) -> Project:
    """Write `parent/Meadow.kinema` (replacing nothing: the folder must not exist) and return it."""
    from .media import write_image

    folder = Path(parent) / f"{SAMPLE_NAME}.kinema"
    project = Project.new(folder, name=SAMPLE_NAME)
    project.fps, project.width, project.height = 24.0, 512, 288
    image, (bx, by, brx, bry) = meadow_keyframe(project.width, project.height)
    write_image(folder / "media" / "meadow.png", image)

    ball = MotionStroke(
        mask=_ellipse_mask(bx + 0.4 * brx, by + 0.25 * bry, brx * 1.6, bry * 1.35),  # ball + shadow
        trajectory=[
            TrajectoryPoint(bx, by),
            TrajectoryPoint(0.38, 0.70),
            TrajectoryPoint(0.55, 0.76),
        ],
        name="Ball rolls right",
    )
    tree = MotionStroke(
        mask=_ellipse_mask(0.78, 0.5, 0.1, 0.25),
        kind="static",
        name="Tree stays",
        color="#3da5ff",
    )
    rolling = Shot(
        name="Ball on the meadow",
        prompt="a red ball rolls across the grass on a sunny day while the camera pans right",
        seed=1234,
        duration=48,
        keyframe="media/meadow.png",
        camera=CameraPath(
            [
                CameraKeyframe(0, Pose(), "ease-in-out"),
                CameraKeyframe(47, Pose(pan=8.0, zoom=1.15), "ease-in-out"),
            ]
        ),
        strokes=[ball, tree],
        settings=ShotSettings(backend="previs"),
    )
    push_in = Shot(
        name="Push in on the tree",
        prompt="a tree on a green meadow, the camera slowly dollies in",
        seed=99,
        duration=36,
        keyframe="media/meadow.png",
        camera=preset("dolly-in", 36, strength=0.6),
        settings=ShotSettings(backend="previs"),
    )
    project.shots = [rolling, push_in]
    project.save()
    return project


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parent = Path(argv[0] if argv else "assets/samples")
    project = make_meadow(parent)
    print(f"Wrote {project.folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
