"""Contact sheets: rows of clips, a few frames each, labelled, as one PNG a person can look at.

    rows = [("seed 3  original", clip), ("seed 3  VAE  33.1 dB", recon), ...]
    contact_sheet(rows, "out/sheet.png", frames_per_clip=6, group=2)

Every row shows the same evenly spaced frames of its clip (first and last included), under
a strip holding its label; a header names the frame numbers. `group` rows belong together
(an original and its reconstruction, a prompt and its takes): a wider gap and a rule
separate the groups. Text is drawn with OpenCV's anti-aliased Hershey font, light on dark.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ..errors import InvalidRequest

MARGIN = 8  # px around the grid
GAP = 4  # px between frames, and between a row and the next label strip
GROUP_GAP = 12  # px between groups (a rule is drawn in the middle)
HEADER = 20  # px of the top strip that names the frame numbers
LABEL = 20  # px of the strip above each row that holds its label
BACKGROUND = (24, 24, 24)
TEXT = (235, 235, 235)
DIM = (150, 150, 150)
RULE = (70, 70, 70)
FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE = 0.45  # about 10 px capitals: readable at 100 %


def sample_indices(frames: int, count: int) -> list[int]:
    """`count` evenly spaced frame numbers from 0 to `frames - 1` (fewer if the clip is short)."""
    count = max(1, min(count, frames))
    return sorted({int(round(i)) for i in np.linspace(0, frames - 1, count)})


def sheet_size(rows: int, frames: int, height: int, width: int, group: int = 1) -> tuple[int, int]:
    """(height, width) in pixels of the sheet `contact_sheet` draws for `rows` clips of
    (frames, height, width) showing `frames` frames each, `group` rows per group."""
    groups = -(-rows // max(1, group))
    sheet_w = 2 * MARGIN + frames * width + (frames - 1) * GAP
    sheet_h = (
        2 * MARGIN
        + HEADER
        + rows * (LABEL + height)
        + (rows - groups) * GAP
        + (groups - 1) * GROUP_GAP
    )
    return sheet_h, sheet_w


def contact_sheet(
    rows: Sequence[tuple[str, np.ndarray]],
    path: str | os.PathLike | None = None,
    frames_per_clip: int = 6,
    group: int = 1,
) -> np.ndarray:
    """Draw `rows` of (label, uint8 (T, H, W, 3) RGB clip) as a grid; all clips the same shape.

    Returns the sheet as uint8 (H, W, 3) RGB and writes it to `path` (PNG, atomically) when
    given. Labels too long for the row are cut with an ellipsis.
    """
    if not rows:
        raise InvalidRequest("A contact sheet needs at least one clip.")
    shape = None
    for label, clip in rows:
        if not isinstance(clip, np.ndarray) or clip.dtype != np.uint8 or clip.ndim != 4:
            raise InvalidRequest(f"The clip {label!r} is not uint8 (T, H, W, 3) frames.")
        if clip.shape[-1] != 3 or (shape is not None and clip.shape != shape):
            raise InvalidRequest(
                f"Every clip on a contact sheet needs the same (T, H, W, 3) shape; {label!r} "
                f"is {clip.shape}, the first is {shape}."
            )
        shape = clip.shape
    t, h, w, _ = shape
    picks = sample_indices(t, frames_per_clip)
    group = max(1, group)
    sheet_h, sheet_w = sheet_size(len(rows), len(picks), h, w, group)
    sheet = np.empty((sheet_h, sheet_w, 3), np.uint8)
    sheet[:] = BACKGROUND
    columns = [MARGIN + i * (w + GAP) for i in range(len(picks))]
    for x, index in zip(columns, picks, strict=True):
        _text(sheet, f"frame {index}", (x, MARGIN + HEADER - 6), w, DIM)
    y = MARGIN + HEADER
    for n, (label, clip) in enumerate(rows):
        if n and n % group == 0:  # a new group: wider gap with a rule in the middle
            y += GROUP_GAP - GAP
            rule_y = y - GROUP_GAP // 2
            sheet[rule_y, MARGIN : sheet_w - MARGIN] = RULE
        _text(sheet, label, (MARGIN, y + LABEL - 6), sheet_w - 2 * MARGIN, TEXT)
        y += LABEL
        for x, index in zip(columns, picks, strict=True):
            sheet[y : y + h, x : x + w] = clip[index]
        y += h + GAP
    if path is not None:
        from ..media import write_image

        write_image(Path(path), sheet)
    return sheet


def _text(image: np.ndarray, text: str, origin: tuple[int, int], room: int, colour) -> None:
    """Draw `text` with its baseline at `origin`, cut with "..." to fit `room` pixels."""
    text = text.replace("\n", " ")
    if _width(text) > room:
        while text and _width(text + "...") > room:
            text = text[:-1]
        text = text.rstrip() + "..." if text else ""
    if text:
        cv2.putText(image, text, origin, FONT, FONT_SCALE, colour, 1, cv2.LINE_AA)


def _width(text: str) -> int:
    return cv2.getTextSize(text, FONT, FONT_SCALE, 1)[0][0]
