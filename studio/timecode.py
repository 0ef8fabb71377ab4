"""How the studio writes a time: SMPTE timecode or plain frame numbers, one preference.

Every place that shows a time (the timeline's ruler, the viewer's counter, the camera
editor's time axis) asks `format_frame`, so switching the preference switches them all.
No Qt here: the formatting is plain arithmetic and is tested as such.
"""

from __future__ import annotations

import math

TIMECODE, FRAMES = "timecode", "frames"
STYLES = (TIMECODE, FRAMES)
STYLE_LABELS = {TIMECODE: "Timecode (HH:MM:SS:FF)", FRAMES: "Frame numbers"}

_style = TIMECODE


def nominal_rate(fps: float) -> int:
    """The whole frames a timecode second counts: 24 for 23.976, 30 for 29.97."""
    return max(1, round(fps))


def timecode(frame: int, fps: float) -> str:
    """Frame `frame` (0 is the first) as HH:MM:SS:FF; one second at 24 fps is 00:00:01:00.

    Non-drop-frame counting at the nominal rate: at 23.976 or 29.97 fps a "second" is 24
    or 30 frames, so the label drifts from the wall clock (3.6 s an hour), as NDF timecode
    in an NLE does. Negative frames get a leading minus.
    """
    frame = int(math.floor(frame + 1e-9))
    sign = "-" if frame < 0 else ""
    rate = nominal_rate(fps)
    seconds, frames = divmod(abs(frame), rate)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}"


def format_frame(frame: int, fps: float, style: str | None = None) -> str:
    """`frame` in the chosen style (the preference unless given): timecode or its number."""
    style = style or _style
    if style == FRAMES:
        return str(int(math.floor(frame + 1e-9)))
    return timecode(frame, fps)


def style() -> str:
    return _style


def set_style(value: str) -> None:
    """Set by the preferences; unknown values fall back to timecode."""
    global _style
    _style = value if value in STYLES else TIMECODE
