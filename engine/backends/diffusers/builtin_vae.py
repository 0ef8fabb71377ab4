"""The built-in model's video VAE behind the interface of diffusers' `AutoencoderKLWan`.

A steering test worth believing needs a real diffusers pipeline whose pictures show objects,
and a VAE trained on a CPU in minutes cannot draw them (small objects came back as dark
blobs). The built-in VAE (27-37 dB on held-out world clips) has Wan 2.1's geometry: 16
channels, 8x in space, 4x in time with the first frame encoded alone. Wrapped here, it sits
in a stock `WanPipeline` beside a `WanTransformer3DModel`, and everything the runner and
steering do to a user's Wan model (encode the guide, hold regions, decode) runs unchanged.

Its folder holds only `config.json`: the weights are the built-in model's own
(`assets/models/builtin/vae.safetensors`), checked by their SHA-256, so they are not
shipped twice. `model_index.json` names this module as the component's library, which is
how diffusers loads a custom component.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.models.autoencoders.vae import DecoderOutput
from diffusers.models.modeling_outputs import AutoencoderKLOutput

from ...assets import BUILTIN_WEIGHTS
from ...errors import ModelLoadError
from ...models.vae import CausalVideoVAE

LIBRARY = __name__  # what model_index.json names as this component's library
WEIGHTS = BUILTIN_WEIGHTS / "vae.safetensors"

# diffusers finds how to load a component by looking its base classes up in the component's
# library module, so ModelMixin and ConfigMixin are part of this module's interface
__all__ = ["BuiltinVideoVAE", "ConfigMixin", "ModelMixin", "LIBRARY", "WEIGHTS"]


def weights_sha256(path: Path = WEIGHTS) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class _Latents:
    """A deterministic posterior: the built-in VAE has a fixed variance, so mode = sample."""

    latents: torch.Tensor

    def mode(self) -> torch.Tensor:
        return self.latents

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.latents

    @property
    def mean(self) -> torch.Tensor:
        return self.latents


class BuiltinVideoVAE(ModelMixin, ConfigMixin):
    """`encode(x).latent_dist.mode()` and `decode(z).sample` on (B, 3, T, H, W) in [-1, 1],
    with raw (unnormalised) latents, as `AutoencoderKLWan` does; `latents_mean` and
    `latents_std` in the config are what Wan pipelines normalise by."""

    config_name = "config.json"
    _supports_gradient_checkpointing = False

    @register_to_config
    def __init__(
        self,
        z_dim: int = 16,
        scale_factor_temporal: int = 4,
        scale_factor_spatial: int = 8,
        latents_mean: list[float] | None = None,
        latents_std: list[float] | None = None,
        weights_sha256: str = "",
    ):
        super().__init__()
        if not WEIGHTS.is_file():
            raise ModelLoadError(
                f"This model uses the built-in model's VAE, whose weights are missing ({WEIGHTS})."
            )
        self.inner = CausalVideoVAE.load(WEIGHTS).requires_grad_(False)
        if self.inner.cfg.latent_channels != z_dim:
            raise ModelLoadError(
                f"The built-in VAE makes {self.inner.cfg.latent_channels} latent channels, "
                f"but this model's config asks for {z_dim}."
            )
        if latents_mean is None or latents_std is None:  # the built-in model's own statistics
            self.register_to_config(
                latents_mean=[float(v) for v in self.inner.latent_mean],
                latents_std=[float(v) for v in self.inner.latent_std],
            )

    @classmethod
    def from_pretrained(cls, folder, **kwargs) -> BuiltinVideoVAE:
        """Read `config.json` from the component folder and check that the built-in weights
        are the ones this model was trained with."""
        path = Path(folder) / cls.config_name
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ModelLoadError(f"The VAE config {path} cannot be read ({error}).") from error
        wanted = config.get("weights_sha256") or ""
        if wanted and wanted != weights_sha256():
            raise ModelLoadError(
                f"This model was trained with another version of the built-in VAE than the one "
                f"installed ({WEIGHTS}); retrain it with 'kinema train toy-wan --vae builtin'."
            )
        model = cls.from_config(config)
        dtype = kwargs.get("torch_dtype") or kwargs.get("dtype")
        if isinstance(dtype, dict):
            dtype = dtype.get("vae") or dtype.get("default")
        if isinstance(dtype, torch.dtype) and dtype != model.dtype:
            torch.nn.Module.to(model, dtype=dtype)  # ModelMixin.to warns about fp32 modules
        return model

    def save_pretrained(self, save_directory, **kwargs) -> None:
        """Writes the config only; the weights stay the built-in model's."""
        if not self.config.weights_sha256:
            self.register_to_config(weights_sha256=weights_sha256())
        Path(save_directory).mkdir(parents=True, exist_ok=True)
        self.save_config(save_directory)

    def encode(self, x: torch.Tensor, return_dict: bool = True):
        latents = self.inner.encode(x.to(self.dtype))
        posterior = _Latents(latents)
        return AutoencoderKLOutput(latent_dist=posterior) if return_dict else (posterior,)

    def decode(self, z: torch.Tensor, return_dict: bool = True):
        video = self.inner.decode(z.to(self.dtype)).clamp(-1.0, 1.0)
        return DecoderOutput(sample=video) if return_dict else (video,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x).latent_dist.mode()).sample
