"""Backends for the farm tests, importable on the test farm's nodes (not collected by pytest).

`backends(name)` is the farm's backend factory: the real backends by name, and "slow", a
fake that takes `request.guidance` seconds per step, previews every step and counts steps,
so a test can cancel it or kill its node mid-job.
"""

from __future__ import annotations

import time

import numpy as np

from engine.backends import Capabilities, create_backend


class SlowBackend:
    name = "slow"

    def capabilities(self) -> Capabilities:
        return Capabilities(name="slow", label="Slow fake", description="test", uses_steps=True)

    def load(self, device: str) -> None:
        pass

    def generate(self, request, controls, report, cancel):
        frames = np.zeros((request.frames, request.height, request.width, 3), np.uint8)
        for step in range(request.steps):
            time.sleep(float(request.guidance))
            frames[:] = step
            report.progress(step + 1, request.steps, "steps")
            report.preview(frames, step + 1, request.steps)
        return frames


def backends(name: str):
    return SlowBackend() if name == "slow" else create_backend(name)
