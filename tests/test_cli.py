"""`kinema render` end to end: a real MP4 whose camera move and stroke motion are measurable."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.camera import homographies, preset
from engine.cli import main
from engine.media import probe, read_video, write_image
from engine.motion import MotionStroke, TrajectoryPoint, trajectory_offsets
from engine.project import Project, Shot, ShotSettings
from engine.samples import meadow_keyframe

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "assets" / "samples" / "Meadow.kinema"


def test_render_the_sample_gives_an_h264_file_any_player_opens(tmp_path):
    out = tmp_path / "meadow.mp4"
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", "render", str(SAMPLE), "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    project = Project.load(SAMPLE)
    info = probe(out)
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert info.frames == project.total_frames()
    assert info.fps == pytest.approx(project.fps)
    if shutil.which("ffprobe"):
        stream = json.loads(
            subprocess.run(
                [
                    "ffprobe",
                    "-v",
                    "error",
                    "-count_frames",
                    "-show_streams",
                    "-of",
                    "json",
                    str(out),
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )["streams"][0]
        assert stream["codec_name"] == "h264" and stream["pix_fmt"] == "yuv420p"
        assert int(stream["nb_read_frames"]) == project.total_frames()
        assert stream["r_frame_rate"] == "24/1"


@pytest.fixture
def panning_ball(tmp_path):
    """A meadow shot: the camera pans right while a brushed red ball rolls right and up."""
    width, height, frames = 256, 144, 24
    image, (bx, by, rx, ry) = meadow_keyframe(width, height)
    project = Project.new(tmp_path / "Pan", name="Pan")
    project.width, project.height, project.fps = width, height, 12.0
    write_image(project.folder / "media" / "key.png", image)
    yy, xx = np.mgrid[0:128, 0:128] / 128.0
    mask = (((xx - bx) / (rx * 1.3)) ** 2 + ((yy - by) / (ry * 1.3)) ** 2 < 1).astype(np.float32)
    stroke = MotionStroke(
        mask=mask, trajectory=[TrajectoryPoint(bx, by), TrajectoryPoint(bx + 0.3, by - 0.15)]
    )
    shot = Shot(
        duration=frames,
        keyframe="media/key.png",
        camera=preset("pan-right", frames, strength=0.5),
        strokes=[stroke],
        settings=ShotSettings(backend="previs"),  # the guide video itself: exact motion
    )
    project.shots = [shot]
    project.save()
    return project, (bx * width, by * height)


def red_centroid(frame: np.ndarray) -> np.ndarray:
    r, g, b = (frame[..., i].astype(int) for i in range(3))
    ys, xs = np.nonzero((r > 120) & (r > 2 * g) & (r > 2 * b))
    return np.array([xs.mean(), ys.mean()])


def test_camera_move_and_stroke_motion_are_visible_in_the_mp4(panning_ball, tmp_path):
    project, anchor = panning_ball
    out = tmp_path / "pan.mp4"
    assert main(["render", str(project.folder), "-o", str(out), "--quiet"]) == 0
    frames, fps = read_video(out)
    shot = project.shots[0]
    assert len(frames) == shot.duration and fps == pytest.approx(12.0)

    # global shift of the sky between first and last frame: the pan moves the scene left
    homs = homographies(shot.camera, shot.duration, project.width, project.height)
    expected_dx = (homs[-1] @ [128, 30, 1])[0] / (homs[-1] @ [128, 30, 1])[2] - 128
    sky = [np.float32(cv2.cvtColor(f[:60], cv2.COLOR_RGB2GRAY)) for f in (frames[0], frames[-1])]
    (dx, dy), _ = cv2.phaseCorrelate(sky[0], sky[1])
    assert dx < -10 and dx == pytest.approx(expected_dx, rel=0.2)
    assert abs(dy) < 2

    # the brushed ball follows its trajectory, carried by the camera, at every frame
    offsets = trajectory_offsets(shot.strokes[0], shot.duration) * [project.width, project.height]
    # (compared as paths from frame 0: the ball's highlight biases a colour centroid a little)
    expected = []
    for t in range(len(frames)):
        p = homs[t] @ [anchor[0] + offsets[t][0], anchor[1] + offsets[t][1], 1.0]
        expected.append(p[:2] / p[2])
    measured = np.array([red_centroid(f) for f in frames])
    errors = np.linalg.norm((measured - measured[0]) - (np.array(expected) - expected[0]), axis=1)
    assert errors.max() < 2.0, errors
    travelled = red_centroid(frames[-1]) - red_centroid(frames[0])
    assert np.linalg.norm(travelled) > 25  # visibly, on a 256 px frame


def run_cli(args, capsys):
    code = main(args)
    err = capsys.readouterr().err
    return code, err


def test_missing_project_is_one_clean_line(capsys, tmp_path):
    code, err = run_cli(["render", str(tmp_path / "None.kinema"), "-o", "x.mp4"], capsys)
    assert code == 2
    assert err.startswith("kinema: error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_corrupt_project_names_the_problem(capsys, tmp_path):
    folder = tmp_path / "Bad.kinema"
    folder.mkdir()
    (folder / "project.json").write_text('{"kinema": 1, "shots": [')
    code, err = run_cli(["render", str(folder), "-o", str(tmp_path / "x.mp4")], capsys)
    assert code == 2 and "damaged" in err


def test_bad_shot_and_output_are_refused(capsys, tmp_path):
    code, err = run_cli(
        ["render", str(SAMPLE), "--shot", "9", "-o", str(tmp_path / "x.mp4")], capsys
    )
    assert code == 2 and "no shot 9" in err
    code, err = run_cli(["render", str(SAMPLE), "-o", str(tmp_path / "x.avi")], capsys)
    assert code == 2 and ".mp4" in err
    code, err = run_cli(
        ["render", str(SAMPLE), "--backend", "magic", "-o", str(tmp_path / "x.mp4")], capsys
    )
    assert code == 2 and "Unknown backend 'magic'" in err
    assert not (tmp_path / "x.mp4").exists()


def test_png_sequence_output(capsys, tmp_path):
    code, _ = run_cli(
        ["render", str(SAMPLE), "--shot", "2", "-o", str(tmp_path / "frames")], capsys
    )
    assert code == 0
    assert len(list((tmp_path / "frames").glob("*.png"))) == Project.load(SAMPLE).shots[1].duration


def test_info_lists_backends(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "previs" in out and "camera" in out


@pytest.mark.parametrize(
    "argv, studio",
    [
        ([], True),
        (["Film.kinema"], True),
        (["--device", "cpu"], True),
        (["-v", "render", "x.kinema"], False),
        (["info"], False),
        (["--help"], False),
    ],
)
def test_arguments_without_a_command_open_the_studio(argv, studio):
    from engine.cli import _wants_studio

    assert _wants_studio(argv) is studio


def test_render_on_another_backend_takes_its_steps_unless_the_shot_chose_its_own():
    from engine.render import settings_on

    shot = Project.load(SAMPLE).shots[0]
    assert (shot.settings.backend, shot.settings.steps, shot.settings.guidance) == (
        "previs", 20, 5.0,
    )  # fmt: skip
    builtin = settings_on(shot, "builtin")
    assert (builtin.backend, builtin.steps, builtin.guidance) == ("builtin", 8, 3.0)
    assert settings_on(shot, None) is shot.settings and settings_on(shot, "previs") is shot.settings
    shot.settings.steps = 12  # chosen by the user: kept
    assert settings_on(shot, "builtin").steps == 12
