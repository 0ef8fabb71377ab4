"""Batches of world clips as numpy for training, optionally rendered in worker processes.

`batches(8)` is an endless, deterministic stream: clip k of the stream has seed `seed + k`, so
the data does not depend on the number of workers, and two streams with far-apart seeds (say
0 for training and 10**9 for validation) never share a clip. Workers are spawned processes
(safe next to torch) rendering whole batches, a bounded number ahead of the consumer.
"""

from __future__ import annotations

import itertools
import multiprocessing
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from .backdrop import ground_tile
from .clip import render_clip
from .palette import COLOUR_NAMES
from .scene import GROUNDS, KINDS, SKIES
from .sprites import sprite

#: objects per clip at most (the label arrays of a batch are padded to this)
MAX_OBJECTS = 3


@dataclass(frozen=True)
class Batch:
    """B clips stacked; object labels padded to MAX_OBJECTS (absent: NaN / False)."""

    frames: np.ndarray  # (B, T, H, W, 3) uint8 RGB
    captions: list[str]  # B captions
    poses: np.ndarray  # (B, T, 7) float32 in POSE_FIELDS order
    focal: np.ndarray  # (B, T) float32 focal length in pixels
    trajectories: np.ndarray  # (B, K, T, 2) float32 object centres in pixels, NaN if absent
    depths: np.ndarray  # (B, K, T) float32 camera-space depth, NaN if absent
    present: np.ndarray  # (B, K) bool which object slots are used
    masks: np.ndarray | None  # (B, K, T, H, W) bool visible masks, or None if not asked for
    seeds: np.ndarray  # (B,) int64 clip seeds (render_clip(seed) reproduces a clip)


def make_batch(
    seeds,
    frames: int = 17,
    size: int | tuple[int, int] = 128,
    fps: float = 12.0,
    masks: bool = True,
) -> Batch:
    """Render the clips of `seeds` and stack them."""
    clips = [render_clip(int(s), frames, size, fps) for s in seeds]
    b, (t, h, w) = len(clips), clips[0].frames.shape[:3]
    traj = np.full((b, MAX_OBJECTS, t, 2), np.nan, np.float32)
    depth = np.full((b, MAX_OBJECTS, t), np.nan, np.float32)
    present = np.zeros((b, MAX_OBJECTS), bool)
    mask_arr = np.zeros((b, MAX_OBJECTS, t, h, w), bool) if masks else None
    for i, clip in enumerate(clips):
        for k, obj in enumerate(clip.objects[:MAX_OBJECTS]):
            traj[i, k], depth[i, k], present[i, k] = obj.trajectory, obj.depth, True
            if mask_arr is not None:
                mask_arr[i, k] = obj.masks
    return Batch(
        frames=np.stack([c.frames for c in clips]),
        captions=[c.caption for c in clips],
        poses=np.stack([c.pose_array for c in clips]),
        focal=np.stack([c.focal for c in clips]),
        trajectories=traj,
        depths=depth,
        present=present,
        masks=mask_arr,
        seeds=np.asarray([int(s) for s in seeds], np.int64),
    )


def batches(
    batch_size: int,
    *,
    frames: int = 17,
    size: int | tuple[int, int] = 128,
    fps: float = 12.0,
    seed: int = 0,
    workers: int = 0,
    masks: bool = True,
    limit: int | None = None,
) -> Iterator[Batch]:
    """Yield batches of world clips forever (or `limit` batches), in seed order.

    `workers` > 0 renders in that many spawned processes, keeping 2 batches per worker in
    flight; the stream is identical to the single-process one. Closing the generator (or
    leaving a `for` loop) stops the workers.
    """
    if batch_size < 1:
        raise ValueError(f"A batch needs at least one clip (got batch_size={batch_size}).")
    args = (frames, size, fps, masks)

    def seeds_of(k: int) -> list[int]:
        return list(range(seed + k * batch_size, seed + (k + 1) * batch_size))

    count = range(limit) if limit is not None else _forever()
    if workers <= 0:
        for k in count:
            yield make_batch(seeds_of(k), *args)
        return
    with multiprocessing.get_context("spawn").Pool(workers, initializer=_init_worker) as pool:
        pending: deque = deque()
        ks = iter(count)
        for k in ks:
            pending.append(pool.apply_async(make_batch, (seeds_of(k), *args)))
            if len(pending) >= 2 * workers:
                break
        while pending:
            batch = pending.popleft().get()
            k = next(ks, None)
            if k is not None:
                pending.append(pool.apply_async(make_batch, (seeds_of(k), *args)))
            yield batch


def _forever() -> Iterator[int]:
    k = 0
    while True:
        yield k
        k += 1


def _init_worker() -> None:
    """Each worker renders on one core; OpenCV's own threads would only fight each other."""
    cv2.setNumThreads(1)


def bench_world(
    seconds: float = 3.0, sizes: tuple[int, ...] = (128, 256), frames: int = 17
) -> dict:
    """Frames per second of `render_clip` on one core, per size; prints a small table.

    Clips are drawn from consecutive seeds (all scene kinds, moves and object counts), after a
    warm-up that builds the cached textures, so the figure is the steady-state training rate.
    """
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        for kind in GROUNDS:
            for variant in range(3):
                ground_tile(kind, variant)
        for kind, colour, sky, side in itertools.product(KINDS, COLOUR_NAMES, SKIES, (-1.0, 1.0)):
            sprite(kind, colour, sky, side)
        results = {}
        for size in sizes:
            for s in range(20):  # warm-up: sprites and code paths
                render_clip(10_000 + s, frames, size)
            clips, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds / len(sizes):
                render_clip(clips, frames, size)
                clips += 1
            elapsed = time.perf_counter() - start
            results[f"{size}x{size}"] = {"frames": clips * frames, "fps": clips * frames / elapsed}
    finally:
        cv2.setNumThreads(previous)
    print(f"World render, {frames}-frame clips, one core:")
    for name, r in results.items():
        print(f"  {name:>9s}: {r['fps']:7.0f} frames/s")
    return results
