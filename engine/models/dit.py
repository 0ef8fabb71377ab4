"""The built-in generator: a small spatio-temporal diffusion transformer over VAE latents.

Tokens are 2x2 patches of the VAE latent (plus the control channels of
`engine.models.conditioning`), ordered frame by frame. Every block has joint space-time
self-attention with 3D rotary positions, cross-attention to the prompt, and an MLP, each
modulated by adaptive norms (adaLN-single: one shared projection of the conditioning, plus a
learned per-block offset, which keeps the model small).

Each latent frame carries its own noise level (diffusion forcing), and self-attention is
block-causal over latent frames: a frame sees itself and the frames before it. So one set of
weights does text-to-video (all frames noisy), image-to-video (frame 0 clean), extension (the
first frames clean, taken from the end of another clip) and streaming, where finished frames
are kept as cached keys and values (`KVCache`) and the next chunk attends to them.

The objective is rectified flow: x_t = (1 - t) x_0 + t e, the model predicts v = e - x_0.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelLoadError
from ..weights import build_checked, load_config, load_module, save_module
from .conditioning import CONTROL_CHANNELS
from .text import TextEncoder, Tokenizer, build_vocabulary


@dataclass(frozen=True)
class DiTConfig:
    latent_channels: int = 16  # the VAE's latent channels
    control_channels: int = CONTROL_CHANNELS
    layout_channels: int = 0  # a plan's object layout (engine.models.layout); 0 = none
    scene_channels: int = 0  # its sky, ground and far layer, read through the adaptive norms
    patch: int = 2  # latent pixels per token side
    width: int = 256  # token features
    depth: int = 8  # transformer blocks
    heads: int = 4
    mlp_ratio: float = 3.0
    text_layers: int = 2
    text_length: int = 40  # prompt tokens kept (<bos> included)
    vocabulary: tuple[str, ...] = field(default=(), repr=False)
    #: guidance scales (lowest, highest) a guidance-distilled generator was taught to take as
    #: an input, so one branch runs per step instead of two (`engine.train.distil`); () = a
    #: generator that needs both branches
    folded_guidance: tuple[float, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> DiTConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelLoadError(
                f"The generator config has unknown settings: {', '.join(unknown)}."
            )
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        try:
            config = cls(**values)
        except TypeError as error:
            raise ModelLoadError(f"The generator config is not valid: {error}") from error
        if config.width % config.heads or (config.width // config.heads) % 8:
            raise ModelLoadError("The generator config needs width / heads divisible by 8.")
        if len(config.vocabulary) < 4:
            raise ModelLoadError("The generator config has no vocabulary.")
        folded = config.folded_guidance
        if folded and (len(folded) != 2 or not 0 <= folded[0] < folded[1]):
            raise ModelLoadError(
                f"The generator config's folded guidance range {list(folded)} is not a pair "
                "lowest < highest."
            )
        return config

    @property
    def head_dim(self) -> int:
        return self.width // self.heads

    @property
    def input_channels(self) -> int:
        """Channels of the controls tensor the model reads: controls, then the layout."""
        return self.control_channels + self.layout_channels + self.scene_channels


PRESETS = {
    "builtin": dict(width=256, depth=8, heads=4),
    # a size a CPU can train in hours and run several times faster than real time
    "small": dict(width=192, depth=6, heads=3),
    "tiny": dict(width=64, depth=2, heads=2, text_layers=1, text_length=24),
}


def preset(name: str) -> DiTConfig:
    """A named size with the world's vocabulary."""
    return DiTConfig(**PRESETS[name], vocabulary=build_vocabulary())


# ----------------------------------------------------------------------------- pieces


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of noise levels t in [0, 1], any shape -> (..., dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device) / half)
    angles = (t.float() * 1000.0).unsqueeze(-1) * freqs
    return torch.cat([angles.cos(), angles.sin()], -1)


def guidance_features(scale: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of guidance scales (B,) -> (B, dim); scales up to about 10 fall
    where the noise levels' features do, so both use the same frequencies."""
    return timestep_embedding(scale / 10.0, dim)


class RMSNorm(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight.to(x.dtype), 1e-6)


def rope_tables(
    frames: int, height: int, width: int, head_dim: int, frame_offset: int = 0, device=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin (N, head_dim / 2) for tokens ordered (t, y, x): a quarter of the rotary pairs
    encode time, three eighths each the row and the column."""
    pairs = head_dim // 2
    t_pairs = pairs // 4
    y_pairs = (pairs - t_pairs) // 2
    x_pairs = pairs - t_pairs - y_pairs

    def axis(positions: torch.Tensor, n: int, base: float) -> torch.Tensor:
        freqs = base ** (-torch.arange(n, device=device, dtype=torch.float32) / max(n, 1))
        return positions.float().unsqueeze(-1) * freqs

    tt = torch.arange(frame_offset, frame_offset + frames, device=device)
    yy, xx = torch.arange(height, device=device), torch.arange(width, device=device)
    gt, gy, gx = torch.meshgrid(tt, yy, xx, indexing="ij")
    angles = torch.cat(
        [axis(gt.flatten(), t_pairs, 100.0), axis(gy.flatten(), y_pairs, 100.0),
         axis(gx.flatten(), x_pairs, 100.0)],
        -1,
    )  # fmt: skip
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (B, heads, N, head_dim) by pairs (even, odd)."""
    x1, x2 = x[..., 0::2], x[..., 1::2]
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1).flatten(-2)


@dataclass
class KVCache:
    """Keys and values of finished latent frames, per block, for streaming generation."""

    keys: list[torch.Tensor | None]
    values: list[torch.Tensor | None]
    frames: int = 0  # latent frames seen so far: the next frame's position

    @classmethod
    def empty(cls, depth: int) -> KVCache:
        return cls([None] * depth, [None] * depth, 0)

    @property
    def held_tokens(self) -> int:
        """Tokens whose keys are still in the cache (a window may have dropped older ones)."""
        return 0 if self.keys[0] is None else self.keys[0].shape[2]

    def keep_last(self, frames: int, per_frame: int) -> None:
        """Forget all but the last `frames` latent frames (positions keep counting)."""
        keep = frames * per_frame
        for i, (k, v) in enumerate(zip(self.keys, self.values, strict=True)):
            if k is not None and k.shape[2] > keep:
                self.keys[i], self.values[i] = k[:, :, -keep:], v[:, :, -keep:]


@dataclass
class TextContext:
    """A prompt encoded once per job: pooled vector and each block's cross-attention K, V."""

    pooled: torch.Tensor  # (B, D)
    keys: list[torch.Tensor]  # per block (B, heads, L, hd)
    values: list[torch.Tensor]
    mask: torch.Tensor  # (B, L) bool

    def repeat(self, n: int) -> TextContext:
        rep = lambda x: x.repeat_interleave(n, 0)  # noqa: E731
        return TextContext(
            rep(self.pooled),
            [rep(k) for k in self.keys],
            [rep(v) for v in self.values],
            rep(self.mask),
        )

    @staticmethod
    def cat(contexts: list[TextContext]) -> TextContext:
        return TextContext(
            torch.cat([c.pooled for c in contexts]),
            [torch.cat(ks) for ks in zip(*(c.keys for c in contexts))],
            [torch.cat(vs) for vs in zip(*(c.values for c in contexts))],
            torch.cat([c.mask for c in contexts]),
        )


class Block(nn.Module):
    def __init__(self, cfg: DiTConfig):
        super().__init__()
        d, self.heads = cfg.width, cfg.heads
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d)
        self.q_norm, self.k_norm = RMSNorm(cfg.head_dim), RMSNorm(cfg.head_dim)
        self.proj = nn.Linear(d, d)
        self.norm_cross = nn.LayerNorm(d, eps=1e-6)
        self.cross_q = nn.Linear(d, d)
        self.cross_kv = nn.Linear(d, 2 * d)
        self.cross_proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        hidden = int(d * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, d))
        self.table = nn.Parameter(nn.init.normal_(torch.empty(6, d), std=d**-0.5))

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.heads, -1).transpose(1, 2)

    def text_kv(self, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, v = self.cross_kv(text).chunk(2, -1)
        return self._split(k), self._split(v)

    def forward(
        self,
        x: torch.Tensor,  # (B, N, D), N = T * P
        mod: torch.Tensor,  # (B, T, 6, D)
        rope: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor | None,  # (N, N_keys) bool, True = may attend
        text: tuple[torch.Tensor, torch.Tensor, torch.Tensor],  # K, V, key mask (B, L)
        index: int,
        cache: KVCache | None,
        write_cache: bool,
    ) -> torch.Tensor:
        b, n, d = x.shape
        t = mod.shape[1]
        shift1, scale1, gate1, shift2, scale2, gate2 = (mod + self.table.to(mod.dtype)).unbind(2)

        def modulate(h, shift, scale):  # per latent frame
            h = h.view(b, t, n // t, d) * (1 + scale.unsqueeze(2)) + shift.unsqueeze(2)
            return h.view(b, n, d)

        def gated(h, gate):
            return (h.view(b, t, n // t, d) * gate.unsqueeze(2)).view(b, n, d)

        q, k, v = self.qkv(modulate(self.norm1(x), shift1, scale1)).chunk(3, -1)
        q, k, v = self._split(q), self._split(k), self._split(v)
        q, k = apply_rope(self.q_norm(q), *rope), apply_rope(self.k_norm(k), *rope)
        if cache is not None and cache.keys[index] is not None:
            keys = torch.cat([cache.keys[index], k], 2)
            values = torch.cat([cache.values[index], v], 2)
        else:
            keys, values = k, v
        if write_cache and cache is not None:
            cache.keys[index], cache.values[index] = keys, values
        h = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
        x = x + gated(self.proj(h.transpose(1, 2).reshape(b, n, d)), gate1)

        tk, tv, tmask = text
        q = self._split(self.cross_q(self.norm_cross(x)))
        h = F.scaled_dot_product_attention(q, tk, tv, attn_mask=tmask[:, None, None, :])
        x = x + self.cross_proj(h.transpose(1, 2).reshape(b, n, d))

        return x + gated(self.mlp(modulate(self.norm2(x), shift2, scale2)), gate2)


# ----------------------------------------------------------------------------- the model


class VideoDiT(nn.Module):
    """v-prediction over (B, C, T, H, W) normalised latents, one noise level per latent frame."""

    def __init__(self, cfg: DiTConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or preset("builtin")
        d, p = cfg.width, cfg.patch
        self.tokenizer = Tokenizer(cfg.vocabulary, cfg.text_length)
        self.text = TextEncoder(len(cfg.vocabulary), cfg.text_length, d, cfg.text_layers, cfg.heads)
        patched = cfg.latent_channels + cfg.control_channels + cfg.layout_channels
        self.patch_in = nn.Linear(patched * p * p, d)
        self.scene_in = nn.Linear(cfg.scene_channels, d) if cfg.scene_channels else None
        self.time_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.guidance_mlp = (
            nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
            if cfg.folded_guidance
            else None
        )
        self.text_pool = nn.Linear(d, d)
        self.adaln = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.final_norm = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.final_mod = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))
        self.patch_out = nn.Linear(d, cfg.latent_channels * p * p)
        self._init()

    def _init(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        self.text.apply(_reset_text)
        guidance_out = self.guidance_mlp[-1] if self.guidance_mlp is not None else None
        zeroed_layers = (self.adaln[-1], self.final_mod[-1], self.patch_out, self.scene_in)
        # a folded-guidance student starts as its teacher's conditional branch
        for zeroed in (*zeroed_layers, guidance_out):
            if zeroed is not None:
                nn.init.zeros_(zeroed.weight)
                nn.init.zeros_(zeroed.bias)
        if self.cfg.layout_channels:  # a plan starts as no plan: its inputs begin at zero
            p = self.cfg.patch
            first = (self.cfg.latent_channels + self.cfg.control_channels) * p * p
            with torch.no_grad():
                self.patch_in.weight[:, first:] = 0.0

    def load_without_layout(self, state: dict[str, torch.Tensor]) -> None:
        """Take the weights of a model made before layouts: everything it has, the layout's
        inputs left at zero, so this model starts out generating exactly what that one did."""
        state = dict(state)
        old = state["patch_in.weight"]
        if old.shape != self.patch_in.weight.shape:
            widened = torch.zeros_like(self.patch_in.weight)
            widened[:, : old.shape[1]] = old
            state["patch_in.weight"] = widened
        own = self.state_dict()
        for name in own:
            if name.startswith("scene_in.") and name not in state:
                state[name] = torch.zeros_like(own[name])
        self.load_state_dict(state)

    # -- prompt

    def encode_text(self, prompts: list[str]) -> TextContext:
        ids, mask = self.tokenizer.encode(prompts)
        device = self.patch_in.weight.device
        ids, mask = ids.to(device), mask.to(device)
        tokens, pooled = self.text(ids, mask)
        keys, values = zip(*(block.text_kv(tokens) for block in self.blocks))
        return TextContext(self.text_pool(pooled), list(keys), list(values), mask)

    # -- denoising

    def forward(
        self,
        latents: torch.Tensor,  # (B, C, T, H, W) noisy, normalised
        t: torch.Tensor,  # (B, T) noise level per latent frame, 1 = pure noise
        controls: torch.Tensor,  # (B, control_channels, T, H, W)
        text: TextContext,
        cache: KVCache | None = None,
        write_cache: bool = False,
        guidance: torch.Tensor | float | None = None,  # (B,) scales, for a folded-guidance model
    ) -> torch.Tensor:
        cfg, p = self.cfg, self.cfg.patch
        b, c, frames, h, w = latents.shape
        controls = controls.to(latents.dtype)
        if controls.shape[1] < cfg.input_channels:  # a request without a plan: no layout
            pad = controls.new_zeros((b, cfg.input_channels - controls.shape[1], frames, h, w))
            controls = torch.cat([controls, pad], 1)
        patched = cfg.control_channels + cfg.layout_channels
        x = torch.cat([latents, controls[:, :patched]], 1)
        x = x.view(b, -1, frames, h // p, p, w // p, p).permute(0, 2, 3, 5, 1, 4, 6)
        x = self.patch_in(x.reshape(b, frames * (h // p) * (w // p), -1))

        cond = self.time_mlp(timestep_embedding(t, cfg.width).to(x.dtype))
        cond = cond + text.pooled.to(x.dtype).unsqueeze(1)  # (B, T, D)
        if self.guidance_mlp is not None:
            scale = torch.as_tensor(guidance if guidance is not None else 1.0, device=x.device)
            scale = scale.to(torch.float32).reshape(-1).expand(b)
            cond = (
                cond + self.guidance_mlp(guidance_features(scale, cfg.width).to(x.dtype))[:, None]
            )
        if self.scene_in is not None:  # sky, ground, far layer: one vector per latent frame
            scene = controls[:, patched : patched + cfg.scene_channels].mean((3, 4))
            cond = cond + self.scene_in(scene.transpose(1, 2))
        mod = self.adaln(cond).view(b, frames, 6, cfg.width)

        offset = cache.frames if cache is not None else 0
        rope = rope_tables(frames, h // p, w // p, cfg.head_dim, offset, x.device)
        per_frame = (h // p) * (w // p)
        held = cache.held_tokens // per_frame if cache is not None else 0
        mask = block_causal_mask(frames, per_frame, held, x.device)
        text_mask = text.mask
        for i, block in enumerate(self.blocks):
            x = block(
                x, mod, rope, mask, (text.keys[i], text.values[i], text_mask), i, cache, write_cache
            )
        if write_cache and cache is not None:
            cache.frames += frames

        shift, scale = self.final_mod(cond).chunk(2, -1)
        x = self.final_norm(x).view(b, frames, per_frame, -1)
        x = x * (1 + scale.unsqueeze(2)) + shift.unsqueeze(2)
        x = self.patch_out(x).view(b, frames, h // p, w // p, c, p, p)
        return x.permute(0, 4, 1, 2, 5, 3, 6).reshape(b, c, frames, h, w)

    # -- files

    def save(self, path: str | Path, training: dict | None = None) -> None:
        meta = {"model": "video-dit", **self.cfg.to_dict()}
        if training:
            meta["training"] = training
        save_module(self, path, meta)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> VideoDiT:
        meta = load_config(path)
        if meta.get("model") != "video-dit":
            raise ModelLoadError(
                f"{path} is not a Kinema generator (its config says {meta.get('model')!r})."
            )
        data = {k: v for k, v in meta.items() if k not in ("model", "training")}
        cfg = DiTConfig.from_dict(data)
        model = build_checked(lambda: cls(cfg), path, "generator")
        load_module(model, path)
        model.training_info = meta.get("training", {})
        return model.to(device).eval()


def _reset_text(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)


def block_causal_mask(frames: int, per_frame: int, offset: int, device=None) -> torch.Tensor | None:
    """(N, offset*P + N) bool: a token sees every token of its own and earlier latent frames.
    None when there is a single frame and no cache (everything may attend)."""
    if frames == 1 and offset == 0:
        return None
    query = torch.arange(offset, offset + frames, device=device).repeat_interleave(per_frame)
    key = torch.arange(0, offset + frames, device=device).repeat_interleave(per_frame)
    return key[None, :] <= query[:, None]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
