"""Tiny diffusers pipelines built from config, for tests and benchmarks, never downloaded.

Nothing can be fetched here, so every family Kinema runs (Wan 2.1 / 2.2, LTX-Video,
CogVideoX) is also built as a toy of the same architecture: a two-layer transformer a few
dozen channels wide, a VAE with one block per level, a T5/UMT5 text encoder from its config
and a word-level tokenizer made in memory with the `tokenizers` library. Each is saved in
the diffusers layout (`model_index.json` plus one folder per component, safetensors only),
so discovery and loading meet exactly what a user's downloaded model folder holds.

`width` scales the transformer (attention heads x head size) so a benchmark can build a
model whose step costs tens of milliseconds on a CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

#: words of the toy vocabulary; anything else becomes <unk>
_WORDS = (
    "a an the red green blue yellow purple orange white black ball cube cone star sphere "
    "rolls bounces slides falls across over on in at sand snow grass checker floor dusk "
    "night day noon meadow tree sky camera pans left right dolly zoom monkey dance"
).split()

FAMILIES = ("wan", "wan-i2v", "wan-flf2v", "wan22", "ltx", "cogvideox", "cogvideox-i2v")


def tiny_tokenizer(model_max_length: int = 64):
    """A word-level T5-style tokenizer (<pad>=0, </s>=1, <unk>=2, eos appended), in memory."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for word in _WORDS:
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=model_max_length,
    )


def _t5(d_model: int = 32, umt5: bool = False):
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    kwargs = dict(
        vocab_size=len(_WORDS) + 8,
        d_model=d_model,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    if umt5:
        return UMT5EncoderModel(UMT5Config(**kwargs))
    return T5EncoderModel(T5Config(**kwargs))


def _wan_transformer(
    in_channels: int,
    heads: int,
    head_dim: int,
    image_dim: int | None = None,
    pos_embed_seq_len: int | None = None,
):
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=heads,
        attention_head_dim=head_dim,
        in_channels=in_channels,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=2 * heads * head_dim,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
        image_dim=image_dim,
        pos_embed_seq_len=pos_embed_seq_len,
    )


def _wan_vae():
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
        temperal_downsample=[False, True, True],
    )  # fmt: skip


def build_tiny_pipeline(family: str, width: int = 32, seed: int = 0):
    """The toy pipeline of `family` (one of `FAMILIES`), weights random from `seed`."""
    import torch

    heads = 2
    head_dim = max(8, width // heads)  # CogVideoX needs heads x head_dim divisible by 16
    torch.manual_seed(seed)
    if family in ("wan", "wan22"):
        from diffusers import UniPCMultistepScheduler, WanPipeline

        scheduler = UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
        )
        transformer = _wan_transformer(16, heads, head_dim)
        transformer_2 = _wan_transformer(16, heads, head_dim) if family == "wan22" else None
        return WanPipeline(
            tokenizer=tiny_tokenizer(),
            text_encoder=_t5(umt5=True),
            transformer=transformer,
            vae=_wan_vae(),
            scheduler=scheduler,
            transformer_2=transformer_2,
            boundary_ratio=0.875 if family == "wan22" else None,
        )
    if family in ("wan-i2v", "wan-flf2v"):
        from diffusers import UniPCMultistepScheduler, WanImageToVideoPipeline
        from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

        image_encoder = CLIPVisionModel(
            CLIPVisionConfig(
                hidden_size=4,
                projection_dim=4,
                num_hidden_layers=2,
                num_attention_heads=2,
                image_size=32,
                intermediate_size=16,
                patch_size=1,
            )  # fmt: skip
        )
        return WanImageToVideoPipeline(
            tokenizer=tiny_tokenizer(),
            text_encoder=_t5(umt5=True),
            image_encoder=image_encoder,
            image_processor=CLIPImageProcessor(crop_size=32, size=32),
            # FLF2V embeds both images' CLIP tokens (32 x 32 patches + 1 each) with positions
            transformer=_wan_transformer(
                36,
                heads,
                head_dim,
                image_dim=4,
                pos_embed_seq_len=2 * (32 * 32 + 1) if family == "wan-flf2v" else None,
            ),  # fmt: skip
            vae=_wan_vae(),
            scheduler=UniPCMultistepScheduler(
                prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
            ),
        )
    if family == "ltx":
        from diffusers import (
            AutoencoderKLLTXVideo,
            FlowMatchEulerDiscreteScheduler,
            LTXPipeline,
            LTXVideoTransformer3DModel,
        )

        transformer = LTXVideoTransformer3DModel(
            in_channels=8, out_channels=8, patch_size=1, patch_size_t=1,
            num_attention_heads=heads, attention_head_dim=head_dim, cross_attention_dim=32,
            num_layers=2, caption_channels=32,
        )  # fmt: skip
        vae = AutoencoderKLLTXVideo(
            latent_channels=8, block_out_channels=(8, 8, 8, 8),
            spatio_temporal_scaling=(True, True, False, False), layers_per_block=(1, 1, 1, 1, 1),
            decoder_block_out_channels=(8, 8, 8, 8), decoder_layers_per_block=(1, 1, 1, 1, 1),
            decoder_spatio_temporal_scaling=(True, True, False, False), patch_size=1, patch_size_t=1, encoder_causal=True, decoder_causal=False,
        )  # fmt: skip
        return LTXPipeline(
            scheduler=FlowMatchEulerDiscreteScheduler(),
            vae=vae,
            text_encoder=_t5(),
            tokenizer=tiny_tokenizer(),
            transformer=transformer,
        )
    if family in ("cogvideox", "cogvideox-i2v"):
        from diffusers import (
            AutoencoderKLCogVideoX,
            CogVideoXDDIMScheduler,
            CogVideoXImageToVideoPipeline,
            CogVideoXPipeline,
            CogVideoXTransformer3DModel,
        )

        i2v = family == "cogvideox-i2v"
        transformer = CogVideoXTransformer3DModel(
            num_attention_heads=heads, attention_head_dim=head_dim,
            in_channels=8 if i2v else 4, out_channels=4, time_embed_dim=2, text_embed_dim=32,
            num_layers=2, sample_width=4, sample_height=4, sample_frames=9, patch_size=2,
            temporal_compression_ratio=4, max_text_seq_length=16,
            use_rotary_positional_embeddings=i2v, use_learned_positional_embeddings=False,
        )  # fmt: skip
        vae = AutoencoderKLCogVideoX(
            in_channels=3, out_channels=3,
            down_block_types=("CogVideoXDownBlock3D",) * 4,
            up_block_types=("CogVideoXUpBlock3D",) * 4,
            block_out_channels=(8, 8, 8, 8), latent_channels=4, layers_per_block=1,
            norm_num_groups=2, temporal_compression_ratio=4,
        )  # fmt: skip
        cls = CogVideoXImageToVideoPipeline if i2v else CogVideoXPipeline
        return cls(
            tokenizer=tiny_tokenizer(),
            text_encoder=_t5(),
            vae=vae,
            transformer=transformer,
            scheduler=CogVideoXDDIMScheduler(),
        )
    raise ValueError(f"unknown tiny family {family!r}; choose one of {', '.join(FAMILIES)}")


def save_tiny_pipeline(family: str, folder: str | Path, width: int = 32, seed: int = 0) -> Path:
    """Build the toy of `family` and save it as a diffusers model folder (safetensors only)."""
    folder = Path(folder)
    pipe = build_tiny_pipeline(family, width=width, seed=seed)
    pipe.save_pretrained(folder, safe_serialization=True)
    index = json.loads((folder / "model_index.json").read_text())
    index["_kinema_tiny"] = family  # a note for people reading the folder; nothing reads it
    (folder / "model_index.json").write_text(json.dumps(index, indent=2))
    return folder
