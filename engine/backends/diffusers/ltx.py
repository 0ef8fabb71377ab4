"""LTX-Video (Lightricks) through diffusers' `LTXPipeline` and `LTXImageToVideoPipeline`.

One transformer makes both text-to-video and image-to-video: the keyframe is encoded into
the first latent frame, which stays clean (timestep 0) while the rest is denoised.

No LTX model takes a last frame here. Folders saved as `LTXConditionPipeline` (0.9.5 and
later) could, as a condition at the last frame index, but that pipeline is another sampler:
its own timestep schedule instead of sigmas and shift, per-token timesteps with noise put
back on the conditions each step, and the condition tokens prepended to the clip's. The
runner's previews, steering and kept latents read the image-to-video pipeline's layout, so
such folders run image-to-video through `LTXImageToVideoPipeline` and a last keyframe gets
the "takes no last frame" notice.

The pipeline packs latents into tokens `(B, T' h w, C)`; the VAE compresses 32x in space
and 8x in time (frames are 8k+1), its latents normalised by `latents_mean`, `latents_std`
and `scaling_factor`. VAEs with timestep conditioning (0.9.1 and later) decode at a small
timestep with a touch of noise, as Lightricks recommends (0.05 and 0.025).
"""

from __future__ import annotations

from .adapter import FamilyAdapter, ModelTraits

DECODE_TIMESTEP = 0.05
DECODE_NOISE_SCALE = 0.025


class LTXAdapter(FamilyAdapter):
    family = "ltx"
    max_sequence_length = 128

    def traits(self) -> ModelTraits:
        entry = self.entry
        vae = entry.config("vae")
        transformer = entry.config("transformer")
        scaling = vae.get("spatio_temporal_scaling", [True, True, True, False])
        spatial = vae.get("spatial_compression_ratio") or int(vae.get("patch_size", 4)) * 2 ** sum(
            bool(s) for s in scaling
        )
        temporal = vae.get("temporal_compression_ratio") or int(
            vae.get("patch_size_t", 1)
        ) * 2 ** sum(bool(s) for s in scaling)
        patch = int(transformer.get("patch_size", 1))
        version = "0.9.5+" if entry.pipeline == "LTXConditionPipeline" else ""
        return ModelTraits(
            family=self.family,
            label=f"LTX-Video {version} ({entry.name})".replace("  ", " "),
            keyframe=True,
            last_frame=False,  # see the module docstring
            frame_step=int(temporal),
            fixed_frames=(),
            max_frames=257,
            size_multiple=int(spatial) * patch,
            fixed_size=None,
            native_area=704 * 480,
            native_fps=25.0,
            default_steps=50,
            default_guidance=3.0,
            latent_channels=int(vae.get("latent_channels", 128)),
            spatial_ratio=int(spatial),
            temporal_ratio=int(temporal),
        )

    def pipeline_class(self, kind: str) -> str | None:
        return "LTXPipeline" if kind == "t2v" else "LTXImageToVideoPipeline"

    def call_kwargs(self, plan, image=None, last_image=None) -> dict:
        kwargs = super().call_kwargs(plan, image, None)
        kwargs.update(frame_rate=int(round(plan.fps)), max_sequence_length=self.max_sequence_length)
        return kwargs

    def _latent_shape(self, pipe, plan):
        frames = (plan.frames - 1) // pipe.vae_temporal_compression_ratio + 1
        return (
            frames,
            plan.height // pipe.vae_spatial_compression_ratio,
            plan.width // pipe.vae_spatial_compression_ratio,
        )

    def video_latents(self, pipe, latents, plan):
        if latents.ndim == 5:
            return latents
        frames, height, width = self._latent_shape(pipe, plan)
        p, pt = pipe.transformer_spatial_patch_size, pipe.transformer_temporal_patch_size
        tokens = (frames // pt) * (height // p) * (width // p)
        return pipe._unpack_latents(latents[:, :tokens], frames, height, width, p, pt)

    def denoised_video(self, pipe, x0, latents, plan):
        import torch

        if x0.ndim == 5:  # image-to-video steps frames 1.. only; frame 0 is the clean keyframe
            first = self.video_latents(pipe, latents, plan)[:, :, :1]
            return torch.cat([first.to(x0.dtype), x0], dim=2)
        return self.video_latents(pipe, x0, plan)

    def pipeline_latents(self, pipe, latents, plan, like=None):
        p, pt = pipe.transformer_spatial_patch_size, pipe.transformer_temporal_patch_size
        return pipe._pack_latents(latents, p, pt)

    def schedule_kwargs(self, pipe, plan, steps):
        import numpy as np
        from diffusers.pipelines.ltx.pipeline_ltx import calculate_shift

        frames, height, width = self._latent_shape(pipe, plan)
        config = pipe.scheduler.config
        mu = calculate_shift(
            frames * height * width,
            config.get("base_image_seq_len", 256),
            config.get("max_image_seq_len", 4096),
            config.get("base_shift", 0.5),
            config.get("max_shift", 1.15),
        )
        return {"sigmas": np.linspace(1.0, 1 / steps, steps), "mu": mu}

    def keeps_first_frame(self, pipe, kind):
        return kind == "i2v"

    def decode(self, pipe, latents, generator=None):
        import torch

        vae = pipe.vae
        z = latents.to(pipe._execution_device, torch.float32)
        z = pipe._denormalize_latents(
            z, vae.latents_mean, vae.latents_std, vae.config.scaling_factor
        )
        timestep = None
        if vae.config.timestep_conditioning:
            noise = torch.randn(z.shape, generator=generator, dtype=z.dtype).to(z.device)
            z = (1 - DECODE_NOISE_SCALE) * z + DECODE_NOISE_SCALE * noise
            timestep = torch.tensor([DECODE_TIMESTEP], device=z.device, dtype=vae.dtype)
        return vae.decode(z.to(vae.dtype), timestep, return_dict=False)[0]

    def encode(self, pipe, video):
        vae = pipe.vae
        raw = vae.encode(video.to(pipe._execution_device, vae.dtype)).latent_dist.mode()
        return pipe._normalize_latents(
            raw, vae.latents_mean, vae.latents_std, vae.config.scaling_factor
        )
