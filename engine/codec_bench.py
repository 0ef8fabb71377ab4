"""`kinema bench media`: each delivery codec's encode speed against the ffmpeg command line.

For every codec of `engine.codecs.CODECS`, at 1280x720 and 1920x1080, the same frames in
memory are encoded by Kinema (`write_video` / `write_image_sequence`: RGB to the codec's
pixel format with BT.709, the encoder, the muxer, the recipe tags, an atomic rename) and
by `ffmpeg` reading the raw RGB frames on its standard input with the same encoder, pixel
format, options, colour conversion and tags. Runs alternate (Kinema, ffmpeg, Kinema, ...)
so a busy moment hurts both alike; each figure is the median. The ratio is Kinema's
frames per second over ffmpeg's: 1.0 means no overhead.

PyAV bundles its own FFmpeg and encoder libraries; the command line is whatever FFmpeg
the system has. Both versions are printed: where they differ, so may the encoders.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

SIZES = ((1280, 720), (1920, 1080))
#: a container for each codec's bench file (a sequence writes a folder)
_METADATA = {"kinema": '{"bench": true}', "comment": "kinema bench media"}


def _clip(width: int, height: int, frames: int) -> np.ndarray:
    """A moving previs clip: texture, a camera move and a brushed region, like a take."""
    from .bench import _sample_shot_controls
    from .previs import previs_video

    controls = _sample_shot_controls(width, height, frames)()
    return previs_video(controls.base_image(), controls.homographies, controls.fields())


def ffmpeg_command(codec, width: int, height: int, fps: float, target: Path) -> list[str]:
    """The ffmpeg command line that encodes raw RGB frames from stdin as `write_video` does."""
    command = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps:g}",
        "-i", "-",
    ]  # fmt: skip
    if codec.sequence:
        command += ["-c:v", codec.encoder, "-pix_fmt", codec.pix_fmt]
        for key, value in codec.encoder_options().items():
            command += [f"-{key}:v", value]
        return [*command, str(target / f"frame_%05d{codec.image_ext}")]
    scale, coded_w, coded_h, _notes = codec.legal_frame(width, height)
    assert scale == 1 and (coded_w, coded_h) == (width, height), "bench sizes are legal"
    command += ["-vf", "scale=out_color_matrix=bt709:out_range=tv"]
    command += ["-c:v", codec.encoder, "-pix_fmt", codec.pix_fmt]
    for key, value in codec.encoder_options().items():
        command += [f"-{key}:v", value]
    command += ["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709"]
    command += ["-color_range", "tv"]
    if codec.encoder == "libx265":
        command += ["-tag:v", "hvc1"]
    if target.suffix in (".mp4", ".mov"):
        command += ["-movflags", "+faststart+use_metadata_tags"]
    for key, value in _METADATA.items():
        command += ["-metadata", f"{key}={value}"]
    return [*command, str(target)]


def _run_ffmpeg(command: list[str], clip: np.ndarray) -> float:
    start = time.perf_counter()
    subprocess.run(command, input=clip.tobytes(), check=True, capture_output=True)
    return time.perf_counter() - start


def _run_kinema(codec, clip: np.ndarray, fps: float, target: Path) -> float:
    from .media import write_image_sequence, write_video

    start = time.perf_counter()
    if codec.sequence:
        write_image_sequence(target, clip, codec.name, metadata=_METADATA)
    else:
        write_video(target, clip, fps, codec.name, metadata=_METADATA)
    return time.perf_counter() - start


def _versions() -> tuple[str, str]:
    import av

    pyav = f"PyAV {av.__version__} with FFmpeg {av.ffmpeg_version_info}"
    out = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout
    return pyav, (out.splitlines() or ["ffmpeg (unknown version)"])[0]


def bench_media(frames: int = 24, repeats: int = 3, codecs: list[str] | None = None) -> dict:
    """Encode speed of every codec at 720p and 1080p, Kinema against ffmpeg, in one run."""
    from .codecs import CODECS

    if shutil.which("ffmpeg") is None:
        print("media: skipped (no ffmpeg command line to compare with; install ffmpeg)")
        return {}
    pyav, cli = _versions()
    print(f"encode speed, {frames} frames in memory, median of {repeats} alternating runs")
    print(f"  Kinema: {pyav}\n  ffmpeg: {cli}")
    results: dict = {}
    fps = 24.0
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in SIZES:
            clip = _clip(width, height, frames)
            size = f"{width}x{height}"
            print(f"  {size}:{'frames/s':>22s} {'ffmpeg':>8s} {'ratio':>6s}")
            for name in codecs or CODECS:
                codec = CODECS[name]
                ext = "" if codec.sequence else codec.extensions[0]
                ours, theirs = [], []
                for attempt in range(repeats):
                    mine = Path(tmp) / f"kinema_{name}_{attempt}{ext}"
                    other = Path(tmp) / f"ffmpeg_{name}_{attempt}{ext}"
                    if codec.sequence:
                        other.mkdir()
                    ours.append(_run_kinema(codec, clip, fps, mine))
                    theirs.append(
                        _run_ffmpeg(ffmpeg_command(codec, width, height, fps, other), clip)
                    )
                    for path in (mine, other):
                        shutil.rmtree(path) if path.is_dir() else path.unlink()
                kinema_fps = frames / statistics.median(ours)
                ffmpeg_fps = frames / statistics.median(theirs)
                ratio = kinema_fps / ffmpeg_fps
                results.setdefault(size, {})[name] = {
                    "kinema_fps": kinema_fps,
                    "ffmpeg_fps": ffmpeg_fps,
                    "ratio": ratio,
                }
                print(f"    {name:>12s}: {kinema_fps:8.1f} {ffmpeg_fps:8.1f} {ratio:6.2f}")
    return results
