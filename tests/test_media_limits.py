"""Images, videos and model files a user (or a damaged disk) hands over: sized before use.

Before: a 20000x20000 PNG keyframe peaked at 3.5 GB; a 30 KB 1x10000 PNG made
`fit_keyframe` take 7.9 GB; a truncated JPEG decoded silently (grey at the bottom); a
truncated MP4 was probed with the frame count its header declares; a damaged optional
`preview.safetensors` disabled the whole built-in backend; a VAE config asking for 360 GB
failed as an internal error.
"""

from __future__ import annotations

import json
import struct
import tracemalloc
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.controls import fit_keyframe
from engine.errors import MediaError, ModelLoadError
from engine.image_header import image_size, jpeg_is_complete
from engine.media import probe, read_image, read_keyframe, write_image, write_mp4


def peak_mb(call) -> float:
    tracemalloc.start()
    try:
        call()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak / 2**20


def png_declaring(path: Path, width: int, height: int) -> Path:
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = b"IDAT" + zlib.compress(b"\x00" * 64)
    body = b"".join(
        struct.pack(">I", len(c) - 4) + c + struct.pack(">I", zlib.crc32(c)) for c in (ihdr, idat)
    )
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".tif", ".webp"])
def test_headers_give_the_size_before_decoding(tmp_path, ext):
    image = np.random.default_rng(1).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    path = tmp_path / f"x{ext}"
    write_image(path, image)
    assert image_size(path.read_bytes()) == (53, 37)


def test_a_gif_header_gives_its_size():
    assert image_size(b"GIF89a" + struct.pack("<HH", 300, 200) + b"\x00" * 8) == (300, 200)


def test_an_image_past_the_pixel_budget_is_refused_before_decoding(tmp_path):
    path = png_declaring(tmp_path / "huge.png", 20_000, 20_000)
    with pytest.raises(MediaError, match="20000x20000 .400 megapixels"):
        read_image(path)
    assert peak_mb(lambda: pytest.raises(MediaError, read_image, path)) < 8


def test_a_large_jpeg_is_decoded_downscaled(tmp_path, monkeypatch):
    path = tmp_path / "photo.jpg"
    write_image(path, np.full((300, 400, 3), 90, np.uint8))
    monkeypatch.setattr("engine.media.MAX_IMAGE_PIXELS", 40_000)  # 120,000 px is "too large"
    assert read_image(path).shape == (150, 200, 3)  # libjpeg scaled it while decoding


def test_a_narrow_strip_is_no_keyframe(tmp_path):
    path = tmp_path / "strip.png"
    write_image(path, np.zeros((10_000, 1, 3), np.uint8))
    with pytest.raises(MediaError, match="1x10000.*16 times"):
        read_keyframe(path)


def test_fitting_a_strip_never_makes_more_than_the_output():
    strip = np.zeros((10_000, 1, 3), np.uint8)
    peak = peak_mb(lambda: fit_keyframe(strip, 512, 288))
    assert peak < 8, f"{peak:.0f} MB"  # it took 7.9 GB
    assert fit_keyframe(strip, 512, 288).shape == (288, 512, 3)


def test_fit_still_fills_and_centres():
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, 50:150] = 255  # a white centre band half as wide as the image
    fitted = fit_keyframe(image, 64, 64)  # square: the centre 100x100 of the source
    assert fitted.shape == (64, 64, 3) and fitted[:, 2:-2].min() > 200


def test_a_truncated_jpeg_is_refused(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    _, data = cv2.imencode(".jpg", noise)
    whole = data.tobytes()
    assert jpeg_is_complete(whole)
    path = tmp_path / "cut.jpg"
    path.write_bytes(whole[: len(whole) * 3 // 4])
    with pytest.raises(MediaError, match="cut short"):
        read_image(path)


def test_a_jpeg_with_data_after_its_end_still_reads(tmp_path):
    _, data = cv2.imencode(".jpg", np.full((32, 32, 3), 200, np.uint8))
    path = tmp_path / "phone.jpg"
    path.write_bytes(data.tobytes() + b"\x00trailing maker data")  # as some phones write
    assert read_image(path).shape == (32, 32, 3)


def test_a_16_bit_alpha_png_converts_band_by_band_as_a_whole(tmp_path):
    rng = np.random.default_rng(2)
    rgba = rng.integers(0, 65536, (300, 7, 4), dtype=np.uint16)
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), rgba)
    unit = rgba[..., [2, 1, 0]].astype(np.float32) / 65535 * (rgba[..., 3:] / 65535)
    expected = np.round(unit * 255).astype(np.uint8)
    assert np.abs(read_image(path).astype(int) - expected).max() <= 1


def test_a_truncated_mp4_is_not_described_by_its_header(tmp_path):
    path = tmp_path / "full.mp4"
    frames = np.random.default_rng(0).integers(0, 256, (24, 64, 64, 3), dtype=np.uint8)
    write_mp4(path, frames, 24)
    assert probe(path).frames == 24
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    with pytest.raises(MediaError, match="cut short"):
        probe(cut)


# ----------------------------------------------------------------------------- model files


def test_a_damaged_preview_map_costs_a_fit_not_the_backend(tmp_path):
    from engine.models.preview import PREVIEW_FILE, load_preview

    (tmp_path / "vae.safetensors").write_bytes(b"x")
    (tmp_path / PREVIEW_FILE).write_bytes(b"\x00\x01 not safetensors")
    assert load_preview(tmp_path) is None


def test_a_vae_config_asking_for_hundreds_of_gigabytes_says_so(tmp_path):
    from engine.models.vae import CausalVideoVAE, VAEConfig

    cfg = VAEConfig(latent_channels=4, widths=(8, 8), encoder_blocks=(0, 0))
    cfg = VAEConfig(**{**cfg.to_dict(), "decoder_blocks": (0, 0), "frame_width": 8})
    path = tmp_path / "vae.safetensors"
    CausalVideoVAE(cfg).save(path)
    assert CausalVideoVAE.load(path).cfg.widths == (8, 8)
    config = json.loads(path.with_suffix(".json").read_text())
    config["widths"] = [100_000, 100_000]
    path.with_suffix(".json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=r"describes a model of \d+\.\d GB"):
        CausalVideoVAE.load(path)
