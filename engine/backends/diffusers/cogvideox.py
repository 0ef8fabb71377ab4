"""CogVideoX (THUDM) through diffusers' `CogVideoXPipeline` and `CogVideoXImageToVideoPipeline`.

Text-to-video and image-to-video are separate models (the I2V transformer takes the
keyframe's latents as extra channels). CogVideoX 1.0 (2B, 5B) makes one size and one length
only: its transformer's `sample_width` x `sample_height` latents (720x480) and
`sample_frames` frames (49 at 8 fps). CogVideoX 1.5 patches time too (`patch_size_t`), makes
8k+1 frames (81 or 161) at 16 fps at any size that is a multiple of 16, and pads its latent
frames to whole patches, padding dropped before decoding.

Latents are `(B, T', C, h, w)`, scaled by the VAE's `scaling_factor`.
"""

from __future__ import annotations

from .adapter import FamilyAdapter, ModelTraits


class CogVideoXAdapter(FamilyAdapter):
    family = "cogvideox"

    @property
    def max_sequence_length(self) -> int:  # the transformer's text length caps the encoder
        return int(self.entry.config("transformer").get("max_text_seq_length", 226))

    def traits(self) -> ModelTraits:
        entry = self.entry
        vae = entry.config("vae")
        transformer = entry.config("transformer")
        spatial = 2 ** (len(vae.get("block_out_channels", [128, 256, 256, 512])) - 1)
        temporal = int(vae.get("temporal_compression_ratio", 4))
        patch = int(transformer.get("patch_size", 2))
        patch_t = transformer.get("patch_size_t")
        i2v = entry.pipeline == "CogVideoXImageToVideoPipeline"
        kind = "I2V" if i2v else "T2V"
        if patch_t:  # 1.5
            frame_step, fixed, fixed_size, fps = temporal * int(patch_t), (), None, 16.0
            max_frames, version = 161, "1.5"
        else:
            frames = int(transformer.get("sample_frames", 49))
            size = (
                int(transformer.get("sample_width", 90)) * spatial,
                int(transformer.get("sample_height", 60)) * spatial,
            )
            frame_step, fixed, fixed_size, fps = 0, (frames,), size, 8.0
            max_frames, version = frames, "1.0"
        return ModelTraits(
            family=self.family,
            label=f"CogVideoX {version} {kind} ({entry.name})",
            keyframe=i2v,
            last_frame=False,
            frame_step=frame_step,
            fixed_frames=fixed,
            max_frames=max_frames,
            size_multiple=spatial * patch,
            fixed_size=fixed_size,
            native_area=1360 * 768 if patch_t else 720 * 480,
            native_fps=fps,
            default_steps=50,
            default_guidance=6.0,
            latent_channels=int(vae.get("latent_channels", 16)),
            spatial_ratio=spatial,
            temporal_ratio=temporal,
        )

    def pipeline_class(self, kind: str) -> str | None:
        i2v = self.entry.pipeline == "CogVideoXImageToVideoPipeline"
        if kind == "t2v":
            return None if i2v else "CogVideoXPipeline"
        return "CogVideoXImageToVideoPipeline" if i2v else None

    def call_kwargs(self, plan, image=None, last_image=None) -> dict:
        kwargs = super().call_kwargs(plan, image, None)
        kwargs["max_sequence_length"] = self.max_sequence_length
        return kwargs

    def _padding(self, pipe, plan) -> int:
        latent_frames = (plan.frames - 1) // pipe.vae_scale_factor_temporal + 1
        patch_t = pipe.transformer.config.patch_size_t
        if patch_t and latent_frames % patch_t:
            return patch_t - latent_frames % patch_t
        return 0

    def video_latents(self, pipe, latents, plan):
        return latents[:, self._padding(pipe, plan) :].permute(0, 2, 1, 3, 4)

    def pipeline_latents(self, pipe, latents, plan, like=None):
        import torch

        own = latents.permute(0, 2, 1, 3, 4)
        pad = self._padding(pipe, plan)
        if not pad:
            return own
        padding = like[:, :pad] if like is not None else torch.randn_like(own[:, :pad])
        return torch.cat([padding.to(own.dtype), own], dim=1)

    def decode(self, pipe, latents, generator=None):
        vae = pipe.vae
        z = latents.to(pipe._execution_device, vae.dtype) / vae.config.scaling_factor
        return vae.decode(z).sample

    def encode(self, pipe, video):
        vae = pipe.vae
        raw = vae.encode(video.to(pipe._execution_device, vae.dtype)).latent_dist.mode()
        return raw * vae.config.scaling_factor
