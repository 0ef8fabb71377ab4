"""Camera path and motion brush as dense channels at latent resolution, for the generator.

The generator sees controls the way the studio shows them: where each point of the keyframe
goes. Per latent frame j (video frame `4j`, the last frame that latent covers) it gets

    0-1  camera: displacement of each latent pixel under the camera's homography
    2    camera given (1) or free (0)
    3-4  brush: displacement of each brushed pixel along its stroke
    5    the brushed region in the keyframe
    6    where the brushed region is at this frame
    7    strokes given (1) or free (0)

Displacements are fractions of the frame size times `DISPLACEMENT_SCALE`, so a pan across a
fifth of the frame reads about 1. The same functions build these channels from a user's
`ShotControls` and from the procedural world's exact labels during training, so what the
model learned is what the studio asks for.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import InvalidRequest

CONTROL_CHANNELS = 8
DISPLACEMENT_SCALE = 4.0
TIME_STRIDE = 4  # video frames per latent frame (the VAE's temporal compression)


def latent_frame_sources(frames: int) -> np.ndarray:
    """The video frame each latent frame's controls are read at: 0, 4, 8, ..., frames - 1."""
    if frames < 1 or (frames - 1) % TIME_STRIDE:
        raise InvalidRequest(
            f"The built-in model makes 1 + 4k frames (1, 5, 9, ..., 25, ...); got {frames}."
        )
    return np.arange(0, frames, TIME_STRIDE)


def _centres(width: int, height: int, full_width: int, full_height: int) -> np.ndarray:
    """Latent pixel centres in full-resolution pixel coordinates, (h, w, 3) homogeneous."""
    sx, sy = full_width / width, full_height / height
    xs = (np.arange(width) + 0.5) * sx - 0.5
    ys = (np.arange(height) + 0.5) * sy - 0.5
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx, gy, np.ones_like(gx)], -1)


def camera_displacement(
    homographies: np.ndarray, width: int, height: int, full_width: int, full_height: int
) -> np.ndarray:
    """(T, h, w, 2) where each latent pixel of the keyframe lands, minus where it started,
    as fractions of the frame; `homographies` (T, 3, 3) map keyframe to frame pixels."""
    points = _centres(width, height, full_width, full_height)  # (h, w, 3)
    mapped = np.einsum("tij,hwj->thwi", np.asarray(homographies, np.float64), points)
    mapped = mapped[..., :2] / np.where(np.abs(mapped[..., 2:]) < 1e-9, 1e-9, mapped[..., 2:])
    moved = mapped - points[None, ..., :2]
    return (moved / np.array([full_width, full_height])).astype(np.float32)


def control_channels(
    camera: np.ndarray | None,
    brush: np.ndarray | None = None,
    region: np.ndarray | None = None,
    moved_region: np.ndarray | None = None,
) -> np.ndarray:
    """Stack the channels (8, T', h, w) float32 from per-latent-frame arrays.

    camera:       (T', h, w, 2) camera displacement (fractions of the frame), None = free
    brush:        (T', h, w, 2) brushed displacement (fractions), None = no strokes
    region:       (h, w) brushed region in the keyframe (0..1)
    moved_region: (T', h, w) where the region is at each latent frame (0..1)
    """
    ref = camera if camera is not None else brush
    if ref is None:
        raise ValueError("control_channels needs the camera or the brush to know the size.")
    t, h, w = ref.shape[:3]
    out = np.zeros((CONTROL_CHANNELS, t, h, w), np.float32)
    if camera is not None:
        out[0:2] = np.moveaxis(camera, -1, 0) * DISPLACEMENT_SCALE
        out[2] = 1.0
    if brush is not None:
        out[3:5] = np.moveaxis(brush, -1, 0) * DISPLACEMENT_SCALE
        out[5] = region if region is not None else 0.0
        out[6] = moved_region if moved_region is not None else 0.0
        out[7] = 1.0
    return out


def controls_from_shot(controls, latent_width: int, latent_height: int) -> np.ndarray:
    """(8, T', h, w) from a user's `ShotControls` (camera always given; brush if any strokes)."""
    sources = latent_frame_sources(controls.frames)
    camera = camera_displacement(
        controls.homographies[sources],
        latent_width,
        latent_height,
        controls.width,
        controls.height,
    )
    moving = [s for s in controls.strokes if s.kind == "move"]
    if not moving:
        return control_channels(camera)
    small = controls.resample(latent_width, latent_height)  # frames are made only where read
    to_fractions = np.array([latent_width, latent_height], np.float32)
    flows = np.stack([small.flow(t) for t in sources]) / to_fractions
    moved = np.stack([small.move_mask(t) for t in sources])
    return control_channels(camera, flows, moved[0], moved)


def static_mask_at(controls, latent_width: int, latent_height: int) -> np.ndarray:
    """The static strokes' region in the keyframe at latent size (h, w) in 0..1."""
    return controls.resample(latent_width, latent_height).static_mask.astype(np.float32)


def static_masks_at(controls, latent_width: int, latent_height: int) -> np.ndarray:
    """(T', h, w) the static regions at each latent frame, carried by the camera (0..1).

    Still in the scene: latent frame j holds the keyframe's region where the camera has
    taken it at video frame `4j` (`ShotControls.static_mask_at`), resized as the keyframe's
    own mask is. Without a camera move every latent frame is `static_mask_at`.
    """
    sources = latent_frame_sources(controls.frames)
    if not controls.has_camera_motion:
        return np.repeat(
            static_mask_at(controls, latent_width, latent_height)[None], len(sources), 0
        )
    sx, sy = latent_width / controls.width, latent_height / controls.height
    interpolation = cv2.INTER_AREA if sx < 1 and sy < 1 else cv2.INTER_LINEAR
    size = (latent_width, latent_height)
    return np.stack(
        [cv2.resize(controls.static_mask_at(t), size, interpolation=interpolation) for t in sources]
    ).astype(np.float32)
