"""Fit the instant-preview map (latents to colours) for the VAE in a weights folder.

    kinema train preview                      # the shipped VAE, a few seconds

The map lets the first preview of a generation appear one sampling step after Generate,
without waiting for a VAE decode (`engine.models.preview`). It is stored beside the VAE with
that file's hash, so a retrained VAE needs a new map, and the model falls back to fitting
one itself until it has it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..assets import BUILTIN_WEIGHTS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt = parser.add_argument
    opt("--weights", type=Path, default=BUILTIN_WEIGHTS, help="folder holding vae.safetensors")
    opt("--clips", type=int, default=64, help="world clips to fit on (64)")
    opt("--frames", type=int, default=9, help="frames per clip, 1 + 4k (9)")
    opt("--size", type=int, default=64, help="clip width and height (64)")


def run(args: argparse.Namespace) -> int:
    from ..models.preview import fit_preview, save_preview
    from ..models.vae import CausalVideoVAE
    from .vae import TRAIN_SEED

    vae = CausalVideoVAE.load(Path(args.weights) / "vae.safetensors")
    start = time.perf_counter()
    seeds = range(TRAIN_SEED, TRAIN_SEED + args.clips)
    preview = fit_preview(vae, seeds, args.frames, args.size)
    facts = {"clips": args.clips, "frames": args.frames, "size": args.size, "seeds": seeds.start}
    path = save_preview(preview, args.weights, facts)
    print(f"Fitted on {args.clips} world clips in {time.perf_counter() - start:.1f} s: {path}")
    return 0
