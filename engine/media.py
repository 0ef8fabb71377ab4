"""Images and videos in and out: files to RGB frames, frames to MP4 and PNG.

Reading turns whatever a user drops in (PNG with alpha, 16-bit TIFF, a phone JPEG, an MP4,
MOV or WebM in any codec FFmpeg decodes) into the one layout the engine knows: `uint8`
frames `(T, H, W, 3)` RGB. Writing produces files any player opens: H.264 in yuv420p with
even dimensions, tagged BT.709, and PNG sequences.

Two promises hold everywhere:

- A file that cannot be read raises `MediaError` with a sentence that names the file and
  says what is wrong with it, never an FFmpeg stack fragment.
- Writing is atomic: output goes to a hidden temporary file in the target folder and is
  renamed over the target only once complete, so a failed or cancelled render (an
  exception from the frame iterator included) never replaces a good file, and leaves no
  temporary file behind.

Images are decoded with OpenCV (it keeps alpha and 16-bit samples and reads EXIF
orientation); PyAV is the fallback for anything else FFmpeg knows. Videos go through PyAV.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from pathlib import Path

import av
import cv2
import numpy as np

from .errors import MediaError

#: extensions read as still images (and written by `write_image`)
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
#: extensions read as videos; `write_mp4` writes the first three
VIDEO_EXTS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif", ".mpg", ".mpeg", ".ts")

#: progress(done, total); total is 0 when not known in advance (a busy indicator)
ProgressFn = Callable[[int, int], None]

# container format FFmpeg muxes for each writable video extension
_VIDEO_MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov"}
_X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)
# the NTSC family: a requested 23.976 means 24000/1001, which players show as 23.98
_NTSC_BASES = (24, 30, 48, 60, 120)


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` learns about a video file's first video stream."""

    codec: str  # decoder name, e.g. "h264"
    pix_fmt: str  # e.g. "yuv420p"
    width: int
    height: int
    frames: int  # frame count (declared by the container, else counted packets)
    fps: float  # average frame rate
    duration: float  # seconds


# ---------------------------------------------------------------- reading


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read a still image as `(H, W, 3)` uint8 RGB.

    Any common format and layout is accepted: gray becomes RGB, alpha is composited onto
    black (what a transparent keyframe region looks like to a model), 16-bit and float
    samples are scaled to 8 bits, and EXIF orientation is applied so a phone photo stands
    the way it was shot.
    """
    return _read_image(path, ffmpeg_fallback=True)


def _read_image(path: str | os.PathLike, ffmpeg_fallback: bool) -> np.ndarray:
    """`read_image`; without the fallback only OpenCV decodes (it never mistakes a video)."""
    path = _readable_file(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise MediaError(f"Could not read '{path.name}': {_os_reason(error)}.") from error

    image = _cv2_decode(data, cv2.IMREAD_UNCHANGED)
    if image is not None and _channels(image) != 4 and b"Exif" in data[:65536].tobytes():
        # IMREAD_UNCHANGED ignores EXIF orientation; decode again in a mode that applies it
        # (alpha is absent here, so nothing is lost).
        oriented = _cv2_decode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
        image = oriented if oriented is not None else image
    if image is not None:
        return _to_rgb8(image, path, bgr=True)
    if not ffmpeg_fallback:
        raise MediaError(
            f"Could not read '{path.name}': the file is not an image Kinema can decode."
        )

    try:  # formats this OpenCV build lacks, but FFmpeg reads
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
            image = frame.to_ndarray(format="rgba")
    except (av.FFmpegError, StopIteration, IndexError, ValueError) as error:
        raise MediaError(
            f"Could not read '{path.name}': the file is not an image Kinema can decode."
        ) from error
    return _to_rgb8(image, path, bgr=False)


def read_video(
    path: str | os.PathLike,
    max_frames: int | None = None,
    progress: ProgressFn | None = None,
) -> tuple[np.ndarray, float]:
    """Decode a video's first video stream to `(T, H, W, 3)` uint8 RGB, and its fps.

    `max_frames` stops after that many frames (a preview of a long clip). The display
    rotation a phone stores is applied. Frames whose size changes mid-stream are scaled to
    the first frame's size. `progress(done, total)` is called after each frame.
    """
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    path = _readable_file(path)
    with _reading(path), av.open(str(path)) as container:
        if not container.streams.video:
            raise MediaError(f"Could not read '{path.name}': the file holds no video.")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = _stream_fps(stream)
        expected = stream.frames or int(round(_stream_duration(stream, container) * fps))
        if max_frames is not None:
            expected = min(expected, max_frames) if expected else max_frames
        buffer = _FrameBuffer(expected)
        for frame in _decode(container, stream, path):
            buffer.append(_frame_to_rgb(frame, buffer.size))
            if progress is not None:
                progress(len(buffer), max(expected, len(buffer)) if expected else 0)
            if max_frames is not None and len(buffer) >= max_frames:
                break
    if not len(buffer):
        raise MediaError(f"Could not read '{path.name}': the video holds no frames.")
    return buffer.frames(), fps


def _decode(container, stream: av.VideoStream, path: Path) -> Iterator[av.VideoFrame]:
    """The stream's frames; a damaged or truncated packet is an error, not a silent stop.

    With threaded decoding FFmpeg conceals a broken packet rather than failing, so a file
    cut short would otherwise read as a shorter clip. The demuxer flags such packets.
    """
    decoded = 0
    for packet in container.demux(stream):
        if packet.is_corrupt:
            raise MediaError(
                f"Could not read '{path.name}': the file is damaged or cut short "
                f"(only {decoded} frames could be read)."
            )
        for frame in packet.decode():
            decoded += 1
            yield frame


def read_media(path: str | os.PathLike) -> tuple[np.ndarray, float | None]:
    """Read an image as one frame `(1, H, W, 3)` with fps None, or a video with its fps.

    The extension decides which; a file with another extension is tried as an image
    (OpenCV recognises images by content), then as a video.
    """
    path = _readable_file(path)
    suffix = path.suffix.lower()
    if suffix in VIDEO_EXTS:
        return read_video(path)
    if suffix in IMAGE_EXTS:
        return read_image(path)[None], None
    try:
        return _read_image(path, ffmpeg_fallback=False)[None], None
    except MediaError:
        pass
    try:
        return read_video(path)
    except MediaError as error:
        raise MediaError(
            f"Could not read '{path.name}': it is neither an image nor a video Kinema can decode."
        ) from error


def probe(path: str | os.PathLike) -> VideoInfo:
    """Describe a video's first video stream without decoding it."""
    path = _readable_file(path)
    with _reading(path), av.open(str(path)) as container:
        if not container.streams.video:
            raise MediaError(f"Could not read '{path.name}': the file holds no video.")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        fps = _stream_fps(stream)
        frames = stream.frames or sum(1 for p in container.demux(stream) if p.size)
        duration = _stream_duration(stream, container) or (frames / fps if fps else 0.0)
        return VideoInfo(
            codec=ctx.name,
            pix_fmt=ctx.pix_fmt or "",
            width=ctx.width,
            height=ctx.height,
            frames=frames,
            fps=fps,
            duration=duration,
        )


# ---------------------------------------------------------------- writing


def write_image(path: str | os.PathLike, frame: np.ndarray) -> None:
    """Write one `(H, W, 3)` uint8 RGB frame; the format follows the extension.

    Atomic: a good file already at `path` is replaced only by a complete new one.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_EXTS:
        raise MediaError(
            f"Could not write '{path.name}': Kinema writes images as "
            f"{', '.join(IMAGE_EXTS)}, not '{suffix or 'no extension'}'."
        )
    frame = _checked_frame(frame, path, index=None)
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if suffix in (".jpg", ".jpeg") else []
    ok, encoded = cv2.imencode(suffix, np.ascontiguousarray(frame[..., ::-1]), params)
    if not ok:
        raise MediaError(f"Could not write '{path.name}': the image could not be encoded.")
    with _atomic_output(path) as temp:
        try:
            temp.write_bytes(encoded.tobytes())
        except OSError as error:
            raise MediaError(f"Could not write '{path.name}': {_os_reason(error)}.") from error


def write_mp4(
    path: str | os.PathLike,
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float,
    crf: int = 18,
    progress: ProgressFn | None = None,
    total: int | None = None,
    preset: str = "medium",
) -> None:
    """Encode frames to H.264 (libx264, yuv420p) in an .mp4, .m4v or .mov file.

    `frames` is a `(T, H, W, 3)` array or any iterable of `(H, W, 3)` uint8 RGB frames, so
    a generator can stream into the encoder without holding the clip in memory; `total`
    gives its length for progress when it has no `len`. `fps` may be fractional (23.976 is
    stored as 24000/1001). Odd widths and heights get one edge-replicated row or column,
    since yuv420p needs even sizes. `crf` is x264's quality (0 lossless, 18 visually
    lossless, 23 default, 51 worst); `preset` trades encode speed for file size.

    Atomic: the file appears only when complete; on any error, the frame iterator's own
    included, a file already at `path` is left untouched.
    """
    path = Path(path)
    muxer = _VIDEO_MUXERS.get(path.suffix.lower())
    if muxer is None:
        raise MediaError(
            f"Could not write '{path.name}': Kinema writes video as "
            f"{', '.join(_VIDEO_MUXERS)}, not '{path.suffix or 'no extension'}'."
        )
    if not 0 <= crf <= 51:
        raise MediaError(f"Could not write '{path.name}': CRF must be 0 to 51, got {crf}.")
    if preset not in _X264_PRESETS:
        raise MediaError(
            f"Could not write '{path.name}': unknown preset '{preset}' "
            f"(use one of {', '.join(_X264_PRESETS)})."
        )
    rate = _frame_rate(fps, path)
    first, frames, total = _first_frame(frames, total, path)
    height, width = first.shape[:2]

    with _atomic_output(path) as temp, _writing(path):
        container = av.open(
            str(temp), "w", format=muxer, container_options={"movflags": "+faststart"}
        )
        try:
            stream = container.add_stream("libx264", rate=rate)
            stream.width, stream.height = width + width % 2, height + height % 2
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(crf), "preset": preset}
            ctx = stream.codec_context
            ctx.time_base = 1 / rate
            # Tag what we convert with, so players decode the colours we meant.
            ctx.colorspace = ctx.color_primaries = ctx.color_trc = 1  # BT.709
            ctx.color_range = 1  # limited ("MPEG") range
            for index, frame in enumerate(frames):
                frame = _even(_checked_frame(frame, path, index, first.shape))
                video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(
                    format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG"
                )
                video_frame.pts = index
                container.mux(stream.encode(video_frame))
                if progress is not None:
                    progress(index + 1, total)
            container.mux(stream.encode(None))  # flush delayed (B-)frames
        except BaseException:
            with contextlib.suppress(av.FFmpegError, OSError):
                container.close()
            raise
        container.close()


def write_png_sequence(
    folder: str | os.PathLike,
    frames: np.ndarray | Iterable[np.ndarray],
    progress: ProgressFn | None = None,
    prefix: str = "frame_",
) -> list[Path]:
    """Write frames as `folder/<prefix>00000.png`, ... and return the paths in order.

    Each file is written atomically. Numbering has at least five digits, more when the
    length is known and needs them. Once all frames are written, stale `<prefix>NNNNN.png`
    files from an earlier, longer render are removed, so the folder holds exactly this
    sequence.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise MediaError(f"Could not write frames to '{folder.name}': it is a file, not a folder.")
    first, frames, total = _first_frame(frames, None, folder)
    digits = max(5, len(str(max(total - 1, 0))))
    written = []
    for index, frame in enumerate(frames):
        target = folder / f"{prefix}{index:0{digits}d}.png"
        write_image(target, _checked_frame(frame, target, index, first.shape))
        written.append(target)
        if progress is not None:
            progress(index + 1, total)
    stale = re.compile(re.escape(prefix) + r"\d+\.png")
    keep = {p.name for p in written}
    for old in folder.iterdir():
        if stale.fullmatch(old.name) and old.name not in keep and old.is_file():
            old.unlink()
    return written


# ---------------------------------------------------------------- helpers


def _readable_file(path: str | os.PathLike) -> Path:
    """The path, if it names a non-empty regular file; otherwise a MediaError saying why."""
    path = Path(path)
    if not path.exists():
        raise MediaError(f"Could not read '{path.name}': the file does not exist.")
    if path.is_dir():
        raise MediaError(f"Could not read '{path.name}': it is a folder, not a file.")
    try:
        size = path.stat().st_size
    except OSError as error:
        raise MediaError(f"Could not read '{path.name}': {_os_reason(error)}.") from error
    if size == 0:
        raise MediaError(f"Could not read '{path.name}': the file is empty.")
    return path


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn FFmpeg's and the OS's errors while reading `path` into a sentence naming it."""
    try:
        yield
    except av.FFmpegError as error:
        reason = error.strerror or type(error).__name__
        if isinstance(error, OSError) and not isinstance(error, av.error.InvalidDataError):
            raise MediaError(f"Could not read '{path.name}': {reason.lower()}.") from error
        raise MediaError(
            f"Could not read '{path.name}': the file is not a video Kinema can decode ({reason})."
        ) from error
    except OSError as error:
        raise MediaError(f"Could not read '{path.name}': {_os_reason(error)}.") from error


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn FFmpeg's errors while encoding `path` into a sentence naming it."""
    try:
        yield
    except av.FFmpegError as error:
        reason = error.strerror or type(error).__name__
        raise MediaError(
            f"Could not write '{path.name}': the encoder failed ({reason})."
        ) from error


@contextlib.contextmanager
def _atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success fsync it and rename it over `path`.

    On any exception the temporary file is removed and `path` is untouched. The temporary
    file is created with the usual permissions (umask applies), unlike `mkstemp`'s 0600.
    """
    if path.is_dir():
        raise MediaError(f"Could not write '{path.name}': a folder of that name is in the way.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
        os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as error:
        raise MediaError(f"Could not write '{path.name}': {_os_reason(error)}.") from error
    try:
        yield temp
    except BaseException:  # the caller's error (a failing frame iterator included) stands
        temp.unlink(missing_ok=True)
        raise
    try:
        with open(temp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise MediaError(f"Could not write '{path.name}': {_os_reason(error)}.") from error


def _os_reason(error: OSError) -> str:
    """An OS error as the tail of a sentence: 'permission denied', 'no space left on device'."""
    reason = error.strerror or str(error) or type(error).__name__
    return reason[0].lower() + reason[1:]


def _cv2_decode(data: np.ndarray, flags: int) -> np.ndarray | None:
    """OpenCV's decode of encoded bytes, or None where it cannot."""
    try:
        return cv2.imdecode(data, flags)
    except cv2.error:
        return None


def _channels(image: np.ndarray) -> int:
    return 1 if image.ndim == 2 else image.shape[2]


def _to_rgb8(image: np.ndarray, path: Path, bgr: bool) -> np.ndarray:
    """Any decoded layout (gray, gray+alpha, BGR(A) or RGB(A); 8/16-bit or float) to RGB uint8."""
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4) or image.size == 0:
        raise MediaError(f"Could not read '{path.name}': the image layout is not supported.")
    channels = image.shape[2]
    if bgr and channels >= 3:
        image = image[..., [2, 1, 0, *range(3, channels)]]
    has_alpha = channels in (2, 4)
    if image.dtype == np.uint8 and not has_alpha:
        rgb = image if channels == 3 else np.repeat(image, 3, axis=2)
        return np.ascontiguousarray(rgb)

    if image.dtype == np.uint8:
        unit = image.astype(np.float32) / 255.0
    elif image.dtype == np.uint16:
        unit = image.astype(np.float32) / 65535.0
    elif image.dtype in (np.float16, np.float32, np.float64):
        unit = np.nan_to_num(image.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    else:
        raise MediaError(
            f"Could not read '{path.name}': images with {image.dtype} samples are not supported."
        )
    unit = np.clip(unit, 0.0, 1.0)
    if has_alpha:
        unit = unit[..., :-1] * unit[..., -1:]  # composite over black
    if unit.shape[2] == 1:
        unit = np.repeat(unit, 3, axis=2)
    return np.ascontiguousarray(np.round(unit * 255.0).astype(np.uint8))


def _frame_to_rgb(frame: av.VideoFrame, size: tuple[int, int] | None) -> np.ndarray:
    """A decoded video frame as RGB uint8, turned upright, at `size` (h, w) when given."""
    quarter_turns = round((frame.rotation or 0) / 90) % 4
    height, width = frame.height, frame.width
    if size is not None:  # the upright size; undo the turn to get the coded size
        height, width = size if quarter_turns % 2 == 0 else size[::-1]
    rgb = frame.to_ndarray(format="rgb24", width=width, height=height)
    if quarter_turns:
        rgb = np.ascontiguousarray(np.rot90(rgb, k=quarter_turns))  # counter-clockwise
    return rgb


class _FrameBuffer:
    """Frames decoded one by one into a preallocated, doubling `(T, H, W, 3)` array.

    Avoids a list of frames followed by `np.stack`, which briefly holds the clip twice.
    The first allocation trusts the expected count only up to about 1 GiB, so a file that
    declares a bogus frame count cannot make it reserve absurd amounts of memory.
    """

    def __init__(self, expected: int):
        self._capacity = max(expected, 1)
        self._data: np.ndarray | None = None
        self._count = 0

    @property
    def size(self) -> tuple[int, int] | None:
        """(height, width) of the frames so far; None before the first."""
        return None if self._data is None else self._data.shape[1:3]

    def __len__(self) -> int:
        return self._count

    def append(self, frame: np.ndarray) -> None:
        if self._data is None:
            capacity = min(self._capacity, max(1, 2**30 // frame.nbytes))
            self._data = np.empty((capacity, *frame.shape), np.uint8)
        elif self._count == len(self._data):
            grown = np.empty((2 * len(self._data), *self._data.shape[1:]), np.uint8)
            grown[: self._count] = self._data
            self._data = grown
        self._data[self._count] = frame
        self._count += 1

    def frames(self) -> np.ndarray:
        assert self._data is not None
        return self._data[: self._count]


def _stream_fps(stream: av.VideoStream) -> float:
    """The average frame rate, else the guessed one, else 24 (a GIF without timing)."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and float(rate) > 0:
            return float(rate)
    return 24.0


def _stream_duration(stream: av.VideoStream, container) -> float:
    """Seconds, from the stream, else the container; 0.0 when neither knows."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return 0.0


def _frame_rate(fps: float, path: Path) -> Fraction:
    """fps as an exact rational rate: 23.976 -> 24000/1001, 12.5 -> 25/2."""
    try:
        fps = float(fps)
    except (TypeError, ValueError):
        fps = float("nan")
    if not 0 < fps <= 1000:  # NaN fails too
        raise MediaError(f"Could not write '{path.name}': fps must be above 0 and at most 1000.")
    for base in _NTSC_BASES:
        ntsc = Fraction(base * 1000, 1001)
        if abs(fps - float(ntsc)) < 0.005:
            return ntsc
    return Fraction(fps).limit_denominator(1001)


def _first_frame(
    frames: np.ndarray | Iterable[np.ndarray], total: int | None, path: Path
) -> tuple[np.ndarray, Iterator[np.ndarray], int]:
    """Peek at the first frame (for size), and return it, all the frames, and the total.

    The total is `len(frames)` where there is one, else `total`, else 0 (unknown).
    """
    if isinstance(frames, np.ndarray) and frames.ndim != 4:
        raise MediaError(
            f"Could not write '{path.name}': expected frames shaped (T, H, W, 3), "
            f"got {frames.shape}."
        )
    if total is None:
        total = len(frames) if hasattr(frames, "__len__") else 0
    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        raise MediaError(f"Could not write '{path.name}': there are no frames to write.")
    first = _checked_frame(first, path, 0)
    return first, chain([first], iterator), total


def _checked_frame(
    frame: np.ndarray, path: Path, index: int | None, shape: tuple[int, ...] | None = None
) -> np.ndarray:
    """The frame if it is `(H, W, 3)` uint8 (and of `shape` when given); else MediaError."""
    which = "the frame" if index is None else f"frame {index}"
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3 or 0 in frame.shape:
        raise MediaError(
            f"Could not write '{path.name}': {which} is {frame.dtype} {frame.shape}, "
            f"but Kinema writes uint8 RGB frames shaped (H, W, 3)."
        )
    if shape is not None and frame.shape != shape:
        raise MediaError(
            f"Could not write '{path.name}': {which} is {frame.shape[1]}x{frame.shape[0]}, "
            f"but the first frame is {shape[1]}x{shape[0]}; all frames must be one size."
        )
    return frame


def _even(frame: np.ndarray) -> np.ndarray:
    """Pad an odd height or width by replicating the last row or column (yuv420p needs even)."""
    height, width = frame.shape[:2]
    if height % 2 == 0 and width % 2 == 0:
        return frame
    return np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
