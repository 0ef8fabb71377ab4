"""How much GPU memory a model needs in each memory mode, known before Generate.

Parameter counts come from the weights' own safetensors headers (the 8-byte length and the
JSON header that lists every tensor's shape): exact, free of torch, milliseconds on the GUI
thread, and the same counts as building the model on the meta device (a test checks). The
activations of one sampling step grow with the token count; the VAE decode with the frame
size. Both are rough (stated constants below), so a prediction keeps a margin and the
out-of-memory paths (`runner.py`) still catch what it misses.

Modes, from fastest to leanest:
- `gpu`: every component resident on the GPU.
- `model-offload`: one component at a time on the GPU (diffusers' model CPU offload).
- `group-offload`: the transformer streams block groups from CPU memory, overlapped with
  compute on a CUDA stream; the other components stay resident.
- `sequential-offload`: every layer moves to the GPU only while it runs (slowest).
`auto` picks the fastest mode predicted to fit. Offload modes and tiling exist only with an
accelerator; on a CPU everything is in main memory and `auto` means just that.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

from ...errors import InvalidRequest
from ...jobs import MEMORY_MODES
from ...model_library import ModelEntry, weight_files

MODES = MEMORY_MODES
MODE_LABELS = {
    "auto": "Automatic",
    "gpu": "All on the GPU",
    "model-offload": "Model offload",
    "group-offload": "Group offload",
    "sequential-offload": "Sequential offload",
}
_GB = 1024**3
#: bytes of activations per token per model channel in one transformer step (fp16/bf16):
#: the residual stream, q/k/v, the attention output and the MLP's hidden layer alive at once
_ACTIVATION_BYTES_PER_TOKEN_CHANNEL = 2 * 12
#: bytes per decoded pixel per VAE channel at full resolution while decoding (fp32, a few
#: feature maps alive) for one chunk of frames
_DECODE_BYTES_PER_PIXEL_CHANNEL = 4 * 6
#: what the CUDA context, allocator and cuDNN workspaces hold beyond the tensors
_OVERHEAD = int(0.8 * _GB)
#: a prediction must leave this share of the GPU free to count as fitting
_MARGIN = 0.9
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I8": 1, "U8": 1,
                "F8_E4M3": 1, "F8_E5M2": 1, "BOOL": 1}  # fmt: skip


def header_numel(path: Path) -> int:
    """Elements in a safetensors file, read from its header alone."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    total = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        count = 1
        for dim in info["shape"]:
            count *= int(dim)
        total += count
    return total


def component_parameters(entry: ModelEntry) -> dict[str, int]:
    """Component name -> parameter count, for every component that has weights."""
    counts = {}
    for component in entry.components():
        folder = entry.path / component
        if not folder.is_dir() or not list(folder.glob("*.safetensors*")):
            continue
        counts[component] = sum(header_numel(p) for p in weight_files(folder))
    return counts


@dataclass(frozen=True)
class MemoryEstimate:
    """Predicted peak GPU bytes for each mode, and what went into them."""

    peaks: dict[str, int]  # mode -> bytes
    parameters: dict[str, int]  # component -> parameter count
    sampling_activations: int
    decode_activations: int
    decode_activations_tiled: int

    def fits(self, mode: str, available: int) -> bool:
        return self.peaks[mode] <= _MARGIN * available

    def best_mode(self, available: int) -> str | None:
        for mode in MODES[1:]:
            if self.fits(mode, available):
                return mode
        return None


def estimate(entry: ModelEntry, traits, plan, weight_bytes: int = 2, tiled: bool = False):
    """Peak GPU memory of generating `plan` with `entry` in each mode (bf16 weights)."""
    params = component_parameters(entry)
    cfg = entry.config("transformer") or entry.config("transformer_2")
    heads = int(cfg.get("num_attention_heads", 24))
    head_dim = int(cfg.get("attention_head_dim", 64))
    channels = heads * head_dim
    layers = max(1, int(cfg.get("num_layers", 28)))
    patch = cfg.get("patch_size", 2)
    patch_area = int(patch[1]) * int(patch[2]) if isinstance(patch, list) else int(patch) ** 2
    patch_t = int(patch[0]) if isinstance(patch, list) else int(cfg.get("patch_size_t") or 1)
    latent_frames = (plan.frames - 1) // traits.temporal_ratio + 1
    latent_pixels = (plan.height // traits.spatial_ratio) * (plan.width // traits.spatial_ratio)
    tokens = max(1, latent_frames // patch_t) * max(1, latent_pixels // patch_area)
    batch = 1 if traits.family == "wan" else 2  # Wan runs cond/uncond one after the other
    sampling = batch * tokens * channels * _ACTIVATION_BYTES_PER_TOKEN_CHANNEL
    vae_cfg = entry.config("vae")
    vae_channels = int(
        vae_cfg.get("base_dim")
        or (
            vae_cfg.get("decoder_block_out_channels") or vae_cfg.get("block_out_channels") or [128]
        )[0]
    )
    chunk = (
        traits.temporal_ratio if traits.family == "wan" else plan.frames
    )  # Wan decodes framewise
    decode = plan.height * plan.width * chunk * vae_channels * _DECODE_BYTES_PER_PIXEL_CHANNEL
    tile = min(plan.height * plan.width, 256 * 256)
    decode_tiled = tile * chunk * vae_channels * _DECODE_BYTES_PER_PIXEL_CHANNEL
    if tiled:
        decode = decode_tiled

    def size(*names) -> int:
        return sum(params.get(n, 0) for n in names) * weight_bytes

    vae = params.get("vae", 0) * 4  # VAEs run in fp32
    text = size("text_encoder")
    image = size("image_encoder")
    experts = size("transformer", "transformer_2")
    largest_expert = max(size("transformer"), size("transformer_2"))
    per_layer = largest_expert // layers
    peaks = {
        "gpu": text + image + experts + vae + max(sampling, decode),
        "model-offload": max(text + image, largest_expert + sampling, vae + decode),
        "group-offload": max(text + image, 2 * per_layer + sampling, vae + decode) + vae + text,
        "sequential-offload": max(per_layer + sampling, decode + vae // 4),
    }
    peaks = {mode: peak + _OVERHEAD for mode, peak in peaks.items()}
    return MemoryEstimate(peaks, params, sampling, decode, decode_tiled)


def gpu_memory() -> tuple[int, int] | None:
    """(free, total) bytes on the current CUDA device, or None without one."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    free, total = torch.cuda.mem_get_info()
    return int(free), int(total)


def resolve_mode(requested: str, device: str, estimate_: MemoryEstimate | None) -> str:
    """The mode a job runs in: `requested`, or for 'auto' the fastest predicted to fit.

    On a CPU it is always 'cpu'; an offload mode asked for there is refused with a sentence.
    `requested` is one of `MODES` (the request's own validation says so).
    """
    if not str(device).startswith("cuda"):
        if requested not in ("auto", "gpu"):
            raise InvalidRequest(
                f"{MODE_LABELS[requested]} needs a GPU, and this job runs on the {device}. "
                "Choose Automatic."
            )
        return "cpu"
    if requested != "auto":
        return requested
    memory = gpu_memory()
    if memory is None or estimate_ is None:
        return "model-offload"
    best = estimate_.best_mode(memory[1])
    if best is None:
        raise InvalidRequest(nothing_fits(estimate_, memory[1]))
    return best


def nothing_fits(estimate_: MemoryEstimate, total: int) -> str:
    lean = estimate_.peaks["sequential-offload"]
    return (
        f"This shot needs about {lean / _GB:.1f} GB of GPU memory even with sequential "
        f"offload, and this GPU has {total / _GB:.1f} GB. Lower the resolution or the number "
        "of frames."
    )


def _size(count: int) -> str:
    return f"{count / _GB:.1f} GB" if count >= 0.1 * _GB else f"{count / 1024**2:.0f} MB"


def advice(estimate_: MemoryEstimate, memory: tuple[int, int] | None, mode: str = "auto") -> str:
    """One line for the inspector: what the shot needs, and whether and how it fits here."""
    if memory is None and mode not in ("auto", "gpu"):
        return f"{MODE_LABELS[mode]} needs a GPU, and there is none here: choose Automatic."
    if memory is None:
        total_params = sum(estimate_.parameters.values())
        need = total_params * 4 + estimate_.sampling_activations * 2
        return (
            f"No GPU here: runs on the CPU in about {_size(need)} of memory, "
            "slowly (minutes per step for a full-size model)."
        )
    total = memory[1]
    if mode == "auto":
        best = estimate_.best_mode(total)
        if best is None:
            return nothing_fits(estimate_, total)
        need = estimate_.peaks[best]
        return (
            f"Needs about {need / _GB:.1f} GB with {MODE_LABELS[best].lower()}; this GPU has "
            f"{total / _GB:.1f} GB: fits."
        )
    need = estimate_.peaks[mode]
    if estimate_.fits(mode, total):
        return f"Needs about {need / _GB:.1f} GB of this GPU's {total / _GB:.1f} GB: fits."
    best = estimate_.best_mode(total)
    instead = f" {MODE_LABELS[best]} would fit." if best else " No mode fits; lower the size."
    return f"Needs about {need / _GB:.1f} GB; this GPU has {total / _GB:.1f} GB.{instead}"


def apply_mode(pipe, mode: str, device: str) -> None:
    """Put a freshly loaded pipeline in `mode` (see the module docstring)."""
    import torch

    if mode == "cpu":
        return  # loaded there already
    if mode == "gpu":
        pipe.to(device)
    elif mode == "model-offload":
        pipe.enable_model_cpu_offload(device=device)
    elif mode == "group-offload":
        onload = torch.device(device)
        for name in ("transformer", "transformer_2"):
            module = getattr(pipe, name, None)
            if module is not None:
                module.enable_group_offload(
                    onload_device=onload, offload_type="block_level", num_blocks_per_group=1,
                    use_stream=True,
                )  # fmt: skip
        for name, module in pipe.components.items():
            if name not in ("transformer", "transformer_2") and isinstance(module, torch.nn.Module):
                module.to(onload)
    elif mode == "sequential-offload":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        raise InvalidRequest(f"Unknown memory mode '{mode}'.")
