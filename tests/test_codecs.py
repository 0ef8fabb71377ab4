"""Every delivery codec: written, read back with PyAV, and checked with ffprobe.

Clips are a few frames at postage-stamp sizes so the whole table encodes in seconds.
ffprobe checks skip only where ffprobe is not installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import av
import numpy as np
import pytest

from engine.codecs import CODECS, codec_for_path, get_codec
from engine.errors import MediaError
from engine.media import read_image, read_image_text, read_video, write_image_sequence, write_video

VIDEO = [name for name, codec in CODECS.items() if not codec.sequence]
SEQUENCES = [name for name, codec in CODECS.items() if codec.sequence]
FRAMES = 5
needs_ffprobe = pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe not installed")


def gradient_clip(frames: int = FRAMES, height: int = 48, width: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    t = np.arange(frames, dtype=np.float32)[:, None, None]
    red = 128 + 80 * np.sin(x / width * 2 * np.pi + t / 3)
    green = 128 + 80 * np.cos(y / height * 2 * np.pi - t / 4)
    blue = np.broadcast_to(60 + 8 * t, red.shape)
    return np.stack([red, green, blue], axis=-1).round().astype(np.uint8)


def ffprobe(path) -> tuple[dict, dict]:
    """The first video stream (packets counted) and the format's tags."""
    out = subprocess.run(
        [
            "ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0",
            "-show_entries",
            "stream=codec_name,profile,pix_fmt,width,height,nb_read_packets,r_frame_rate"
            ":format_tags",
            "-of", "json", str(path),
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    data = json.loads(out.stdout)
    return data["streams"][0], data["format"].get("tags", {})


#: what the decoder reports; ProRes 4444 always decodes to 12 bits
DECODED_PIX_FMT = {"prores-4444": "yuv444p12le"}
#: the codec name ffprobe and PyAV's decoders give each
CODEC_NAME = {
    "h264": "h264",
    "h265": "hevc",
    "prores-hq": "prores",
    "prores-4444": "prores",
    "dnxhr-hq": "dnxhd",
    "dnxhr-hqx": "dnxhd",
    "vp9": "vp9",
    "av1": "av1",
}


@needs_ffprobe
@pytest.mark.parametrize("name", VIDEO)
def test_each_codec_writes_what_ffprobe_and_pyav_expect(tmp_path, name):
    codec = get_codec(name)
    clip = gradient_clip()
    path = tmp_path / f"clip{codec.extensions[0]}"
    notes = write_video(
        path, clip, 24.0, name, metadata={"kinema": '{"seed": 7}'}, preset=None
    )  # fmt: skip
    assert path.is_file() and [p.name for p in tmp_path.iterdir()] == [path.name]

    stream, tags = ffprobe(path)
    assert stream["codec_name"] == CODEC_NAME[name]
    if codec.profile:
        assert stream["profile"] == codec.profile
    assert stream["pix_fmt"] == DECODED_PIX_FMT.get(name, codec.pix_fmt)
    assert int(stream["nb_read_packets"]) == FRAMES
    assert stream["r_frame_rate"] == "24/1"
    assert {k.lower(): v for k, v in tags.items()}["kinema"] == '{"seed": 7}'

    frames, fps = read_video(path)
    if codec.min_size == (1, 1):
        assert notes == [] and frames.shape == clip.shape
        assert np.abs(frames.astype(int) - clip).mean() < 4
    else:  # DNxHR: 64x48 is below its minimum and is scaled up 4x, with a note
        assert frames.shape == (FRAMES, 192, 256, 3) and "scaled 4x" in notes[0]
    assert fps == pytest.approx(24.0)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec.canonical_name == CODEC_NAME[name]
        assert stream.frames in (FRAMES, 0)  # WebM does not store a frame count
        assert stream.average_rate == 24


@pytest.mark.parametrize("name", VIDEO)
def test_odd_sizes_are_made_legal_per_codec_with_a_note(tmp_path, name):
    codec = get_codec(name)
    clip = gradient_clip(frames=2, height=49, width=65)
    path = tmp_path / f"odd{codec.extensions[0]}"
    notes = write_video(path, clip, 12.0, name)
    frames, _ = read_video(path)
    scale, width, height, expected = codec.legal_frame(65, 49)
    assert notes == expected
    assert frames.shape == (2, height, width, 3)
    sub_x, sub_y = codec.chroma
    assert width % sub_x == 0 and height % sub_y == 0
    assert width >= codec.min_size[0] and height >= codec.min_size[1]
    if codec.chroma == (1, 1) and scale == 1:
        assert notes == [] and (width, height) == (65, 49)  # 4:4:4 keeps any size
    else:
        assert notes, "a changed size always comes with a note"
    # the picture is the clip's, scaled by a whole number and padded at the edge
    top_left = frames[:, : 49 * scale : scale, : 65 * scale : scale].astype(int)
    assert np.abs(top_left - clip).mean() < 6


@pytest.mark.parametrize("name", VIDEO)
def test_one_and_two_frame_clips_encode(tmp_path, name):
    # libx265 leaves the decode times of such short clips unset: they are made sane
    codec = get_codec(name)
    for count in (1, 2, 1, 2, 1, 2):
        path = tmp_path / f"short{codec.extensions[0]}"
        write_video(path, gradient_clip(frames=count), 24.0, name)
        assert len(read_video(path)[0]) == count


@needs_ffprobe
@pytest.mark.parametrize("name", SEQUENCES)
def test_image_sequences_carry_the_text_and_their_depth(tmp_path, name):
    clip = gradient_clip(height=49, width=65)
    folder = tmp_path / "frames"
    paths = write_image_sequence(folder, clip, name, metadata={"kinema": '{"seed": 7}'})
    assert [p.name for p in sorted(folder.iterdir())] == [p.name for p in paths]
    assert len(paths) == FRAMES
    ext = CODECS[name].image_ext
    assert all(p.suffix == ext for p in paths)
    stream, _ = ffprobe(paths[0])
    assert stream["codec_name"] == CODECS[name].encoder
    assert stream["pix_fmt"] == CODECS[name].pix_fmt
    assert (stream["width"], stream["height"]) == (65, 49)
    text = read_image_text(paths[-1])
    assert '{"seed": 7}' in text.values()
    for path, frame in zip(paths, clip):  # lossless, 16-bit included
        assert np.array_equal(read_image(path), frame)
    with av.open(str(paths[0])) as container:
        decoded = next(container.decode(video=0))
        assert '{"seed": 7}' in decoded.metadata.values()
        if name == "tiff16":
            wide = decoded.to_ndarray()
            assert wide.dtype == np.uint16 and np.array_equal(wide, clip[0].astype(np.uint16) * 257)


def test_a_failed_sequence_leaves_the_earlier_one_whole(tmp_path):
    folder = tmp_path / "frames"
    good = write_image_sequence(folder, gradient_clip(), "png")
    before = {p.name: p.read_bytes() for p in good}

    def crashing():
        yield from gradient_clip(frames=3)[:, :, :, ::-1]
        raise RuntimeError("model crashed")

    with pytest.raises(RuntimeError):
        write_image_sequence(folder, crashing(), "png")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_a_failed_encode_leaves_the_good_file(tmp_path):
    path = tmp_path / "cut.mov"
    write_video(path, gradient_clip(), 24.0, "prores-hq")
    good = path.read_bytes()

    def crashing():
        yield gradient_clip()[0]
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError):
        write_video(path, crashing(), 24.0, "prores-hq")
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["cut.mov"]


def test_containers_and_settings_are_checked_with_a_sentence(tmp_path):
    clip = gradient_clip(frames=1)
    with pytest.raises(MediaError, match=r"ProRes 422 HQ .* goes in a \.mov file"):
        write_video(tmp_path / "x.mp4", clip, 24.0, "prores-hq")
    with pytest.raises(MediaError, match="takes no CRF"):
        write_video(tmp_path / "x.mov", clip, 24.0, "dnxhr-hq", crf=10)
    with pytest.raises(MediaError, match="CRF from 0 to 63"):
        write_video(tmp_path / "x.webm", clip, 24.0, "vp9", crf=70)
    with pytest.raises(MediaError, match="Unknown preset"):
        write_video(tmp_path / "x.mp4", clip, 24.0, "h265", preset="warp")
    with pytest.raises(MediaError, match="Unknown codec 'mjpeg'"):
        get_codec("mjpeg")
    assert list(tmp_path.iterdir()) == []
    from pathlib import Path

    assert codec_for_path(Path("a.webm")).name == "vp9"
    assert codec_for_path(Path("a.mov")).name == "h264"
    assert codec_for_path(Path("frames")).name == "png"
    with pytest.raises(MediaError, match="goes into a folder"):
        codec_for_path(Path("a.tif"), "tiff16")


def test_presets_map_to_each_encoders_own_speed_setting():
    assert get_codec("h264").encoder_options(None, "fast")["preset"] == "fast"
    assert get_codec("av1").encoder_options(None, "medium")["preset"] == "8"
    assert get_codec("vp9").encoder_options(20, "ultrafast")["cpu-used"] == "8"
    assert get_codec("vp9").encoder_options(20, None)["crf"] == "20"
    assert get_codec("dnxhr-hqx").encoder_options() == {"profile": "dnxhr_hqx"}
