"""Which sky and which ground a clip shows, judged the way a person glances at it.

The evaluation asks "is the sand sand and the dusk dusk" of generated clips. The world draws
each sky and ground from a small palette (shaded by the time of day, textured, in
perspective), so a nearest-centroid judge on a few colour and texture figures of the top and
bottom of the frame reads them well: it is fitted on world clips the generator never trained
on or is evaluated on (seeds 3,000 and up), and `judge_accuracy` says how often it reads the
world's own clips right, which bounds what the generated figures can mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

FIT_SEEDS = range(3000, 3400)
SIZE = 128


def _features(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sky, ground) feature vectors of (T, H, W, 3) uint8 frames, averaged over frames.

    Sky: mean colour of the top fifth. Ground: mean colour of the bottom third and its luma
    spread (the checker floor's tiles), and the same of the bottom sixth (nearest ground).
    """
    f = np.asarray(frames, np.float32)
    h = f.shape[1]
    top = f[:, : max(1, h // 5)]
    sky = top.mean(axis=(0, 1, 2))
    ground = []
    for part in (f[:, -max(1, h // 3) :], f[:, -max(1, h // 6) :]):
        luma = part.mean(-1)
        ground += [*part.mean(axis=(0, 1, 2)), 2.0 * luma.std(axis=(1, 2)).mean()]
    return sky, np.asarray(ground, np.float32)


@dataclass(frozen=True)
class SceneJudge:
    sky_labels: tuple[str, ...]
    sky_centres: np.ndarray
    ground_labels: tuple[str, ...]  # one centre per (ground, sky): shading depends on the sky
    ground_skies: tuple[str, ...]
    ground_centres: np.ndarray

    def sky(self, frames: np.ndarray) -> str:
        sky, _ = _features(frames)
        return self.sky_labels[int(np.linalg.norm(self.sky_centres - sky, axis=1).argmin())]

    def ground(self, frames: np.ndarray) -> str:
        _, ground = _features(frames)
        return self.ground_labels[
            int(np.linalg.norm(self.ground_centres - ground, axis=1).argmin())
        ]


@lru_cache(maxsize=1)
def scene_judge() -> SceneJudge:
    """The judge fitted on first frames of world clips (a few seconds, once per process)."""
    from ..synth import render_clip

    skies: dict[str, list] = {}
    grounds: dict[tuple[str, str], list] = {}
    for seed in FIT_SEEDS:
        clip = render_clip(seed, 1, SIZE)
        sky, ground = _features(clip.frames)
        skies.setdefault(clip.meta["sky"], []).append(sky)
        grounds.setdefault((clip.meta["ground"], clip.meta["sky"]), []).append(ground)
    sky_labels = tuple(sorted(skies))
    keys = sorted(grounds)
    return SceneJudge(
        sky_labels,
        np.stack([np.mean(skies[k], 0) for k in sky_labels]),
        tuple(k[0] for k in keys),
        tuple(k[1] for k in keys),
        np.stack([np.mean(grounds[k], 0) for k in keys]),
    )


def judge_accuracy(seeds=range(5000, 5100)) -> dict[str, float]:
    """How often the judge reads world clips (not those it was fitted on) right."""
    from ..synth import render_clip

    judge = scene_judge()
    sky_ok, ground_ok = [], []
    for seed in seeds:
        clip = render_clip(seed, 9, SIZE)
        sky_ok.append(judge.sky(clip.frames) == clip.meta["sky"])
        ground_ok.append(judge.ground(clip.frames) == clip.meta["ground"])
    return {"sky": float(np.mean(sky_ok)), "ground": float(np.mean(ground_ok))}
