"""Evaluate the causal video VAE on held-out world clips: PSNR, SSIM, temporal warp error.

    kinema eval vae                                  # the shipped weights, 64 clips on the CPU
    kinema eval vae --clips 16 --verbose --sheet out/eval/vae_sheet.png
    kinema eval vae --weights run/vae.safetensors --device cuda

The held-out set is fixed: world seeds `HELDOUT_SEEDS[:clips]` of `engine.train.vae`, i.e.
seeds 0, 1, ..., clips - 1 (training only ever renders seeds >= 1,000,000), rendered at
`--frames` x `--size` x `--size` and 12 fps. Each clip is encoded and decoded once in float32
and compared with its original (`engine.metrics`):

- PSNR in dB over the whole clip, of its worst frame, and over the objects' visible pixels
  alone (the world's masks: small moving objects weigh little in a whole-frame figure but
  are what a viewer looks at); SSIM on luma;
- temporal warp error (mean absolute RGB error in 8-bit levels against the previous frame
  carried along the optical flow) of the reconstruction and of the original, and their
  ratio: 1 means the autoencoder adds no temporal inconsistency of its own, 1.1 means 10 %
  more than the world's own (occlusions, shading changes). Blur lowers warp error, so a
  ratio below 1 is no praise; over the set, quote the ratio of the means, since a clip
  whose original barely moves has a per-clip ratio of a number over almost zero;
- encode + decode wall time of the clip in ms (after one warm-up pass; `--threads` sets the
  CPU threads).

The JSON report holds the model, the SHA-256 of its weight file, the seeds, the figures of
every clip, their mean, median, min and max, the warp ratio of the means, and the mean
PSNR at each frame position (frame 0 is encoded on its own). `--sheet`
draws a few clips (spread from the worst PSNR to the best) over their reconstructions.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..assets import BUILTIN_WEIGHTS
from ..errors import InvalidRequest, ModelLoadError
from . import ProgressLine, finite_or_none, format_table, sha256_file, write_report

DEFAULT_WEIGHTS = BUILTIN_WEIGHTS / "vae.safetensors"

#: per-clip figures, in table order: (report key, table header)
COLUMNS = (
    ("psnr_db", "PSNR dB"),
    ("psnr_worst_frame_db", "worst frame dB"),
    ("psnr_objects_db", "objects dB"),
    ("ssim", "SSIM"),
    ("warp_error_original", "warp orig"),
    ("warp_error_recon", "warp recon"),
    ("warp_ratio", "warp ratio"),
    ("encode_decode_ms", "enc+dec ms"),
)


# ---------------------------------------------------------------- model and clips


def load_vae(weights: str | Path, device: str = "cpu"):
    """The VAE of `weights` (.safetensors beside its .json config), ready for inference."""
    from ..models.vae import CausalVideoVAE

    weights = Path(weights)
    if not weights.is_file():
        raise ModelLoadError(
            f"The VAE weights {weights} do not exist. Give --weights PATH to a .safetensors "
            "file with its .json beside it (`kinema train vae --export DIR` writes both)."
        )
    return CausalVideoVAE.load(weights, _device(device))


def reconstruct(model, frames_u8: np.ndarray) -> tuple[np.ndarray, float]:
    """Encode and decode one uint8 (T, H, W, 3) clip; returns the uint8 reconstruction and
    the encode + decode time in ms (transfers and uint8 conversion not included)."""
    import torch

    from ..models.vae import frames_to_tensor, tensor_to_frames

    device = next(model.parameters()).device
    video = frames_to_tensor(frames_u8).to(device)  # (1, 3, T, H, W)
    with torch.inference_mode():
        _sync(device)
        start = time.perf_counter()
        recon = model.decode(model.encode(video))  # (1, 3, T, H, W)
        _sync(device)
        elapsed_ms = (time.perf_counter() - start) * 1e3
    return tensor_to_frames(recon), elapsed_ms


def clip_figures(
    original: np.ndarray, recon: np.ndarray, object_mask: np.ndarray | None = None
) -> dict:
    """PSNR, SSIM and warp-error figures of `recon` against `original` (uint8 (T, H, W, 3));
    with `object_mask` (bool (T, H, W), the world's objects), also the PSNR over those pixels
    alone: small moving objects weigh little in a whole-frame PSNR but are what people see."""
    from .. import metrics

    psnr = metrics.psnr(recon, original)
    objects = None
    if object_mask is not None and object_mask.any():
        diff = recon[object_mask].astype(np.float64) - original[object_mask]
        objects = min(10 * np.log10(255.0**2 / max(np.mean(diff**2), 1e-12)), metrics.PSNR_CAP_DB)
    warp_original = metrics.warp_error(original).mean
    warp_recon = metrics.warp_error(recon).mean
    ratio = warp_recon / warp_original if warp_original > 0 else float("nan")
    return {
        "psnr_db": finite_or_none(psnr.mean),
        "psnr_worst_frame_db": finite_or_none(float(np.min(psnr.per_frame))),
        "psnr_per_frame_db": [finite_or_none(float(v), 3) for v in psnr.per_frame],
        "psnr_objects_db": finite_or_none(objects),
        "ssim": finite_or_none(metrics.ssim(recon, original).mean, 5),
        "warp_error_original": finite_or_none(warp_original),
        "warp_error_recon": finite_or_none(warp_recon),
        "warp_ratio": finite_or_none(ratio),
    }


def heldout_seeds(clips: int) -> list[int]:
    """The first `clips` held-out world seeds (never rendered for training)."""
    from ..train.vae import HELDOUT_SEEDS

    if not 1 <= clips <= len(HELDOUT_SEEDS):
        raise InvalidRequest(f"--clips must be between 1 and {len(HELDOUT_SEEDS)}, not {clips}.")
    return list(HELDOUT_SEEDS[:clips])


def evaluate(model, seeds, frames: int = 17, size: int = 128, progress=None) -> list[dict]:
    """Per-clip figures (`clip_figures` plus seed, caption and time) for each world seed.
    `progress(done, status)` is called after each clip."""
    from ..synth import render_clip

    _check_clip_shape(frames, size)
    reconstruct(model, np.zeros((frames, size, size, 3), np.uint8))  # warm-up, not timed
    records = []
    for n, seed in enumerate(seeds, 1):
        clip = render_clip(int(seed), frames, size)
        recon, elapsed_ms = reconstruct(model, clip.frames)
        objects = np.zeros(clip.frames.shape[:3], bool)
        for label in clip.objects:
            objects |= label.masks
        record = {
            "seed": int(seed),
            "caption": clip.caption,
            **clip_figures(clip.frames, recon, objects),
        }
        record["encode_decode_ms"] = round(elapsed_ms, 2)
        records.append(record)
        if progress is not None:
            progress(n, f"seed {seed}  PSNR {record['psnr_db']:.2f} dB")
    return records


def summarise(records: list[dict]) -> dict:
    """Mean, median, min and max over clips of every per-clip figure (None values left out),
    the warp ratio of the means, and the mean PSNR at each frame position.

    `warp_ratio_of_means` (mean warp error of the reconstructions over that of the
    originals) is the figure to quote: a per-clip ratio swings wildly on clips whose
    original barely moves (a warp error near 0 in the denominator).
    """
    stats = (("mean", np.mean), ("median", np.median), ("min", np.min), ("max", np.max))
    summary: dict = {name: {} for name, _ in stats}
    for key, _ in COLUMNS:
        values = [r[key] for r in records if r.get(key) is not None]
        for name, fn in stats:
            summary[name][key] = finite_or_none(float(fn(values))) if values else None
    warp_original, warp_recon = (
        summary["mean"][key] for key in ("warp_error_original", "warp_error_recon")
    )
    summary["warp_ratio_of_means"] = (
        finite_or_none(warp_recon / warp_original) if warp_original and warp_recon else None
    )
    per_frame = np.array([r["psnr_per_frame_db"] for r in records], np.float64)
    summary["psnr_by_frame_db"] = [finite_or_none(v, 3) for v in per_frame.mean(0)]
    return summary


def write_sheet(model, records: list[dict], path, frames: int, size: int, count: int = 4) -> Path:
    """Contact sheet of `count` clips spread over the PSNR ranking (worst first, best last):
    each clip's original row above its reconstruction row, six frames each."""
    from ..synth import render_clip
    from .sheet import contact_sheet

    ranked = sorted(records, key=lambda r: (r["psnr_db"] is None, r["psnr_db"] or 0.0))
    picks = sorted(
        {int(round(i)) for i in np.linspace(0, len(ranked) - 1, min(count, len(ranked)))}
    )
    rows = []
    for i in picks:
        record = ranked[i]
        rank = _rank(i, len(ranked))
        clip = render_clip(record["seed"], frames, size)
        recon, _ = reconstruct(model, clip.frames)
        rows.append((f"seed {record['seed']}  original: {clip.caption}", clip.frames))
        rows.append(
            (
                f"seed {record['seed']}  reconstruction: PSNR {_fmt(record['psnr_db'], '.2f')} dB "
                f"({rank}), objects {_fmt(record['psnr_objects_db'], '.2f')} dB, "
                f"SSIM {_fmt(record['ssim'], '.3f')}, "
                f"warp ratio {_fmt(record['warp_ratio'], '.2f')}",
                recon,
            )
        )
    path = Path(path)
    contact_sheet(rows, path, frames_per_clip=6, group=2)
    return path


# ---------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt = parser.add_argument
    opt(
        "--weights",
        type=Path,
        default=DEFAULT_WEIGHTS,
        help="VAE .safetensors with its .json beside it (default: the built-in model)",
    )
    opt("--clips", type=int, default=64, help="held-out clips: world seeds 0..N-1 (64)")
    opt("--frames", type=int, default=17, help="frames per clip, 1 + 4k (17)")
    opt("--size", type=int, default=128, help="clip width and height, a multiple of 8 (128)")
    opt("--report", type=Path, default=Path("out/eval/vae.json"), help="JSON report path")
    opt("--sheet", type=Path, help="also write a contact sheet PNG of 4 clips here")
    opt("--device", default="cpu", help="cpu (default), cuda or auto")
    opt("--threads", type=int, help="CPU threads for torch and OpenCV (default: their choice)")
    opt(
        "--verbose",
        dest="per_clip",
        action="store_true",
        help="print a line per clip, not only the summary",
    )


def run(args: argparse.Namespace) -> int:
    _check_clip_shape(args.frames, args.size)
    seeds = heldout_seeds(args.clips)
    if args.threads is not None and args.threads < 1:
        raise InvalidRequest(f"--threads must be at least 1, not {args.threads}.")
    with _threads(args.threads):
        return _run(args, seeds)


def _run(args: argparse.Namespace, seeds: list[int]) -> int:
    import torch

    from ..models.vae import count_parameters

    model = load_vae(args.weights, args.device)
    config = _config(args.weights)
    device = next(model.parameters()).device
    print(
        f"Evaluating {args.weights} ({count_parameters(model) / 1e6:.2f} M parameters) on "
        f"{len(seeds)} held-out clips (seeds {seeds[0]}..{seeds[-1]}) of "
        f"{args.frames}x{args.size}x{args.size}, {device}, {torch.get_num_threads()} threads."
    )
    started = time.perf_counter()
    records = evaluate(model, seeds, args.frames, args.size, ProgressLine(len(seeds)))
    summary = summarise(records)
    report = {
        "model": "vae",
        "architecture": config.get("model", "causal-video-vae"),
        "weights": str(args.weights),
        "weights_sha256": sha256_file(args.weights),
        "parameters": count_parameters(model),
        "training": config.get("training"),
        "heldout": "engine.train.vae.HELDOUT_SEEDS[:clips] (training uses seeds >= 1,000,000)",
        "seeds": seeds,
        "clip": {"frames": args.frames, "size": args.size, "fps": 12.0},
        "device": str(device),
        "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}".strip(),
        "torch": torch.__version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 1),
        **summary,
        "clips": records,
    }
    write_report(args.report, report)
    rows = [(str(r["seed"]), r) for r in records] if args.per_clip else []
    rows += [(name, summary[name]) for name in ("mean", "median", "min", "max")]
    print(format_table(COLUMNS, rows, "seed" if args.per_clip else ""))
    mean = summary["mean"]
    print(
        f"Warp error of the reconstructions {_fmt(mean['warp_error_recon'], '.2f')} against "
        f"{_fmt(mean['warp_error_original'], '.2f')} levels for the originals: ratio of the "
        f"means {_fmt(summary['warp_ratio_of_means'], '.3f')}."
    )
    print(f"Report: {args.report}")
    if args.sheet is not None:
        print(f"Contact sheet: {write_sheet(model, records, args.sheet, args.frames, args.size)}")
    return 0


# ---------------------------------------------------------------- helpers


def _check_clip_shape(frames: int, size: int) -> None:
    if frames < 1 or (frames - 1) % 4 or size < 8 or size % 8:
        raise InvalidRequest(
            f"The VAE needs 1 + 4k frames of a size divisible by 8; got {frames} frames of "
            f"{size}x{size}."
        )


@contextlib.contextmanager
def _threads(count: int | None):
    """Run with `count` torch and OpenCV threads (None: leave them), restored afterwards."""
    if count is None:
        yield
        return
    import cv2
    import torch

    before = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(count)
    cv2.setNumThreads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])


def _device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidRequest("--device cuda was asked for, but no CUDA GPU is available.")
    try:
        return torch.device(name)
    except RuntimeError as error:
        raise InvalidRequest(f"Unknown --device {name!r}; use cpu, cuda or auto.") from error


def _sync(device) -> None:
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)


def _config(weights: Path) -> dict:
    from ..weights import load_config

    return load_config(weights)


def _rank(index: int, count: int) -> str:
    """Where a clip stands in a PSNR ranking, worst first: "worst of 64", "22 of 64 from..."."""
    if index == 0:
        return f"worst of {count}"
    if index == count - 1:
        return f"best of {count}"
    return f"{index + 1} of {count} from the worst"


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)
