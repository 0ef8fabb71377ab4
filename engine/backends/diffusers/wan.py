"""Wan 2.1 / 2.2 (Wan-AI) through diffusers' `WanPipeline` and `WanImageToVideoPipeline`.

- Wan 2.1 T2V (1.3B, 14B): text only; I2V 14B: a keyframe, with a CLIP image encoder;
  FLF2V 14B: a keyframe and a last frame, both (`WanImageToVideoPipeline(last_image=...)`
  embeds the CLIP tokens of the two together, so it cannot make a clip from one).
- Wan 2.2 I2V A14B: a keyframe and, optionally, a last frame, through its condition
  frames (it has no CLIP branch).
- Wan 2.2 A14B: two experts, `transformer` for high noise and `transformer_2` for low noise,
  switched at `boundary_ratio` of the schedule (both listed in `model_index.json`).
- Wan 2.2 TI2V 5B: one model for both, its VAE 16x spatially with 48 channels; the keyframe
  replaces the first latent frame (`expand_timesteps`), 24 fps.

Latents are `(B, 16|48, T', h, w)`, normalised per channel with the VAE's `latents_mean`
and `latents_std`; frames are 4k+1.
"""

from __future__ import annotations

from .adapter import FamilyAdapter, ModelTraits


class WanAdapter(FamilyAdapter):
    family = "wan"
    max_sequence_length = 512

    def traits(self) -> ModelTraits:
        entry = self.entry
        vae = entry.config("vae")
        transformer = entry.config("transformer") or entry.config("transformer_2")
        channels = int(vae.get("z_dim", 16))
        spatial = int(vae.get("scale_factor_spatial", 8))
        temporal = int(vae.get("scale_factor_temporal", 4))
        patch = transformer.get("patch_size", [1, 2, 2])
        width = int(transformer.get("num_attention_heads", 12)) * int(
            transformer.get("attention_head_dim", 128)
        )
        two_experts = entry.index.get("boundary_ratio") is not None and bool(
            entry.components().get("transformer_2")
        )
        ti2v = bool(entry.index.get("expand_timesteps")) or channels == 48
        i2v = entry.pipeline == "WanImageToVideoPipeline"
        # FLF2V embeds the CLIP tokens of two images (it has positions for them); Wan 2.1 I2V
        # embeds one, so its pipeline cannot take a last image; Wan 2.2 I2V has no CLIP
        # branch and takes one through its condition frames
        flf2v = i2v and transformer.get("pos_embed_seq_len") is not None
        takes_last = i2v and not ti2v and (flf2v or transformer.get("image_dim") is None)
        kind = "FLF2V" if flf2v else "I2V" if i2v else "T2V"
        if ti2v:
            area, fps, max_frames, kind = 1280 * 704, 24.0, 121, "TI2V"
        elif width >= 5120:  # the 14B models were trained up to 720p
            area, fps, max_frames = 1280 * 720, 16.0, 81
        else:
            area, fps, max_frames = 832 * 480, 16.0, 81
        version = "2.2" if (two_experts or ti2v) else "2.1"
        return ModelTraits(
            family=self.family,
            label=f"Wan {version} {kind} ({entry.name})",
            keyframe=i2v or ti2v,
            last_frame=takes_last,  # TI2V's pipeline drops `last_image`
            frame_step=temporal,
            fixed_frames=(),
            max_frames=max_frames,
            size_multiple=spatial * int(patch[1]),
            fixed_size=None,
            native_area=area,
            native_fps=fps,
            default_steps=40 if two_experts else 50,
            default_guidance=4.0 if two_experts else 5.0,
            latent_channels=channels,
            spatial_ratio=spatial,
            temporal_ratio=temporal,
            two_experts=two_experts,
            last_frame_required=flf2v,
        )

    def pipeline_class(self, kind: str) -> str | None:
        traits = self.traits()
        if kind == "t2v":
            # the I2V transformer takes image channels too; it cannot make text-only clips
            return None if self.entry.pipeline == "WanImageToVideoPipeline" else "WanPipeline"
        return "WanImageToVideoPipeline" if traits.keyframe else None

    def call_kwargs(self, plan, image=None, last_image=None) -> dict:
        kwargs = super().call_kwargs(plan, image, last_image)
        kwargs["max_sequence_length"] = self.max_sequence_length
        return kwargs

    def keeps_first_frame(self, pipe, kind):
        # Wan 2.2 TI2V puts the keyframe's latents in frame 0 and never steps them
        return kind == "i2v" and bool(pipe.config.get("expand_timesteps"))

    def _stats(self, vae, like):
        import torch

        shape = (1, vae.config.z_dim, 1, 1, 1)
        mean = torch.tensor(vae.config.latents_mean).view(shape).to(like.device, like.dtype)
        std = torch.tensor(vae.config.latents_std).view(shape).to(like.device, like.dtype)
        return mean, std

    def decode(self, pipe, latents, generator=None):
        vae = pipe.vae
        z = latents.to(pipe._execution_device, vae.dtype)
        mean, std = self._stats(vae, z)
        return vae.decode(z * std + mean, return_dict=False)[0]

    def encode(self, pipe, video):
        vae = pipe.vae
        x = video.to(pipe._execution_device, vae.dtype)
        raw = vae.encode(x).latent_dist.mode()
        mean, std = self._stats(vae, raw)
        return (raw - mean) / std
