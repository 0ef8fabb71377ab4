"""The sequence as a timeline an editor opens: OpenTimelineIO, CMX 3600 EDL, FCP 7 XML.

One video track, one clip per shot in order, each referencing the shot's own media file
(written beside the timeline by `engine.export`), named after the shot, as long as the
shot, with its shot id, take and seed in the clip's metadata (`.otio` keeps it; EDL and
XML carry the name and the file). EDL and FCP XML are written through OpenTimelineIO's
adapters, the same ones that read them back, so Resolve and Premiere open the cut.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InvalidRequest, MediaError

#: timeline file extension -> OpenTimelineIO adapter
TIMELINE_FORMATS = {".otio": "otio_json", ".edl": "cmx_3600", ".xml": "fcp_xml"}
TIMELINE_LABELS = {
    ".otio": "OpenTimelineIO (.otio)",
    ".edl": "CMX 3600 EDL (.edl)",
    ".xml": "Final Cut Pro 7 XML (.xml), for Premiere and Resolve",
}


@dataclass(frozen=True)
class TimelineClip:
    name: str  # the shot's name
    media: Path  # its media file
    frames: int  # its duration on the timeline
    metadata: dict = field(default_factory=dict)  # shot id, take, seed, backend


def is_timeline(path: Path) -> bool:
    return path.suffix.lower() in TIMELINE_FORMATS


def media_folder(path: Path) -> Path:
    """Where a timeline's per-shot media go: `<name>_media/` beside it."""
    return path.with_name(f"{path.stem}_media")


def build_timeline(name: str, fps: float, clips: list[TimelineClip]):
    """An `opentimelineio.schema.Timeline` of the clips, starting at 01:00:00:00 as NLEs do."""
    import opentimelineio as otio
    from opentimelineio.opentime import RationalTime, TimeRange

    timeline = otio.schema.Timeline(name=name)
    timeline.global_start_time = RationalTime(3600 * fps, fps)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    for clip in clips:
        span = TimeRange(RationalTime(0, fps), RationalTime(clip.frames, fps))
        reference = otio.schema.ExternalReference(
            target_url=otio.url_utils.url_from_filepath(str(clip.media.resolve())),
            available_range=span,
        )
        reference.name = clip.media.name
        item = otio.schema.Clip(name=clip.name, media_reference=reference, source_range=span)
        item.metadata["kinema"] = dict(clip.metadata)
        track.append(item)
    return timeline


def write_timeline(path: Path, timeline) -> None:
    """Write `timeline` in the format the extension names, atomically."""
    import opentimelineio as otio

    adapter = TIMELINE_FORMATS.get(path.suffix.lower())
    if adapter is None:
        raise InvalidRequest(
            f"Cannot write the timeline '{path.name}': give a {', '.join(TIMELINE_FORMATS)} file."
        )
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        otio.adapters.write_to_file(timeline, str(temp), adapter_name=adapter)
        with open(temp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as error:
        raise MediaError(f"Could not write '{path.name}': {error.strerror or error}.") from error
    except otio.exceptions.OTIOError as error:
        raise MediaError(f"Could not write '{path.name}': {error}.") from error
    finally:
        temp.unlink(missing_ok=True)


def read_timeline(path: Path, fps: float | None = None):
    """Read a timeline back (an EDL needs its frame rate)."""
    import opentimelineio as otio

    adapter = TIMELINE_FORMATS[path.suffix.lower()]
    extra = {"rate": fps} if adapter == "cmx_3600" and fps else {}
    return otio.adapters.read_from_file(str(path), adapter_name=adapter, **extra)
