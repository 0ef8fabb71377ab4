"""Media in and out: round trips, what players need, clear errors, atomic writes."""

from __future__ import annotations

import struct
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from engine.errors import MediaError
from engine.media import (
    VideoInfo,
    probe,
    read_image,
    read_media,
    read_video,
    write_image,
    write_mp4,
    write_png_sequence,
)


def smooth_clip(frames: int = 24, height: int = 48, width: int = 64) -> np.ndarray:
    """Gradients drifting over time: content H.264 keeps well at CRF 18."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    t = np.arange(frames, dtype=np.float32)[:, None, None]
    red = 128 + 80 * np.sin(x / width * 2 * np.pi + t / 6)
    green = 128 + 80 * np.cos(y / height * 2 * np.pi - t / 8)
    blue = np.broadcast_to(60 + 2 * t, red.shape)
    return np.stack([red, green, blue], axis=-1).round().astype(np.uint8)


def leftovers(folder) -> list[str]:
    """Temporary files a write may have left behind."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".part"]


# ---------------------------------------------------------------- MP4


def test_mp4_round_trip_keeps_count_and_content(tmp_path):
    clip = smooth_clip()
    path = tmp_path / "clip.mp4"
    write_mp4(path, clip, 24.0)
    frames, fps = read_video(path)
    assert frames.shape == clip.shape and frames.dtype == np.uint8
    assert fps == pytest.approx(24.0)
    assert np.abs(frames.astype(int) - clip).mean() < 3
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("fps", [24.0, 12.0, 23.976])
def test_probe_reports_h264_yuv420p_frames_and_fps(tmp_path, fps):
    path = tmp_path / "clip.mp4"
    write_mp4(path, smooth_clip(frames=10), fps, crf=23, preset="ultrafast")
    info = probe(path)
    assert isinstance(info, VideoInfo)
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert (info.width, info.height, info.frames) == (64, 48, 10)
    assert info.fps == pytest.approx(fps, abs=1e-3)
    assert info.duration == pytest.approx(10 / fps, abs=1e-2)


def test_ntsc_rate_is_stored_exactly(tmp_path):
    path = tmp_path / "clip.mp4"
    write_mp4(path, smooth_clip(frames=3), 23.976, preset="ultrafast")
    with av.open(str(path)) as container:
        assert container.streams.video[0].average_rate == Fraction(24000, 1001)


def test_odd_size_is_padded_to_even_with_edge_pixels(tmp_path):
    clip = smooth_clip(frames=4, height=49, width=65)
    path = tmp_path / "odd.mov"
    write_mp4(path, clip, 24.0, crf=0, preset="ultrafast")
    info = probe(path)
    assert (info.width, info.height) == (66, 50)
    frames, _ = read_video(path)
    assert frames.shape == (4, 50, 66, 3)
    assert np.abs(frames[:, :49, :65].astype(int) - clip).mean() < 3
    # the added column repeats its neighbour, it is not black
    assert np.abs(frames[:, :49, 65].astype(int) - clip[:, :, 64]).mean() < 6


def test_generator_streams_into_the_encoder_with_progress(tmp_path):
    clip = smooth_clip(frames=6)
    calls = []
    write_mp4(
        tmp_path / "gen.mp4",
        (frame for frame in clip),
        24.0,
        preset="ultrafast",
        total=len(clip),
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(i, 6) for i in range(1, 7)]
    assert probe(tmp_path / "gen.mp4").frames == 6


def test_progress_total_is_zero_when_unknown(tmp_path):
    calls = []
    write_mp4(
        tmp_path / "gen.mp4",
        iter(smooth_clip(frames=3)),
        24.0,
        preset="ultrafast",
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(1, 0), (2, 0), (3, 0)]


def test_failing_frame_source_leaves_good_file_untouched(tmp_path):
    path = tmp_path / "take.mp4"
    write_mp4(path, smooth_clip(frames=4), 24.0, preset="ultrafast")
    good = path.read_bytes()

    def frames_then_crash():
        yield from smooth_clip(frames=3)
        raise RuntimeError("model crashed")

    with pytest.raises(RuntimeError, match="model crashed"):
        write_mp4(path, frames_then_crash(), 24.0, preset="ultrafast")
    assert path.read_bytes() == good
    assert leftovers(tmp_path) == []


def test_bad_frames_raise_media_error_and_write_nothing(tmp_path):
    path = tmp_path / "bad.mp4"
    clip = smooth_clip(frames=3)
    with pytest.raises(MediaError, match=r"'bad\.mp4'.*no frames"):
        write_mp4(path, [], 24.0)
    with pytest.raises(MediaError, match="float32"):
        write_mp4(path, clip.astype(np.float32), 24.0)
    with pytest.raises(MediaError, match=r"\(T, H, W, 3\)"):
        write_mp4(path, clip[0], 24.0)
    with pytest.raises(MediaError, match="frame 1 is 32x48"):
        write_mp4(path, [clip[0], clip[1, :, :32]], 24.0, preset="ultrafast")
    with pytest.raises(MediaError, match="'bad.avi'"):
        write_mp4(tmp_path / "bad.avi", clip, 24.0)
    with pytest.raises(MediaError, match="CRF"):
        write_mp4(path, clip, 24.0, crf=60)
    with pytest.raises(MediaError, match="fps"):
        write_mp4(path, clip, 0.0)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- reading videos


def test_read_video_max_frames_and_progress(tmp_path):
    path = tmp_path / "clip.mp4"
    write_mp4(path, smooth_clip(frames=8), 12.0, preset="ultrafast")
    calls = []
    frames, fps = read_video(path, max_frames=5, progress=lambda d, t: calls.append((d, t)))
    assert frames.shape[0] == 5 and fps == pytest.approx(12.0)
    assert calls == [(i, 5) for i in range(1, 6)]


def test_display_rotation_is_applied(tmp_path):
    path = tmp_path / "phone.mp4"
    image = np.zeros((32, 48, 3), np.uint8)
    image[:8, :8] = 255  # white top-left corner
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        stream.set_display_rotation(90)  # counter-clockwise, as a portrait phone clip
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    frames, _ = read_video(path)
    assert frames.shape == (1, 48, 32, 3)
    assert frames[0, -4, 4].mean() > 200  # the corner turned to the bottom left
    assert frames[0, 4, 4].mean() < 50


def test_random_bytes_named_mp4_raise_media_error(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes())
    with pytest.raises(MediaError, match=r"Could not read 'clip\.mp4'.*not a video"):
        read_video(path)
    with pytest.raises(MediaError, match=r"'clip\.mp4'"):
        probe(path)


def test_truncated_mp4_raises_media_error(tmp_path):
    good = tmp_path / "good.mp4"
    clip = np.random.default_rng(1).integers(0, 256, (12, 48, 64, 3), np.uint8)
    write_mp4(good, clip, 24.0, preset="ultrafast")
    data = good.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match=r"Could not read 'cut\.mp4'.*(cut short|not a video)"):
        read_video(cut)


@pytest.mark.parametrize("reader", [read_video, read_image, probe, read_media])
def test_missing_empty_and_folder_paths_raise_media_error(tmp_path, reader):
    with pytest.raises(MediaError, match=r"'nothing\.mp4'.*does not exist"):
        reader(tmp_path / "nothing.mp4")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(MediaError, match=r"'empty\.png'.*empty"):
        reader(tmp_path / "empty.png")
    (tmp_path / "shots.mp4").mkdir()
    with pytest.raises(MediaError, match=r"'shots\.mp4'.*folder"):
        reader(tmp_path / "shots.mp4")


def test_read_media_tells_images_from_videos(tmp_path):
    clip = smooth_clip(frames=3)
    write_mp4(tmp_path / "clip.mp4", clip, 24.0, preset="ultrafast")
    write_image(tmp_path / "key.png", clip[0])
    frames, fps = read_media(tmp_path / "clip.mp4")
    assert frames.shape == (3, 48, 64, 3) and fps == pytest.approx(24.0)
    frames, fps = read_media(tmp_path / "key.png")
    assert fps is None and np.array_equal(frames, clip[:1])
    (tmp_path / "key.png").rename(tmp_path / "key.unknown")
    frames, fps = read_media(tmp_path / "key.unknown")
    assert fps is None and np.array_equal(frames, clip[:1])


# ---------------------------------------------------------------- images


def test_png_sequence_round_trip_is_exact(tmp_path):
    clip = smooth_clip(frames=5, height=17, width=23)
    folder = tmp_path / "frames"
    calls = []
    paths = write_png_sequence(folder, clip, progress=lambda d, t: calls.append((d, t)))
    assert [p.name for p in paths] == [f"frame_{i:05d}.png" for i in range(5)]
    assert calls == [(i, 5) for i in range(1, 6)]
    assert np.array_equal(np.stack([read_image(p) for p in paths]), clip)
    assert leftovers(folder) == []


def test_png_sequence_replaces_a_longer_earlier_render(tmp_path):
    folder = tmp_path / "frames"
    (folder).mkdir()
    (folder / "notes.txt").write_text("mine")
    write_png_sequence(folder, smooth_clip(frames=4, height=8, width=8))
    write_png_sequence(folder, smooth_clip(frames=2, height=8, width=8))
    assert sorted(p.name for p in folder.iterdir()) == [
        "frame_00000.png",
        "frame_00001.png",
        "notes.txt",
    ]


def test_write_image_is_atomic_and_checks_its_input(tmp_path):
    path = tmp_path / "key.png"
    frame = smooth_clip(frames=1)[0]
    write_image(path, frame)
    good = path.read_bytes()
    with pytest.raises(MediaError, match=r"'key\.png'.*\(H, W, 3\)"):
        write_image(path, frame[..., 0])
    with pytest.raises(MediaError, match=r"'key\.gif'"):
        write_image(tmp_path / "key.gif", frame)
    assert path.read_bytes() == good and leftovers(tmp_path) == []


def test_png_with_alpha_is_composited_over_black(tmp_path):
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[..., :3] = (200, 100, 50)  # RGB
    rgba[..., 3] = 255
    rgba[0, 0, 3] = 0  # transparent
    rgba[1, 1, 3] = 128  # half
    cv2.imwrite(str(tmp_path / "a.png"), rgba[..., [2, 1, 0, 3]])
    image = read_image(tmp_path / "a.png")
    assert image.shape == (4, 6, 3) and image.dtype == np.uint8
    assert tuple(image[2, 2]) == (200, 100, 50)
    assert tuple(image[0, 0]) == (0, 0, 0)
    assert np.abs(image[1, 1].astype(int) - (100, 50, 25)).max() <= 1


def test_gray_and_16_bit_png_become_rgb8(tmp_path):
    gray = np.arange(24, dtype=np.uint8).reshape(4, 6) * 10
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    image = read_image(tmp_path / "gray.png")
    assert image.shape == (4, 6, 3) and np.array_equal(image[..., 1], gray)

    deep = np.zeros((4, 6, 3), np.uint16)
    deep[..., 0] = 65535  # blue in BGR
    deep[..., 2] = 257 * 100  # red
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    image = read_image(tmp_path / "deep.png")
    assert image.dtype == np.uint8 and tuple(image[0, 0]) == (100, 0, 255)


def test_jpeg_reads_close_and_honours_exif_orientation(tmp_path):
    frame = smooth_clip(frames=1)[0]
    write_image(tmp_path / "key.jpg", frame)
    image = read_image(tmp_path / "key.jpg")
    assert image.shape == frame.shape
    assert np.abs(image.astype(int) - frame).mean() < 3

    # The same JPEG with an EXIF block saying "rotate 90 degrees clockwise to display".
    data = (tmp_path / "key.jpg").read_bytes()
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + struct.pack(">HHHIHHI", 1, 0x0112, 3, 1, 6, 0, 0)
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + 6 + len(tiff)) + b"Exif\x00\x00" + tiff
    (tmp_path / "phone.jpg").write_bytes(data[:2] + app1 + data[2:])
    turned = read_image(tmp_path / "phone.jpg")
    assert turned.shape == (64, 48, 3)
    assert np.abs(turned.astype(int) - np.rot90(image, k=-1)).mean() < 1


def test_corrupt_image_raises_media_error(tmp_path):
    path = tmp_path / "key.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    with pytest.raises(MediaError, match=r"Could not read 'key\.png'.*not an image"):
        read_image(path)
