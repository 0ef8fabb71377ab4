"""The built-in model as plain torch modules (see DESIGN.md, "The built-in model")."""

from __future__ import annotations

from .vae import (
    CausalVideoVAE,
    DecoderStream,
    VAEConfig,
    frames_to_tensor,
    latent_frames,
    preset,
    tensor_to_frames,
    video_frames,
)

__all__ = [
    "CausalVideoVAE",
    "DecoderStream",
    "VAEConfig",
    "frames_to_tensor",
    "latent_frames",
    "preset",
    "tensor_to_frames",
    "video_frames",
]
