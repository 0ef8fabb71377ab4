"""The built-in model's causal video autoencoder: 8x spatial, 4x temporal compression.

Time is folded into channels at the very start (a "space-time to depth" stem, like a patch
embedding): frame 0 is repeated three times in front of the clip (the causal, replicate
left padding), so a clip of 1 + 4k frames becomes 1 + k groups of 4 frames, and latent
frame j depends on frames 4j-3..4j and everything before them only. Each group is then
folded 4x4 in space, so all heavy work runs as 2D convolutions at 1/4 and 1/8 resolution on
1 + k "frames" instead of 1 + 4k. Information flows forward in time only through
`CausalTimeMix` layers (kernel 3 in time, 1x1 in space, left padding by replicating the
first frame). The decoder mirrors this and ends with a small per-frame head at 1/4
resolution and a 4x pixel shuffle to full resolution.

Because nothing looks ahead, the decoder can run latent frame by latent frame with a cache
of the last two frames' taps in every `CausalTimeMix` (`decoder_stream()`), giving the same
frames as a full decode: latent 0 yields frame 0, each later latent yields the next 4 frames.
There is no attention and no normalisation across time or space (RMS norm over channels
per pixel only), so any size divisible by 8 works and nothing leaks from the future.

Layouts: video `B 3 T H W` float in [-1, 1]; latents `B C T' H/8 W/8` with T' = 1 + (T-1)//4;
frames on the numpy side `T H W 3` uint8.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InvalidRequest, ModelLoadError
from ..weights import build_checked, load_config, load_module, save_module

SPATIAL = 8  # pixels per latent cell along x and y
TEMPORAL = 4  # frames per latent frame (after the first, which is encoded alone)
STEM = 4  # the space-to-depth fold of the stem; the rest of SPATIAL is one 2x step


@dataclass
class VAEConfig:
    latent_channels: int = 16  # C of the latent (the DiT's input channels)
    widths: tuple[int, int] = (128, 192)  # channels at 1/4 and 1/8 resolution
    encoder_blocks: tuple[int, int] = (1, 2)  # residual blocks per encoder stage (1/4, 1/8)
    decoder_blocks: tuple[int, int] = (2, 3)  # residual blocks per decoder stage (1/4, 1/8)
    frame_width: int = 64  # channels of the decoder's per-frame head at 1/4 resolution
    frame_blocks: int = 1  # residual blocks in the per-frame head
    latent_mean: tuple[float, ...] | None = None  # per-channel latent mean, measured after training
    latent_std: tuple[float, ...] | None = None  # per-channel latent std, measured after training

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> VAEConfig:
        """Build from a JSON dict; unknown keys or bad values raise `ModelLoadError`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelLoadError(f"The VAE config has unknown settings: {', '.join(unknown)}.")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        try:
            config = cls(**values)
            config.validate()
        except (TypeError, ValueError) as error:
            raise ModelLoadError(f"The VAE config is not valid: {error}") from error
        return config

    def validate(self) -> None:
        positive = [self.latent_channels, *self.widths, self.frame_width]
        if len(self.widths) != 2 or min(positive) < 1:
            raise ValueError("widths must be two positive channel counts.")
        if min(*self.encoder_blocks, *self.decoder_blocks, self.frame_blocks) < 0:
            raise ValueError("block counts cannot be negative.")
        for name in ("latent_mean", "latent_std"):
            value = getattr(self, name)
            if value is not None and len(value) != self.latent_channels:
                raise ValueError(f"{name} needs one value per latent channel.")
        if self.latent_std is not None and min(self.latent_std) <= 0:
            raise ValueError("latent_std must be positive.")


#: model sizes by name: the shipped model, and a tiny one for tests and smoke runs
PRESETS = {
    "builtin": VAEConfig,
    "tiny": lambda: VAEConfig(
        latent_channels=4,
        widths=(16, 32),
        encoder_blocks=(1, 1),
        decoder_blocks=(1, 1),
        frame_width=8,
    ),
}


def preset(name: str) -> VAEConfig:
    """A fresh config of a named size (see `PRESETS`)."""
    if name not in PRESETS:
        raise InvalidRequest(f"Unknown VAE size {name!r}; choose one of {', '.join(PRESETS)}.")
    return PRESETS[name]()


def latent_frames(frames: int) -> int:
    """Latent frames of a clip of `frames` frames (1 + 4k -> 1 + k)."""
    return 1 + (frames - 1) // TEMPORAL


def video_frames(latents: int) -> int:
    """Frames decoded from `latents` latent frames (1 + k -> 1 + 4k)."""
    return 1 + TEMPORAL * (latents - 1)


# ---------------------------------------------------------------- building blocks


def _conv(c_in: int, c_out: int, kernel: int = 3, zero: bool = False) -> nn.Conv2d:
    conv = nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2)
    nn.init.zeros_(conv.bias)
    if zero:  # a residual branch that starts as a no-op
        nn.init.zeros_(conv.weight)
    else:  # variance-preserving under SiLU
        nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
    return conv


class RMSNorm(nn.Module):
    """RMS normalisation over channels at each pixel of each frame (causal: no statistics
    across time or space), with a learned gain; for channels-last (N, C, H, W) tensors."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pixels = x.permute(0, 2, 3, 1)  # (N, H, W, C), contiguous when x is channels-last
        weight = self.weight.to(pixels.dtype)  # bf16 under autocast keeps the fused kernel
        return F.rms_norm(pixels, (x.shape[1],), weight, 1e-6).permute(0, 3, 1, 2)


class ResBlock(nn.Module):
    """Per-frame pre-norm residual block: two 3x3 convolutions with SiLU (nothing here mixes
    frames, so it is causal by construction)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = RMSNorm(channels)
        self.conv1 = _conv(channels, channels)
        self.conv2 = _conv(channels, channels, zero=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> same
        return x + self.conv2(F.silu(self.conv1(F.silu(self.norm(x)))))


class CausalTimeMix(nn.Module):
    """Residual causal temporal convolution: kernel 3 in time, 1x1 in space.

    out_t = x_t + W2 s_t + W1 s_{t-1} + W0 s_{t-2} with s = silu(x), the first frame repeated
    before the start (replicate left padding). One set of weights, two equivalent paths:
    training runs a Conv3d over the padded sequence (fast backward); inference applies the
    three taps as one 1x1 convolution per frame and adds the shifted taps in place (no padded
    copy). With a `cache` dict (inference only), the taps of the last frames are kept under
    this module as key, so the next call continues the sequence exactly.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.norm = RMSNorm(channels)
        self.conv = nn.Conv3d(channels, channels, (3, 1, 1))
        nn.init.zeros_(self.conv.weight)  # starts as a no-op
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor, batch: int, cache: dict | None = None) -> torch.Tensor:
        if torch.is_grad_enabled() and cache is None:
            return self._forward_train(x, batch)
        n, c, h, w = x.shape
        t = n // batch
        weight = self.conv.weight.flip(2).permute(2, 0, 1, 3, 4).reshape(3 * c, c, 1, 1)
        bias = F.pad(self.conv.bias, (0, 2 * c))  # the bias is added once, with the current tap
        taps = F.conv2d(F.silu(self.norm(x)), weight, bias)  # (B*T, 3C, H, W)
        taps = taps.unflatten(0, (batch, t))  # (B, T, 3C, H, W)
        now, prev1, prev2 = taps.split(c, dim=2)  # W2 s_t, W1 s_t, W0 s_t
        state = cache.get(self) if cache is not None else None
        if state is None:  # replicate padding: s_{-1} = s_{-2} = s_0
            state = (prev1[:, :1], prev2[:, :1].expand(batch, 2, c, h, w))
        hist1, hist2 = state  # (B, 1, C, H, W) W1 s_{-1};  (B, 2, C, H, W) W0 s_{-2}, W0 s_{-1}
        out = x.unflatten(0, (batch, t)) + now  # (B, T, C, H, W)
        out[:, 1:] += prev1[:, :-1]
        out[:, :1] += hist1
        out[:, 2:] += prev2[:, :-2]
        out[:, : min(t, 2)] += hist2[:, : min(t, 2)]
        if cache is not None:
            tail2 = prev2[:, -2:] if t >= 2 else torch.cat([hist2[:, 1:], prev2], 1)
            cache[self] = (prev1[:, -1:], tail2)
        return out.flatten(0, 1)  # (B*T, C, H, W)

    def _forward_train(self, x: torch.Tensor, batch: int) -> torch.Tensor:
        n, c, h, w = x.shape
        s = F.silu(self.norm(x)).unflatten(0, (batch, n // batch))  # (B, T, C, H, W)
        s = s.permute(0, 2, 1, 3, 4)  # (B, C, T, H, W), no copy: channels-last-3d memory
        padded = torch.cat([s[:, :, :1], s[:, :, :1], s], 2)  # (B, C, T+2, H, W)
        mixed = self.conv(padded)  # (B, C, T, H, W), channels-last-3d like x
        return x + mixed.permute(0, 2, 1, 3, 4).flatten(0, 1)


def _stage(channels: int, blocks: int) -> nn.ModuleList:
    """`blocks` x (ResBlock, CausalTimeMix) at one resolution."""
    layers: list[nn.Module] = []
    for _ in range(blocks):
        layers += [ResBlock(channels), CausalTimeMix(channels)]
    return nn.ModuleList(layers)


def _run(layers: nn.ModuleList, x: torch.Tensor, batch: int, cache: dict | None) -> torch.Tensor:
    for layer in layers:
        x = layer(x, batch, cache) if isinstance(layer, CausalTimeMix) else layer(x)
    return x


# ---------------------------------------------------------------- encoder / decoder


class Encoder(nn.Module):
    """Video (B, 3, T, H, W) -> latents (B, C, 1 + (T-1)//4, H/8, W/8)."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        quarter, eighth = cfg.widths
        self.stem = _conv(3 * TEMPORAL * STEM * STEM, quarter)
        self.stage4 = _stage(quarter, cfg.encoder_blocks[0])
        self.down = _conv(4 * quarter, eighth, kernel=1)
        self.stage8 = _stage(eighth, cfg.encoder_blocks[1])
        self.norm_out = RMSNorm(eighth)
        self.out = _conv(eighth, cfg.latent_channels)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        b, _, t, h, w = video.shape
        frames = video.transpose(1, 2)  # (B, T, 3, H, W)
        first = frames[:, :1].expand(b, TEMPORAL - 1, 3, h, w)
        frames = torch.cat([first, frames], 1)  # (B, 4T', 3, H, W)
        groups = frames.reshape(-1, TEMPORAL * 3, h, w)  # (B*T', 12, H, W)
        x = F.pixel_unshuffle(groups, STEM).contiguous(memory_format=torch.channels_last)
        x = self.stem(x)  # (B*T', W4, H/4, W/4)
        x = _run(self.stage4, x, b, None)
        x = self.down(F.pixel_unshuffle(x, 2))  # (B*T', W8, H/8, W/8)
        x = _run(self.stage8, x, b, None)
        z = self.out(F.silu(self.norm_out(x)))  # (B*T', C, H/8, W/8)
        return z.unflatten(0, (b, -1)).transpose(1, 2).contiguous()  # (B, C, T', H/8, W/8)


class Decoder(nn.Module):
    """Latents (B, C, T', h, w) -> video (B, 3, T, 8h, 8w); causal in time.

    `cache` (a dict, empty at the start of a clip) carries the temporal state between calls;
    `first` says the chunk starts at latent frame 0, whose group yields a single frame.
    """

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        quarter, eighth = cfg.widths
        self.frame_width = cfg.frame_width
        self.inp = _conv(cfg.latent_channels, eighth)
        self.stage8 = _stage(eighth, cfg.decoder_blocks[1])
        self.norm_up = RMSNorm(eighth)
        self.up = _conv(eighth, 4 * quarter, kernel=1)
        self.stage4 = _stage(quarter, cfg.decoder_blocks[0])
        self.norm_frames = RMSNorm(quarter)
        self.to_frames = _conv(quarter, TEMPORAL * cfg.frame_width, kernel=1)
        self.head = nn.Sequential(*[ResBlock(cfg.frame_width) for _ in range(cfg.frame_blocks)])
        self.norm_out = RMSNorm(cfg.frame_width)
        self.out = _conv(cfg.frame_width, 3 * STEM * STEM)

    def forward(self, z: torch.Tensor, cache: dict | None = None, first: bool = True):
        b, c, t, h, w = z.shape
        x = z.transpose(1, 2).reshape(b * t, c, h, w).contiguous(memory_format=torch.channels_last)
        x = self.inp(x)  # (B*T', W8, h, w)
        x = _run(self.stage8, x, b, cache)
        x = F.pixel_shuffle(self.up(F.silu(self.norm_up(x))), 2)  # (B*T', W4, 2h, 2w)
        x = _run(self.stage4, x, b, cache)
        x = self.to_frames(F.silu(self.norm_frames(x)))  # (B*T', 4*F, 2h, 2w)
        x = self._split_groups(x, b, first)  # (B*T, F, 2h, 2w)
        x = self.out(F.silu(self.norm_out(self.head(x))))  # (B*T, 48, 2h, 2w)
        x = F.pixel_shuffle(x, STEM)  # (B*T, 3, 8h, 8w)
        return x.unflatten(0, (b, -1)).transpose(1, 2)  # (B, 3, T, 8h, 8w)

    def _split_groups(self, x: torch.Tensor, batch: int, first: bool) -> torch.Tensor:
        """(B*T', 4F, H, W) -> (B*T, F, H, W) channels-last, one frame per group slot;
        with `first`, group 0 holds frame 0 four times and only its last copy is kept."""
        n, _, h, w = x.shape
        x = x.permute(0, 2, 3, 1).reshape(batch, n // batch, h, w, TEMPORAL, -1)
        x = x.permute(0, 1, 4, 2, 3, 5)  # (B, T', 4, H, W, F)
        x = x.reshape(batch, -1, h, w, self.frame_width)  # (B, 4T', H, W, F)
        if first:
            x = x[:, TEMPORAL - 1 :]
        return x.reshape(-1, h, w, self.frame_width).permute(0, 3, 1, 2)  # NHWC memory


class DecoderStream:
    """Decode a clip latent chunk by latent chunk, as a streaming generator produces it.

    `push(latents)` returns the frames of those latents at once (1 frame for latent 0, then
    4 per latent); the result equals the matching slice of a full `decode`. Call `reset()`
    (or make a new stream) for the next clip.
    """

    def __init__(self, vae: CausalVideoVAE):
        self.vae = vae
        self.reset()

    def reset(self) -> None:
        self.cache: dict = {}
        self.latents_seen = 0

    def push(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, C, t, h, w) latents -> (B, 3, frames, 8h, 8w) video in about [-1, 1].
        For inference: call under `torch.inference_mode()` or `torch.no_grad()`."""
        self.vae._check_latents(latents)
        video = self.vae.decoder(latents, self.cache, first=self.latents_seen == 0)
        self.latents_seen += latents.shape[2]
        return video


# ---------------------------------------------------------------- the autoencoder


class CausalVideoVAE(nn.Module):
    """Causal video autoencoder (deterministic; a fixed-variance VAE when trained with a
    latent L2 penalty and latent noise, see `engine.train.vae`)."""

    def __init__(self, cfg: VAEConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or VAEConfig()
        cfg.validate()
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.register_buffer("latent_mean", torch.zeros(cfg.latent_channels), persistent=False)
        self.register_buffer("latent_std", torch.ones(cfg.latent_channels), persistent=False)
        self.set_scaling(cfg.latent_mean, cfg.latent_std)
        for module in self.modules():  # NHWC memory: the fast layout for CPU convolutions
            if isinstance(module, nn.Conv2d):
                module.to(memory_format=torch.channels_last)
            elif isinstance(module, nn.Conv3d):
                module.to(memory_format=torch.channels_last_3d)

    # -- public API

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) in [-1, 1], T = 1 + 4k, H and W multiples of 8
        -> latents (B, C, 1 + k, H/8, W/8), unnormalised."""
        if video.ndim != 5 or video.shape[1] != 3:
            raise InvalidRequest(
                f"The VAE encodes (B, 3, T, H, W) video, got {tuple(video.shape)}."
            )
        _, _, t, h, w = video.shape
        if (t - 1) % TEMPORAL or h % SPATIAL or w % SPATIAL:
            raise InvalidRequest(
                f"The VAE needs 1 + 4k frames of a size divisible by {SPATIAL}; "
                f"got {t} frames of {w}x{h}."
            )
        return self.encoder(video)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents (B, C, T', h, w) -> video (B, 3, 1 + 4(T'-1), 8h, 8w), about [-1, 1]."""
        self._check_latents(latents)
        return self.decoder(latents)

    def decoder_stream(self) -> DecoderStream:
        """A stateful decoder for latents that arrive a frame or a chunk at a time."""
        return DecoderStream(self)

    def forward(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        latents = self.encode(video)
        return self.decode(latents), latents

    def normalize(self, latents: torch.Tensor) -> torch.Tensor:
        """Raw latents -> zero mean, unit variance per channel (what the DiT sees)."""
        return (latents - self.latent_mean.view(1, -1, 1, 1, 1)) / self.latent_std.view(
            1, -1, 1, 1, 1
        )

    def denormalize(self, latents: torch.Tensor) -> torch.Tensor:
        """Inverse of `normalize`."""
        return latents * self.latent_std.view(1, -1, 1, 1, 1) + self.latent_mean.view(
            1, -1, 1, 1, 1
        )

    def set_scaling(self, mean, std) -> None:
        """Store per-channel latent statistics (None: identity) in the buffers and config."""
        n = self.cfg.latent_channels
        mean_t = torch.zeros(n) if mean is None else torch.as_tensor(mean, dtype=torch.float32)
        std_t = torch.ones(n) if std is None else torch.as_tensor(std, dtype=torch.float32)
        self.latent_mean.copy_(mean_t)
        self.latent_std.copy_(std_t)
        self.cfg.latent_mean = None if mean is None else tuple(float(v) for v in mean_t)
        self.cfg.latent_std = None if std is None else tuple(float(v) for v in std_t)
        self.cfg.validate()

    def save(self, path: str | Path, training: dict | None = None) -> None:
        """Write `path` (.safetensors) and its .json config side file (with `training`
        facts such as steps and held-out PSNR, if given)."""
        meta = {"model": "causal-video-vae", **self.cfg.to_dict()}
        if training is not None:
            meta["training"] = training
        save_module(self, path, meta)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> CausalVideoVAE:
        """Build from the .json side file and load the weights; `ModelLoadError` on failure."""
        config = dict(load_config(path))
        for key in ("model", "training"):  # descriptive entries, not constructor settings
            config.pop(key, None)
        cfg = VAEConfig.from_dict(config)
        model = build_checked(
            lambda: cls(cfg),
            path,
            "VAE",
            # the latent scaling is read back as numbers, which a shape-only tensor has not
            shape_only=lambda: cls(replace(cfg, latent_mean=None, latent_std=None)),
        )
        load_module(model, path)
        return model.to(device).eval()

    def _check_latents(self, latents: torch.Tensor) -> None:
        if latents.ndim != 5 or latents.shape[1] != self.cfg.latent_channels:
            raise InvalidRequest(
                f"The VAE decodes (B, {self.cfg.latent_channels}, T, h, w) latents, "
                f"got {tuple(latents.shape)}."
            )


# ---------------------------------------------------------------- numpy helpers


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 (T, H, W, 3) RGB -> float (1, 3, T, H, W) in [-1, 1]."""
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise InvalidRequest(
            f"Frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}."
        )
    video = torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2)  # (3, T, H, W)
    return (video.float() / 127.5 - 1.0).unsqueeze(0)


def tensor_to_frames(video: torch.Tensor) -> np.ndarray:
    """(1, 3, T, H, W) or (3, T, H, W) in [-1, 1] -> uint8 (T, H, W, 3), clipped."""
    if video.ndim == 5:
        if video.shape[0] != 1:
            raise InvalidRequest(f"Expected one clip, got a batch of {video.shape[0]}.")
        video = video[0]
    pixels = ((video.detach().float() + 1.0) * 127.5).round().clamp(0, 255)
    return pixels.to(torch.uint8).permute(1, 2, 3, 0).cpu().numpy()  # (T, H, W, 3)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------- benchmark


def bench_vae(
    frames: int = 17, size: int = 128, threads: int = 2, repeats: int = 10, cfg=None
) -> dict:
    """Encode + decode time of one clip on `threads` CPU threads (median of `repeats`
    after a warm-up, float32 under inference mode), with the streaming decode one latent
    frame at a time and, side by side, bf16 autocast; prints a small table."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model = CausalVideoVAE(cfg).eval()
        video = torch.rand(1, 3, frames, size, size) * 2 - 1

        def timed(fn) -> float:
            for _ in range(3):
                fn()
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            return statistics.median(times) * 1e3

        def stream(latents):
            decoder = model.decoder_stream()
            for j in range(latents.shape[2]):
                decoder.push(latents[:, :, j : j + 1])

        with torch.inference_mode():
            latents = model.encode(video)
            encode_ms = timed(lambda: model.encode(video))
            decode_ms = timed(lambda: model.decode(latents))
            both_ms = timed(lambda: model.decode(model.encode(video)))
            stream_ms = timed(lambda: stream(latents))
            with torch.autocast("cpu", torch.bfloat16):  # fast where the CPU has bf16 units
                bf16_ms = timed(lambda: model.decode(model.encode(video)))
    finally:
        torch.set_num_threads(previous)
    result = {
        "clip": f"{frames}x{size}x{size}",
        "threads": threads,
        "params": count_parameters(model),
        "encode_ms": encode_ms,
        "decode_ms": decode_ms,
        "encode_decode_ms": both_ms,
        "stream_decode_ms": stream_ms,
        "stream_ms_per_latent": stream_ms / latents.shape[2],
        "bf16_encode_decode_ms": bf16_ms,
    }
    print(f"VAE, {result['clip']} clip, {threads} CPU threads, median of {repeats}:")
    print(f"  parameters       {result['params'] / 1e6:8.2f} M")
    for key in ("encode_ms", "decode_ms", "encode_decode_ms", "stream_decode_ms"):
        print(f"  {key:<16s} {result[key]:8.1f} ms")
    print(f"  encode_decode in bf16 autocast {bf16_ms:6.1f} ms ({both_ms / bf16_ms:.1f}x faster)")
    return result
