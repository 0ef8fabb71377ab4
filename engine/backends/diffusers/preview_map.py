"""Latents to colours by a linear map, fitted per model, so every step can show a preview.

A VAE decode of a real model's clip takes seconds, longer than a sampling step, so a
preview every step must come from the latents themselves. Each latent pixel stands for a
`patch` x `patch` block of `stride` frames (one frame for the first latent frame, which
causal video VAEs encode alone), and its channels say, close to linearly, what colour that
block is. The map is fitted here by least squares on the model's own VAE: procedural world
clips are encoded, decoded again, and each latent pixel is regressed onto the mean colour of
its block in the *decoded* frames (what a finished take would show), with a small ridge.

Fitting takes a few encode/decode passes of small clips, once per VAE: the map is cached in
the user's cache folder under a key made from the VAE's config and weight files. A map is
only used when it reproduces held-out decoded frames to `MIN_PSNR_DB`; a wrong map is worse
than none, and then previews come from VAE decodes instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

#: a held-out decoded clip must be reproduced at least this well for the map to be used
MIN_PSNR_DB = 18.0
FIT_SEEDS = tuple(range(6))
HELD_OUT_SEED = 1000


@dataclass(frozen=True)
class LinearPreviewMap:
    """Affine maps from a normalised latent pixel to its block's mean colour in [-1, 1]."""

    first: np.ndarray  # (C + 1, 3): latent frame 0 -> video frame 0
    rest: np.ndarray  # (C + 1, stride * 3): a later latent frame -> its `stride` frames
    stride: int
    patch: int
    psnr_db: float = 0.0  # measured on a held-out clip when fitted

    def colours(self, latents) -> np.ndarray:
        """(1, C, T', h, w) latents -> float (1 + stride (T' - 1), h, w, 3) in [-1, 1]."""
        x = np.asarray(_numpy(latents)[0], np.float32).transpose(1, 2, 3, 0)  # (T', h, w, C)
        t, h, w, _ = x.shape
        x = np.concatenate([x, np.ones_like(x[..., :1])], -1)
        parts = [(x[:1] @ self.first).reshape(1, h, w, 3)]
        if t > 1:
            rest = (x[1:] @ self.rest).reshape(t - 1, h, w, self.stride, 3)
            parts.append(rest.transpose(0, 3, 1, 2, 4).reshape(-1, h, w, 3))
        return np.concatenate(parts)

    def __call__(self, latents, size: tuple[int, int] | None = None) -> np.ndarray:
        """(1, C, T', h, w) latents -> uint8 frames (T, H, W, 3), resized to `size` (w, h)."""
        small = ((np.clip(self.colours(latents), -1, 1) + 1) * 127.5 + 0.5).astype(np.uint8)
        if size is None:
            size = (small.shape[2] * self.patch, small.shape[1] * self.patch)
        return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in small])

    def tensors(self) -> dict[str, np.ndarray]:
        return {"first": self.first, "rest": self.rest}

    def header(self) -> dict:
        return {"stride": self.stride, "patch": self.patch, "psnr_db": self.psnr_db}


def _numpy(tensor) -> np.ndarray:
    if isinstance(tensor, np.ndarray):
        return tensor
    return tensor.detach().float().cpu().numpy()


def block_means(video: np.ndarray, stride: int, patch: int) -> tuple[np.ndarray, np.ndarray]:
    """(3, T, H, W) with T = 1 + stride k -> first (h w, 3), rest (k h w, stride 3) means."""
    c, t, hh, ww = video.shape
    h, w = hh // patch, ww // patch
    v = video[:, :, : h * patch, : w * patch].reshape(c, t, h, patch, w, patch).mean(axis=(3, 5))
    first = v[:, 0].transpose(1, 2, 0).reshape(-1, c)  # (h w, 3)
    k = (t - 1) // stride
    rest = v[:, 1 : 1 + k * stride].reshape(c, k, stride, h, w)
    rest = rest.transpose(1, 3, 4, 2, 0).reshape(-1, stride * c)  # (k h w, stride 3)
    return first, rest


def _solve(x: np.ndarray, y: np.ndarray, ridge: float = 1e-3) -> np.ndarray:
    x = np.concatenate([x, np.ones_like(x[:, :1])], 1).astype(np.float64)
    gram = x.T @ x + ridge * len(x) * np.eye(x.shape[1])
    return np.linalg.solve(gram, x.T @ y.astype(np.float64)).astype(np.float32)


def psnr_db(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR of two [-1, 1] arrays, peak-to-peak 2."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(4.0 / mse)


def world_video(seed: int, frames: int, size: int) -> np.ndarray:
    """A procedural world clip as (3, T, H, W) float32 in [-1, 1]."""
    from ...synth import render_clip

    clip = render_clip(int(seed), frames, size).frames  # (T, H, W, 3) uint8
    return clip.astype(np.float32).transpose(3, 0, 1, 2) / 127.5 - 1.0


def fit_preview_map(
    encode: Callable[[np.ndarray], np.ndarray],
    decode: Callable[[np.ndarray], np.ndarray],
    stride: int,
    patch: int,
    seeds=FIT_SEEDS,
    size: int | None = None,
    latent_frames: int = 3,
) -> LinearPreviewMap:
    """The least-squares map for a VAE given as `encode` / `decode` functions.

    `encode` takes a (3, T, H, W) clip in [-1, 1] and returns normalised (C, T', h, w)
    latents; `decode` the reverse. The map's `psnr_db` is measured on a held-out clip.
    """
    size = size or max(64, 4 * patch)
    frames = 1 + stride * (latent_frames - 1)

    def pairs(seed):
        z = np.asarray(encode(world_video(seed, frames, size)), np.float32)  # (C, T', h, w)
        decoded = np.asarray(decode(z), np.float32)  # (3, T, H, W)
        c = z.shape[0]
        z_first = z[:, 0].transpose(1, 2, 0).reshape(-1, c)
        z_rest = z[:, 1:].transpose(1, 2, 3, 0).reshape(-1, c)
        first, rest = block_means(decoded, stride, patch)
        return z, decoded, z_first, z_rest, first, rest

    xf, yf, xr, yr = [], [], [], []
    for seed in seeds:
        _z, _d, z_first, z_rest, first, rest = pairs(seed)
        xf.append(z_first), yf.append(first), xr.append(z_rest), yr.append(rest)
    preview = LinearPreviewMap(
        _solve(np.concatenate(xf), np.concatenate(yf)),
        _solve(np.concatenate(xr), np.concatenate(yr)),
        stride,
        patch,
    )
    z, decoded, *_ = pairs(HELD_OUT_SEED)
    quality = held_out_psnr(preview, z, decoded)
    return LinearPreviewMap(preview.first, preview.rest, stride, patch, quality)


def held_out_psnr(preview: LinearPreviewMap, latents: np.ndarray, decoded: np.ndarray) -> float:
    """How well `preview` reproduces `decoded` (3, T, H, W), compared block by block."""
    colours = preview.colours(latents[None])  # (T, h, w, 3)
    t, h, w, _ = colours.shape
    c = decoded.shape[0]
    target = decoded[:, :t, : h * preview.patch, : w * preview.patch]
    target = target.reshape(c, t, h, preview.patch, w, preview.patch).mean(axis=(3, 5))
    return psnr_db(np.clip(colours, -1, 1), target.transpose(1, 2, 3, 0))


# ------------------------------------------------------------------------------ the cache


def vae_key(vae_folder: Path) -> str:
    """A key for a VAE: its config plus the names, sizes and times of its weight files."""
    vae_folder = Path(vae_folder)
    digest = hashlib.sha256()
    config = vae_folder / "config.json"
    digest.update(config.read_bytes() if config.is_file() else b"")
    for path in sorted(vae_folder.glob("*.safetensors")):
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    return digest.hexdigest()[:24]


def cache_folder() -> Path:
    """Where fitted maps are kept: `KINEMA_CACHE_DIR` or the user's cache folder."""
    import os

    from platformdirs import user_cache_dir

    root = os.environ.get("KINEMA_CACHE_DIR") or user_cache_dir("Kinema", appauthor=False)
    return Path(root) / "preview-maps"


def load_cached(key: str, folder: Path | None = None) -> LinearPreviewMap | None:
    from safetensors import safe_open

    path = (folder or cache_folder()) / f"{key}.safetensors"
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="numpy") as f:
            header = json.loads(f.metadata()["kinema"])
            return LinearPreviewMap(
                f.get_tensor("first"),
                f.get_tensor("rest"),
                int(header["stride"]),
                int(header["patch"]),
                float(header["psnr_db"]),
            )
    except Exception as error:  # a damaged cache file is refitted, never fatal
        log.warning("preview map %s unreadable (%s); refitting", path, error)
        return None


def save_cached(key: str, preview: LinearPreviewMap, folder: Path | None = None) -> None:
    import os
    import tempfile

    from safetensors.numpy import save_file

    folder = folder or cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    os.close(fd)
    try:
        save_file(preview.tensors(), tmp, metadata={"kinema": json.dumps(preview.header())})
        os.replace(tmp, folder / f"{key}.safetensors")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
