"""`kinema eval vae`: the report, the contact sheet, clean errors; a tiny random VAE on 2 clips."""

from __future__ import annotations

import hashlib
import json

import cv2
import numpy as np
import pytest
import torch

from engine.cli import main
from engine.errors import InvalidRequest
from engine.eval.sheet import contact_sheet, sample_indices, sheet_size
from engine.eval.vae import COLUMNS, clip_figures
from engine.models.vae import CausalVideoVAE, preset
from engine.synth import render_clip

FRAMES, SIZE = 5, 32


@pytest.fixture
def tiny_weights(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "tiny" / "vae.safetensors"
    CausalVideoVAE(preset("tiny")).save(path)
    return path


def _eval(weights, tmp_path, *extra) -> int:
    return main(
        [
            "eval",
            "vae",
            "--weights",
            str(weights),
            "--clips",
            "2",
            "--frames",
            str(FRAMES),
            "--size",
            str(SIZE),
            "--threads",
            "1",
            "--report",
            str(tmp_path / "out" / "vae.json"),
            *extra,
        ]
    )


def test_report_holds_every_clip_and_the_summary(tiny_weights, tmp_path, capsys):
    assert _eval(tiny_weights, tmp_path, "--verbose") == 0
    report = json.loads((tmp_path / "out" / "vae.json").read_text())
    assert report["model"] == "vae"
    assert report["weights_sha256"] == hashlib.sha256(tiny_weights.read_bytes()).hexdigest()
    assert report["seeds"] == [0, 1]
    assert report["clip"] == {"frames": FRAMES, "size": SIZE, "fps": 12.0}
    assert [clip["seed"] for clip in report["clips"]] == [0, 1]
    for clip in report["clips"]:
        assert clip["caption"]
        assert len(clip["psnr_per_frame_db"]) == FRAMES
        for key, _ in COLUMNS:
            assert key in clip
        assert 0 < clip["psnr_db"] < 100 and clip["ssim"] < 1
    for stat in ("mean", "median", "min", "max"):
        assert set(report[stat]) == {key for key, _ in COLUMNS}
    psnrs = [clip["psnr_db"] for clip in report["clips"]]
    assert report["min"]["psnr_db"] == pytest.approx(min(psnrs), abs=1e-3)
    assert report["mean"]["psnr_db"] == pytest.approx(np.mean(psnrs), abs=1e-3)
    assert len(report["psnr_by_frame_db"]) == FRAMES
    assert report["warp_ratio_of_means"] > 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any(line.startswith("mean ") for line in lines)
    assert sum(line.split()[0] in ("0", "1") for line in lines if line.strip()) == 2


def test_summary_only_without_verbose(tiny_weights, tmp_path, capsys):
    assert _eval(tiny_weights, tmp_path) == 0
    first_words = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line]
    assert "mean" in first_words and "0" not in first_words


def test_sheet_is_written_with_the_expected_size(tiny_weights, tmp_path, capsys):
    sheet_path = tmp_path / "sheets" / "vae.png"
    assert _eval(tiny_weights, tmp_path, "--sheet", str(sheet_path)) == 0
    image = cv2.imread(str(sheet_path))
    # 2 clips: an original row and a reconstruction row each, all 5 frames shown
    assert image.shape == (*sheet_size(4, len(sample_indices(FRAMES, 6)), SIZE, SIZE, 2), 3)


def test_contact_sheet_layout_and_labels(tmp_path):
    clip = np.full((17, 40, 48, 3), 200, np.uint8)
    label = "a very long label that cannot possibly fit above so narrow a row of frames " * 3
    sheet = contact_sheet([(label, clip), ("short", clip)], tmp_path / "s.png", 6)
    assert sample_indices(17, 6) == [0, 3, 6, 10, 13, 16]
    assert sheet.shape == (*sheet_size(2, 6, 40, 48), 3)
    assert cv2.imread(str(tmp_path / "s.png")).shape == sheet.shape
    assert (sheet != sheet[0, 0]).any(axis=-1).sum() > 6 * 40 * 48  # frames and text drawn
    with pytest.raises(InvalidRequest, match="same"):
        contact_sheet([("a", clip), ("b", clip[:5])])
    with pytest.raises(InvalidRequest):
        contact_sheet([])


def test_a_perfect_reconstruction_scores_perfectly():
    clip = render_clip(3, FRAMES, SIZE)
    frames, mask = clip.frames, clip.objects[0].masks
    figures = clip_figures(frames, frames.copy(), mask)
    assert figures["psnr_db"] == 100.0 and figures["psnr_worst_frame_db"] == 100.0
    assert figures["psnr_objects_db"] == 100.0
    assert figures["ssim"] == pytest.approx(1.0)
    assert figures["warp_error_recon"] == figures["warp_error_original"]
    if figures["warp_error_original"]:
        assert figures["warp_ratio"] == pytest.approx(1.0)
    damaged = frames.copy()
    damaged[mask] = 255 - damaged[mask]  # only the objects change
    worse = clip_figures(frames, damaged, mask)
    assert worse["psnr_objects_db"] < worse["psnr_db"] < 100.0
    assert clip_figures(frames, frames, np.zeros_like(mask))["psnr_objects_db"] is None


def test_missing_weights_is_one_clean_line(tmp_path, capsys):
    missing = tmp_path / "nowhere" / "vae.safetensors"
    assert _eval(missing, tmp_path) == 2
    err = capsys.readouterr().err
    assert err.startswith("kinema: error: The VAE weights")
    assert "does not exist" in err or "do not exist" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "vae.json").exists()


def test_damaged_weights_are_reported(tiny_weights, tmp_path, capsys):
    tiny_weights.write_bytes(b"not a safetensors file")
    assert _eval(tiny_weights, tmp_path) == 2
    assert "damaged" in capsys.readouterr().err


def test_bad_clip_shape_is_refused(tiny_weights, tmp_path, capsys):
    assert _eval(tiny_weights, tmp_path, "--frames", "6") == 2
    assert "1 + 4k frames" in capsys.readouterr().err
