"""The previs backend: the keyframe carried along the camera path and the strokes, no model.

It answers in milliseconds, so it is what the studio shows while the user drags a
keyframe or paints a stroke, and it is the guide video that real models denoise from.
Frames stream out as previews while they are made, like a streaming model would.
"""

from __future__ import annotations

import numpy as np

from . import Capabilities

#: previews per clip: enough to watch it grow, few enough not to copy the clip over and over
_PREVIEW_CHUNKS = 8


class PrevisBackend:
    name = "previs"

    def capabilities(self) -> Capabilities:
        return Capabilities(
            name=self.name,
            label="Previs",
            description="The keyframe moved by the camera path and motion strokes; instant, no model.",
            keyframe=True,
            camera=True,
            motion_brush=True,
            static_brush=True,
            streaming=True,
            max_frames=2400,
        )

    def load(self, device: str) -> None:
        """Nothing to load: previs is OpenCV on the CPU."""

    def generate(self, request, controls, report, cancel) -> np.ndarray:
        total = controls.frames
        frames = np.empty((total, controls.height, controls.width, 3), np.uint8)
        every = max(1, -(-total // _PREVIEW_CHUNKS))
        if controls.keyframe is None and controls.sketch is not None:
            report.notice("This shot has no keyframe: previs moves the plan's first frame.")
        elif controls.keyframe is None:
            report.notice("This shot has no keyframe: previs shows the camera move on a grid card.")
        for index, frame in enumerate(controls.iter_guide()):
            cancel.raise_if_cancelled()
            frames[index] = frame
            done = index + 1
            if done % every == 0 or done == total:
                report.progress(done, total, "frames")
                report.preview(frames[:done], done, total, complete=done == total)
        return frames
