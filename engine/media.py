"""Images and videos in and out: files to RGB frames, frames to video files and sequences.

Reading turns whatever a user drops in (PNG with alpha, 16-bit TIFF, a phone JPEG, an MP4,
MOV or WebM in any codec FFmpeg decodes) into the one layout the engine knows: `uint8`
frames `(T, H, W, 3)` RGB. Writing produces what players and editors open: `write_video`
encodes any codec of `engine.codecs` (H.264, H.265, ProRes, DNxHR, VP9, AV1), tagged
BT.709, with sizes made legal per codec; `write_image_sequence` writes PNG or 16-bit TIFF
frames; `write_mp4` is the H.264 case. Container tags and image text chunks carry what the
caller passes as `metadata` (the request that made the clip, see `engine.recipe`).

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
import json
import os
import queue
import re
import secrets
import shutil
import struct
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from pathlib import Path

import av
import cv2
import numpy as np

from .errors import KinemaError, MediaError, storage_error
from .image_header import image_size, jpeg_is_complete
from .limits import MAX_ASPECT, MAX_IMAGE_PIXELS

#: the largest image file read whole (a 50-megapixel 16-bit TIFF is 400 MB; this is past it)
MAX_IMAGE_BYTES = 512 * 2**20

#: extensions read as still images (and written by `write_image`)
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
#: extensions read as videos; `write_video` writes .mp4, .m4v, .mov, .mkv and .webm
VIDEO_EXTS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif", ".mpg", ".mpeg", ".ts")

#: progress(done, total); total is 0 when not known in advance (a busy indicator)
ProgressFn = Callable[[int, int], None]

#: frames an encoder may hold back to reorder (B-frame pyramids reach 16)
_MAX_REORDER = 64
# the NTSC family: a requested 23.976 means 24000/1001, which players show as 23.98
_NTSC_BASES = (24, 30, 48, 60, 120)


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` learns about a video file's first video stream."""

    codec: str  # decoder name, e.g. "h264"
    pix_fmt: str  # e.g. "yuv420p"
    width: int
    height: int
    frames: int  # frame count: the packets in the file (a cut-short file is refused)
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


def read_keyframe(path: str | os.PathLike, cover: tuple[int, int] | None = None) -> np.ndarray:
    """`read_image`, refusing a picture too narrow to be a keyframe (a 1x10000 strip).

    With `cover` (width, height) a JPEG may be decoded at a half, a quarter or an eighth of
    its size (libjpeg scales while decoding: a 12000x8000 photo in a third of the time),
    never below what still covers `cover`: the caller scales it down the rest of the way.
    """
    image = _read_image(path, ffmpeg_fallback=True, cover=cover)
    height, width = image.shape[:2]
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise MediaError(
            f"'{Path(path).name}' is {width}x{height}: a keyframe may be at most "
            f"{MAX_ASPECT:g} times wider than tall (or taller than wide). Crop it first."
        )
    return image


def image_file_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) from the file's header, without decoding it; None when unknown."""
    try:
        with open(path, "rb") as file:
            return image_size(file.read(1 << 20))
    except OSError:
        return None


def cover_scale(size: tuple[int, int], width: int, height: int) -> float:
    """The scale at which an image of `size` just covers `width` x `height` (fill)."""
    return max(width / size[0], height / size[1])


def scale_to_cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """`image` scaled down, keeping its shape, to the smallest size that still covers
    `width` x `height` (the keyframe is cropped to the frame later, as before)."""
    h, w = image.shape[:2]
    scale = cover_scale((w, h), width, height)
    if scale >= 1:
        return image
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    return np.ascontiguousarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))


def _read_image(
    path: str | os.PathLike, ffmpeg_fallback: bool, cover: tuple[int, int] | None = None
) -> np.ndarray:
    """`read_image`; without the fallback only OpenCV decodes (it never mistakes a video).

    The header's size is checked against the pixel budget before anything is decoded; a
    larger JPEG is decoded downscaled (libjpeg scales while decoding, so memory follows
    the smaller size), anything else larger is refused.
    """
    path = _readable_file(path)
    try:
        if path.stat().st_size > MAX_IMAGE_BYTES:
            raise MediaError(
                f"Could not read '{path.name}': it is larger than {MAX_IMAGE_BYTES // 2**20} MB, "
                "more than any image Kinema reads."
            )
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise MediaError(f"Could not read '{path.name}': {_os_reason(error)}.") from error

    head = data[: 1 << 20].tobytes()
    size = image_size(head)
    if size is None:  # a format this module cannot size: FFmpeg probes before decoding
        if not ffmpeg_fallback:
            raise MediaError(
                f"Could not read '{path.name}': the file is not an image Kinema can decode."
            )
        return _read_image_ffmpeg(path)
    reduce = _reduction(path, size, is_jpeg=head.startswith(b"\xff\xd8"))
    if cover is not None and head.startswith(b"\xff\xd8"):
        while (
            reduce < 8
            and min(size[0] // (2 * reduce) / cover[0], size[1] // (2 * reduce) / cover[1]) >= 1
        ):
            reduce *= 2
    if head.startswith(b"\xff\xd8") and not jpeg_is_complete(data.tobytes()):
        raise MediaError(f"Could not read '{path.name}': the JPEG is damaged or cut short.")
    if reduce > 1:
        flags = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4}
        image = _cv2_decode(data, flags.get(reduce, cv2.IMREAD_REDUCED_COLOR_8))
    else:
        image = _cv2_decode(data, cv2.IMREAD_UNCHANGED)
        if image is not None and _channels(image) != 4 and b"Exif" in head[:65536]:
            # IMREAD_UNCHANGED ignores EXIF orientation; decode again in a mode that applies
            # it (alpha is absent here, so nothing is lost).
            del image
            image = _cv2_decode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    del data
    if image is not None:
        return _to_rgb8(image, path, bgr=True)
    if not ffmpeg_fallback:
        raise MediaError(
            f"Could not read '{path.name}': the file is not an image Kinema can decode."
        )
    return _read_image_ffmpeg(path)


def _reduction(path: Path, size: tuple[int, int], is_jpeg: bool) -> int:
    """1 when the image fits the pixel budget; else the JPEG downscale factor that makes it
    fit; a `MediaError` for anything else too large."""
    width, height = size
    if width < 1 or height < 1:
        raise MediaError(f"Could not read '{path.name}': its header declares {width}x{height}.")
    pixels = width * height
    if pixels <= MAX_IMAGE_PIXELS:
        return 1
    for factor in (2, 4, 8):
        if is_jpeg and pixels / factor**2 <= MAX_IMAGE_PIXELS:
            return factor
    raise MediaError(
        f"Could not read '{path.name}': it is {width}x{height} ({pixels / 1e6:.0f} megapixels); "
        f"Kinema reads images up to {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels. Scale it down first."
    )


def _read_image_ffmpeg(path: Path) -> np.ndarray:
    """Formats this OpenCV build lacks, but FFmpeg reads; the probed size is checked first."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            size = (stream.codec_context.width, stream.codec_context.height)
            if 0 not in size:
                _reduction(path, size, is_jpeg=False)
            frame = next(container.decode(video=0))
            _reduction(path, (frame.width, frame.height), is_jpeg=False)
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
    """Describe a video's first video stream without decoding it (its packets are read,
    so a file cut short is caught rather than described by what its header declares)."""
    path = _readable_file(path)
    with _reading(path), av.open(str(path)) as container:
        if not container.streams.video:
            raise MediaError(f"Could not read '{path.name}': the file holds no video.")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        fps = _stream_fps(stream)
        # Count the packets that are there: a file cut short still declares its full length.
        present = corrupt = 0
        for packet in container.demux(stream):
            present += packet.size > 0
            corrupt += packet.is_corrupt
        frames = present
        if corrupt or (stream.frames and present < stream.frames):
            raise MediaError(
                f"Could not read '{path.name}': the file is damaged or cut short (it declares "
                f"{stream.frames or present} frames; {present} are there)."
            )
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


def write_image(
    path: str | os.PathLike, frame: np.ndarray, metadata: dict[str, str] | None = None
) -> None:
    """Write one `(H, W, 3)` uint8 RGB frame; the format follows the extension.

    `metadata` is written as text chunks into a PNG (other formats ignore it).
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
    data = encoded.tobytes()
    if metadata and suffix == ".png":
        data = b"".join(_tag_image(data, "png", metadata))
    with _atomic_output(path) as temp:
        try:
            temp.write_bytes(data)
        except OSError as error:
            raise _write_error(path, error) from error


def write_mp4(
    path: str | os.PathLike,
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float,
    crf: int = 18,
    progress: ProgressFn | None = None,
    total: int | None = None,
    preset: str = "medium",
    metadata: dict[str, str] | None = None,
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
    if path.suffix.lower() not in (".mp4", ".m4v", ".mov"):
        raise MediaError(
            f"Could not write '{path.name}': Kinema writes H.264 as .mp4, .m4v or .mov, "
            f"not '{path.suffix or 'no extension'}'."
        )
    if not 0 <= crf <= 51:
        raise MediaError(f"Could not write '{path.name}': CRF must be 0 to 51, got {crf}.")
    write_video(
        path, frames, fps, "h264", crf=crf, preset=preset, progress=progress, total=total,
        metadata=metadata,
    )  # fmt: skip


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float,
    codec: str = "h264",
    *,
    crf: int | None = None,
    preset: str | None = None,
    metadata: dict[str, str] | None = None,
    progress: ProgressFn | None = None,
    total: int | None = None,
) -> list[str]:
    """Encode frames with one of `engine.codecs.CODECS` into the file `path`; returns notes.

    The container follows the extension, which must suit the codec (ProRes and DNxHR go in
    .mov). Frames of a size the codec cannot take are made legal (see `Codec.legal_frame`)
    and each change is returned as a sentence for the user. Colour is converted with the
    BT.709 matrix into limited range and tagged so. `metadata` becomes the container's tags
    (MP4 and MOV write any key, readable by ffprobe). Atomic, like `write_mp4`.
    """
    from .codecs import MUXERS, codec_for_path

    path = Path(path)
    spec = codec_for_path(path, codec)
    if spec.sequence:
        raise MediaError(f"Could not write '{path.name}': {spec.label} is written to a folder.")
    try:
        options = spec.encoder_options(crf, preset)
    except MediaError as error:
        raise MediaError(f"Could not write '{path.name}': {error}") from error
    rate = _frame_rate(fps, path)
    first, frames, total = _first_frame(frames, total, path)
    height, width = first.shape[:2]
    scale, coded_w, coded_h, notes = spec.legal_frame(width, height)
    muxer = MUXERS[path.suffix.lower()]
    container_options = {}
    if muxer in ("mp4", "mov"):
        container_options["movflags"] = "+faststart+use_metadata_tags"

    with _atomic_output(path) as temp, _writing(path):
        container = av.open(str(temp), "w", format=muxer, container_options=container_options)
        try:
            for key, value in (metadata or {}).items():
                container.metadata[key] = value
            stream = container.add_stream(spec.encoder, rate=rate)
            stream.width, stream.height = coded_w, coded_h
            stream.pix_fmt = spec.pix_fmt
            stream.options = options
            if spec.encoder == "libsvtav1":
                os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its setup unless told
            if spec.encoder == "libx265" and muxer in ("mp4", "mov"):
                stream.codec_tag = "hvc1"  # what Apple's players and editors look for
            ctx = stream.codec_context
            ctx.time_base = 1 / rate
            ctx.thread_count = 0  # as many as there are cores, as the ffmpeg command line
            ctx.thread_type = "AUTO"
            # Tag what we convert with, so players decode the colours we meant.
            ctx.colorspace = ctx.color_primaries = ctx.color_trc = 1  # BT.709
            ctx.color_range = 1  # limited ("MPEG") range
            last_dts = None
            for index, frame in enumerate(frames):
                frame = _checked_frame(frame, path, index, first.shape)
                frame = _legal(frame, scale, coded_w, coded_h)
                video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(
                    format=spec.pix_fmt, dst_colorspace="ITU709", dst_color_range="MPEG"
                )
                video_frame.pts = index
                last_dts = _mux(container, stream.encode(video_frame), last_dts)
                if progress is not None:
                    progress(index + 1, total)
            _mux(container, stream.encode(None), last_dts)  # flush delayed (B-)frames
        except BaseException:
            with contextlib.suppress(av.FFmpegError, OSError):
                container.close()
            raise
        container.close()
    return notes


def _mux(container, packets, last_dts: int | None) -> int | None:
    """Mux packets in order; returns the last decode time stamp.

    libx265 leaves the decode time of a clip of one or two frames unset (a random number);
    a dts after its pts, or further before it than any encoder reorders (time stamps count
    frames here), is set to follow the previous one.
    """
    for packet in packets:
        pts, dts = packet.pts, packet.dts
        if pts is not None and (dts is None or not pts - _MAX_REORDER <= dts <= pts):
            packet.dts = packet.pts if last_dts is None else max(last_dts + 1, packet.pts)
        last_dts = packet.dts
        container.mux(packet)
    return last_dts


def write_image_sequence(
    folder: str | os.PathLike,
    frames: np.ndarray | Iterable[np.ndarray],
    codec: str = "png",
    *,
    metadata: dict[str, str] | None = None,
    progress: ProgressFn | None = None,
    total: int | None = None,
    prefix: str = "frame_",
) -> list[Path]:
    """Write frames as `folder/<prefix>00000.png` (or `.tif` for "tiff16") through FFmpeg.

    PNG is 8-bit RGB; TIFF is 16-bit RGB (each 8-bit value v stored as v * 257, exact).
    `metadata` is written into every frame: PNG text chunks, a TIFF image description
    (the "kinema" key's value, or all of them as JSON), so any frame tells how it was made.

    Atomic as a whole: frames are encoded into a hidden folder inside `folder` and moved
    into place only once every one is written, so a failed or cancelled export leaves an
    earlier sequence whole. Stale `<prefix>NNNNN` files of an earlier, longer render are
    then removed. Returns the paths in order.
    """
    from .codecs import get_codec

    spec = get_codec(codec)
    folder = Path(folder)
    if not spec.sequence:
        raise MediaError(f"Could not write '{folder.name}': {spec.label} is not a sequence.")
    if folder.exists() and not folder.is_dir():
        raise MediaError(f"Could not write frames to '{folder.name}': it is a file, not a folder.")
    first, frames, total = _first_frame(frames, total, folder)
    digits = max(5, len(str(max(total - 1, 0))))
    ext = spec.image_ext
    names: list[str] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        staging = folder / f".kinema-{secrets.token_hex(4)}.partial"
        staging.mkdir()
    except OSError as error:
        raise MediaError(f"Could not write '{folder.name}': {_os_reason(error)}.") from error
    # Files are written and fsynced on a few threads while the encoder goes on: syncing a
    # 16-bit 1080p frame (12 MB) to disk takes longer than encoding it.
    writer = _FrameWriter(folder)
    try:
        with _writing(folder):
            height, width = first.shape[:2]
            ctx = av.CodecContext.create(spec.encoder, "w")
            ctx.width, ctx.height, ctx.pix_fmt = width, height, spec.pix_fmt
            ctx.time_base = Fraction(1, 24)
            ctx.options = spec.encoder_options()
            ctx.thread_count = 0
            ctx.thread_type = "AUTO"

            def store(packets) -> None:
                for packet in packets:
                    parts = _tag_image(bytes(packet), spec.encoder, metadata)
                    name = f"{prefix}{packet.pts:0{digits}d}{ext}"
                    writer.write(staging / name, parts)  # a failed earlier write raises here
                    names.append(name)
                    if progress is not None:
                        progress(len(names), total)

            for index, frame in enumerate(frames):
                frame = _checked_frame(frame, folder, index, first.shape)
                if spec.pix_fmt == "rgb48le":  # v * 257 maps 0..255 onto 0..65535 exactly
                    wide = np.multiply(frame, 257, dtype=np.uint16)
                    image = av.VideoFrame.from_ndarray(wide, format="rgb48le")
                else:
                    image = av.VideoFrame.from_ndarray(frame, format="rgb24")
                image.pts = index
                store(ctx.encode(image))
            store(ctx.encode(None))
            writer.close()
        names.sort()
        for name in names:
            os.replace(staging / name, folder / name)
    except OSError as error:
        raise MediaError(f"Could not write '{folder.name}': {_os_reason(error)}.") from error
    finally:
        writer.close(abandon=True)
        shutil.rmtree(staging, ignore_errors=True)
    _remove_stale(folder, prefix, ext, set(names))
    return [folder / name for name in names]


def write_png_sequence(
    folder: str | os.PathLike,
    frames: np.ndarray | Iterable[np.ndarray],
    progress: ProgressFn | None = None,
    prefix: str = "frame_",
    metadata: dict[str, str] | None = None,
) -> list[Path]:
    """Write frames as `folder/<prefix>00000.png`, ... and return the paths in order.

    OpenCV encodes (fast, for takes); `metadata` goes into each file as PNG text chunks.
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
        write_image(target, _checked_frame(frame, target, index, first.shape), metadata)
        written.append(target)
        if progress is not None:
            progress(index + 1, total)
    _remove_stale(folder, prefix, ".png", {p.name for p in written})
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
        if isinstance(error, OSError):  # FFmpeg's write failed: the disk, not the encoder
            typed = storage_error(error, f"'{path.name}'", elsewhere="write the file")
            if typed is not None:
                raise typed from error
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
        raise _write_error(path, error) from error
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
        raise _write_error(path, error) from error


def _write_error(path: Path, error: OSError) -> KinemaError:
    """A failed write as a typed error: a full disk or a read-only folder with advice (the
    file already there, if any, is untouched), anything else as a `MediaError`."""
    kept = "Nothing was replaced." if path.exists() else ""
    typed = storage_error(error, f"'{path.name}'", kept, elsewhere="write the file")
    return typed or MediaError(f"Could not write '{path.name}': {_os_reason(error)}.")


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
    order = [2, 1, 0, *range(3, channels)] if bgr and channels >= 3 else list(range(channels))
    has_alpha = channels in (2, 4)
    if image.dtype == np.uint8 and not has_alpha:
        rgb = image[..., order] if channels == 3 else np.repeat(image, 3, axis=2)
        return np.ascontiguousarray(rgb)

    if image.dtype not in (np.uint8, np.uint16, np.float16, np.float32, np.float64):
        raise MediaError(
            f"Could not read '{path.name}': images with {image.dtype} samples are not supported."
        )
    # Converted a band of rows at a time: a 50-megapixel 16-bit RGBA image as float32 whole
    # would need 800 MB on top of itself.
    out = np.empty((*image.shape[:2], 3), np.uint8)
    step = max(1, (1 << 22) // max(1, image.shape[1] * channels))
    for top in range(0, image.shape[0], step):
        out[top : top + step] = _band_to_rgb8(image[top : top + step][..., order], has_alpha)
    return out


def _band_to_rgb8(band: np.ndarray, has_alpha: bool) -> np.ndarray:
    if band.dtype == np.uint8:
        unit = band.astype(np.float32) / 255.0
    elif band.dtype == np.uint16:
        unit = band.astype(np.float32) / 65535.0
    else:
        unit = np.nan_to_num(band.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    unit = np.clip(unit, 0.0, 1.0)
    if has_alpha:
        unit = unit[..., :-1] * unit[..., -1:]  # composite over black
    if unit.shape[2] == 1:
        unit = np.repeat(unit, 3, axis=2)
    return np.round(unit * 255.0).astype(np.uint8)


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


def _legal(frame: np.ndarray, scale: int, width: int, height: int) -> np.ndarray:
    """The frame scaled by the whole number `scale` (each pixel repeated), then padded on
    the right and bottom to `width` x `height` by repeating the last column and row."""
    if scale > 1:
        frame = np.repeat(np.repeat(frame, scale, axis=0), scale, axis=1)
    pad_h, pad_w = height - frame.shape[0], width - frame.shape[1]
    if pad_h or pad_w:
        frame = np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return frame


class _FrameWriter:
    """A few daemon threads that write and fsync staged frames while the encoder goes on.

    At most 8 frames wait; `write` raises the first failed write's error, `close` waits for
    the rest (or, abandoning, drops what has not started). Plain threads with `daemon` set,
    not a ThreadPoolExecutor: that would register the calling thread (a Qt pool's, in the
    studio) with `threading` for good.
    """

    def __init__(self, where: Path, workers: int = 4):
        self._where = where
        self._jobs: queue.Queue = queue.Queue(maxsize=8)
        self._error: BaseException | None = None
        self._abandon = False
        self._finished = threading.Semaphore(0)  # one release per worker that has stopped
        self._threads = [
            threading.Thread(target=self._run, name="kinema-frames", daemon=True)
            for _ in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            if self._error is None and not self._abandon:
                try:
                    _write_synced(*job, self._where)
                except BaseException as error:  # handed to the encoding thread
                    self._error = error
        self._finished.release()

    def write(self, path: Path, parts: list) -> None:
        if self._error is not None:
            raise self._error
        self._jobs.put((path, parts))

    def close(self, abandon: bool = False) -> None:
        if not self._threads:
            return
        self._abandon = abandon
        for _ in self._threads:
            self._jobs.put(None)
        for _ in self._threads:  # not join(): it too would register the calling thread
            self._finished.acquire()
        self._threads = []
        if self._error is not None and not abandon:
            raise self._error


def _write_synced(path: Path, parts: list[bytes], where: Path) -> None:
    """Write and fsync one file from its parts (a frame staged for an atomic sequence)."""
    try:
        with open(path, "wb") as handle:
            for part in parts:
                handle.write(part)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise MediaError(f"Could not write '{where.name}': {_os_reason(error)}.") from error


def _remove_stale(folder: Path, prefix: str, ext: str, keep: set[str]) -> None:
    """Delete `<prefix>NNNNN<ext>` files of an earlier, longer sequence."""
    stale = re.compile(re.escape(prefix) + r"\d+" + re.escape(ext))
    for old in folder.iterdir():
        if stale.fullmatch(old.name) and old.name not in keep and old.is_file():
            old.unlink()


# ---------------------------------------------------------------- text inside images

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TIFF_DESCRIPTION = 270  # the ImageDescription tag


def _tag_image(data: bytes, encoder: str, metadata: dict[str, str] | None) -> list[bytes]:
    """An encoded PNG or TIFF file with `metadata` written into it, as parts to write."""
    if not metadata:
        return [data]
    if encoder == "png":
        return _png_with_text(data, metadata)
    text = metadata.get("kinema") or json.dumps(metadata, ensure_ascii=True)
    return _tiff_with_description(data, text)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_with_text(data: bytes, metadata: dict[str, str]) -> list:
    """Insert one text chunk per key after the header: zTXt (compressed) for long values."""
    assert data[:8] == _PNG_SIGNATURE, "not a PNG"
    header_end = 8 + 8 + struct.unpack(">I", data[8:12])[0] + 4  # signature + IHDR chunk
    chunks = []
    for key, value in metadata.items():
        name = key.encode("latin-1")[:79]
        body = value.encode("latin-1", errors="replace")
        if len(body) > 1024:
            chunks.append(_png_chunk(b"zTXt", name + b"\0\0" + zlib.compress(body, 9)))
        else:
            chunks.append(_png_chunk(b"tEXt", name + b"\0" + body))
    view = memoryview(data)
    return [view[:header_end], *chunks, view[header_end:]]


def _tiff_with_description(data: bytes, text: str) -> list:
    """A little-endian TIFF with an ImageDescription: the text and a new first IFD (with the
    tag added in order) are appended, the header pointed at it; the rest stays in place."""
    assert data[:4] == b"II*\0", "not a little-endian TIFF"
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    entries = [data[ifd + 2 + 12 * i : ifd + 14 + 12 * i] for i in range(count)]
    (next_ifd,) = struct.unpack_from("<I", data, ifd + 2 + 12 * count)
    size = len(data) + len(data) % 2
    value = text.encode("ascii", errors="replace") + b"\0"
    value += b"\0" * (len(value) % 2)
    entries = [e for e in entries if struct.unpack_from("<H", e)[0] != _TIFF_DESCRIPTION]
    entries.append(struct.pack("<HHII", _TIFF_DESCRIPTION, 2, len(value), size))
    entries.sort(key=lambda e: struct.unpack_from("<H", e)[0])
    header = data[:4] + struct.pack("<I", size + len(value))  # the new IFD comes last
    table = struct.pack("<H", len(entries)) + b"".join(entries) + struct.pack("<I", next_ifd)
    view = memoryview(data)
    return [header, view[8:], b"\0" * (len(data) % 2), value, table]


def read_image_text(path: str | os.PathLike) -> dict[str, str]:
    """The text an image carries: PNG text chunks, or a TIFF's image description (under
    "ImageDescription"). Empty for other images; `MediaError` when the file is unreadable."""
    path = _readable_file(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise MediaError(f"Could not read '{path.name}': {_os_reason(error)}.") from error
    text: dict[str, str] = {}
    if data[:8] == _PNG_SIGNATURE:
        at = 8
        while at + 12 <= len(data):
            (length,) = struct.unpack_from(">I", data, at)
            kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
            if kind == b"tEXt" and b"\0" in body:
                key, value = body.split(b"\0", 1)
                text[key.decode("latin-1")] = value.decode("latin-1")
            elif kind == b"zTXt" and b"\0" in body:
                key, rest = body.split(b"\0", 1)
                with contextlib.suppress(zlib.error):
                    text[key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
            elif kind in (b"IDAT", b"IEND"):
                break
            at += 12 + length
    elif data[:4] in (b"II*\0", b"MM\0*"):
        with contextlib.suppress(av.FFmpegError, StopIteration, IndexError):
            with av.open(str(path)) as container:
                frame = next(container.decode(video=0))
                if "ImageDescription" in frame.metadata:
                    text["ImageDescription"] = frame.metadata["ImageDescription"]
    return text
