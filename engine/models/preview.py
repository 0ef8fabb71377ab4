"""A first look at a clip in a millisecond: latents to pixels by a linear map, no VAE decode.

A VAE decode of a whole clip costs about as much as two sampling steps on a laptop CPU, so a
preview of the first step's clean estimate through the VAE arrives late. Each latent pixel,
though, already says what colour its 8x8 patch is, so a least-squares map from one latent
pixel to its patch's mean colour in each of the video frames it stands for, upsampled
smoothly, gives a soft but faithful picture at no cost. Previews made this way look like the
clip seen through frosted glass: the layout, colours and motion are there, the edges are not.
(A map to every pixel of the patch is sharper on paper and looks worse: it prints the
texture it guesses as a grid.) Later previews and the result go through the VAE.

The map is fitted on procedural world clips encoded by the VAE (`kinema train preview`, a few
seconds) and stored beside it with the VAE file's hash; a model whose VAE does not match
fits its own on first use, so a preview can never come from another VAE's map.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ..errors import ModelLoadError
from .vae import CausalVideoVAE, frames_to_tensor

log = logging.getLogger(__name__)

PATCH = 8  # pixels per latent pixel, each way
STRIDE = 4  # video frames per latent frame after the first


@dataclass(frozen=True)
class LatentPreview:
    """Affine maps from one normalised latent pixel to its patch's mean colour: `first` for
    latent frame 0 (one video frame), `rest` for the others (four frames each), in [-1, 1]."""

    first: torch.Tensor  # (C + 1, 3)
    rest: torch.Tensor  # (C + 1, 4 * 3)

    def __call__(self, latents: torch.Tensor) -> np.ndarray:
        """Normalised (1, C, T', h, w) latents -> uint8 (1 + 4 (T' - 1), 8h, 8w, 3)."""
        x = latents[0].float().cpu().permute(1, 2, 3, 0)  # (T', h, w, C)
        t, h, w, _ = x.shape
        x = torch.cat([x, torch.ones_like(x[..., :1])], -1)
        parts = [(x[:1] @ self.first).reshape(1, h, w, 3)]
        if t > 1:  # (t - 1, h, w, 4, 3) -> (4 (t - 1), h, w, 3), frames in order
            rest = (x[1:] @ self.rest).reshape(t - 1, h, w, STRIDE, 3)
            parts.append(rest.permute(0, 3, 1, 2, 4).reshape(-1, h, w, 3))
        small = ((torch.cat(parts).clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8).numpy()
        size = (w * PATCH, h * PATCH)
        return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in small])


def _patches(video: torch.Tensor, frames: slice, stride: int) -> torch.Tensor:
    """(3, T, H, W) -> (T' * h * w, stride * 3): each latent pixel's mean colour per frame."""
    v = video[:, frames]
    c, t, hh, ww = v.shape
    h, w = hh // PATCH, ww // PATCH
    v = v.reshape(c, t // stride, stride, h, PATCH, w, PATCH).mean(dim=(4, 6))
    # (c, t', stride, h, w) -> (t', h, w, stride, c), the order LatentPreview reshapes back from
    return v.permute(1, 3, 4, 2, 0).reshape(-1, stride * c)


def _solve(x: torch.Tensor, y: torch.Tensor, ridge: float = 1e-3) -> torch.Tensor:
    x = torch.cat([x, torch.ones_like(x[:, :1])], 1).double()
    gram = x.T @ x + ridge * len(x) * torch.eye(x.shape[1], dtype=x.dtype)
    return torch.linalg.solve(gram, x.T @ y.double()).float()


@torch.no_grad()
def fit_preview(vae: CausalVideoVAE, seeds=range(8), frames: int = 9, size: int = 64):
    """The least-squares `LatentPreview` for `vae`, fitted on world clips of `seeds`."""
    from ..synth import render_clip

    device = next(vae.parameters()).device
    xs_first, ys_first, xs_rest, ys_rest = [], [], [], []
    for seed in seeds:
        clip = render_clip(int(seed), frames, size)
        video = frames_to_tensor(clip.frames).to(device)  # (1, 3, T, H, W) in [-1, 1]
        z = vae.normalize(vae.encode(video))[0].float().cpu()  # (C, T', h, w)
        pixels = video[0].float().cpu()
        xs_first.append(z[:, :1].permute(1, 2, 3, 0).reshape(-1, z.shape[0]))
        ys_first.append(_patches(pixels, slice(0, 1), 1))
        xs_rest.append(z[:, 1:].permute(1, 2, 3, 0).reshape(-1, z.shape[0]))
        ys_rest.append(_patches(pixels, slice(1, frames), STRIDE))
    first = _solve(torch.cat(xs_first), torch.cat(ys_first))
    rest = _solve(torch.cat(xs_rest), torch.cat(ys_rest))
    return LatentPreview(first, rest)


# ----------------------------------------------------------------------------- the stored map

PREVIEW_FILE = "preview.safetensors"


def save_preview(preview: LatentPreview, folder: str | Path, facts: dict | None = None) -> Path:
    """Write the map beside the VAE in `folder`, marked with the VAE file's hash."""
    from ..eval import sha256_file
    from ..weights import save_tensors

    folder = Path(folder)
    path = folder / PREVIEW_FILE
    header = {"vae_sha256": sha256_file(folder / "vae.safetensors"), **(facts or {})}
    save_tensors(path, {"first": preview.first, "rest": preview.rest}, header=header)
    return path


def load_preview(folder: str | Path) -> LatentPreview | None:
    """The stored map of `folder`, or None when there is none or it was fitted to another VAE
    (the model then fits one when it first needs it)."""
    from ..eval import sha256_file
    from ..weights import load_tensors, read_header

    folder = Path(folder)
    path = folder / PREVIEW_FILE
    if not path.is_file():
        return None
    try:  # optional: a damaged file costs a fit, never the whole backend
        if read_header(path).get("vae_sha256") != sha256_file(folder / "vae.safetensors"):
            return None
        tensors = load_tensors(path)
        return LatentPreview(tensors["first"].float(), tensors["rest"].float())
    except (ModelLoadError, KeyError, OSError, RuntimeError) as error:
        log.warning("ignoring the preview map %s: %s", path, error)
        return None
