"""Delivery to an editor: the request inside every file, import-shot round trips, timelines.

Renders are the sample project's previs (milliseconds a frame) and a tiny built-in model
shot (9 frames at 64x48, 2 steps); exports are a few frames.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from engine import __version__
from engine.assets import SAMPLES
from engine.cli import main
from engine.errors import InvalidRequest
from engine.export import ExportOptions, plan_export, run_export
from engine.jobs import GenerationRequest
from engine.media import read_image, read_image_text, read_video
from engine.project import Project, Shot, ShotSettings
from engine.recipe import read_recipe
from engine.render import request_for_shot
from engine.takes import save_take
from engine.timelines import read_timeline

needs_ffprobe = pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe not installed")


@pytest.fixture
def sample(tmp_path) -> Path:
    target = tmp_path / "Meadow.kinema"
    shutil.copytree(SAMPLES / "Meadow.kinema", target)
    return target


def frames_of(folder: Path) -> np.ndarray:
    return np.stack([read_image(p) for p in sorted(folder.glob("frame_*.png"))])


def run_cli(*args: str) -> int:
    return main([str(a) for a in args])


# ---------------------------------------------------------------- the request inside


@needs_ffprobe
def test_a_render_carries_its_requests_for_ffprobe_and_inspect(sample, tmp_path, capsys):
    out = tmp_path / "meadow.mov"
    assert run_cli("render", sample, "-o", out, "--codec", "prores-4444", "--quiet") == 0
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format_tags", "-of", "json", str(out)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    tags = json.loads(probe.stdout)["format"]["tags"]
    recipe = json.loads(tags["kinema"])
    assert recipe["kinema_version"] == __version__
    project = Project.load(sample)
    assert [s["name"] for s in recipe["shots"]] == [s.name for s in project.shots]
    assert [(s["start"], s["frames"]) for s in recipe["shots"]] == [(0, 48), (48, 36)]
    first, shot = recipe["shots"][0], project.shots[0]
    request = first["request"]
    assert request["shot"]["prompt"] == shot.prompt and request["seed"] == shot.seed
    assert request["shot"]["camera"] == shot.camera.to_dict()
    assert [s["name"] for s in request["shot"]["strokes"]] == [s.name for s in shot.strokes]
    assert (request["backend"], request["steps"], request["guidance"]) == ("previs", 20, 5.0)
    assert "project_dir" not in request and "job_id" not in request  # no client paths
    assert "takes" not in request["shot"]
    assert first["keyframe"]["file"] == "media/meadow.png"
    assert len(first["keyframe"]["sha256"]) == 64
    assert "Made with Kinema" in tags["comment"]

    capsys.readouterr()
    assert run_cli("inspect", out) == 0
    printed = capsys.readouterr().out
    assert f"Made with Kinema {__version__}" in printed
    assert shot.prompt in printed and "seed:        1234" in printed
    assert "Ball rolls right" in printed and "pan 8" in printed
    assert run_cli("inspect", out, "--json") == 0
    assert json.loads(capsys.readouterr().out) == recipe


def test_every_take_frame_carries_its_request(tmp_path):
    project = Project.new(tmp_path / "T")
    shot = Shot(name="One", prompt="a ball", seed=3, settings=ShotSettings(backend="previs"))
    project.shots = [shot]
    request = request_for_shot(project, shot, width=24, height=16, frames=3)
    clip = np.zeros((3, 16, 24, 3), np.uint8)
    take = save_take(project.folder, shot.id, clip, request)
    frames = sorted((project.folder / take.folder / "frames").iterdir())
    for frame in frames:
        assert "kinema" in read_image_text(frame)
    recipe = read_recipe(frames[-1])
    assert recipe.shots[0].take["id"] == take.id
    assert recipe.shots[0].request["shot"]["prompt"] == "a ball"
    assert take.model == {"backend": "previs"}


def test_files_without_a_recipe_say_so(tmp_path, capsys):
    from engine.media import write_mp4

    plain = tmp_path / "plain.mp4"
    write_mp4(plain, np.zeros((2, 16, 16, 3), np.uint8), 24.0, preset="ultrafast")
    with pytest.raises(InvalidRequest, match="carries no Kinema request"):
        read_recipe(plain)
    assert run_cli("inspect", plain) == 2
    assert "carries no Kinema request" in capsys.readouterr().err


# ---------------------------------------------------------------- import-shot


def test_import_shot_re_renders_identical_previs_frames(sample, tmp_path, capsys):
    first = tmp_path / "first"
    assert run_cli("render", sample, "-o", first, "--codec", "png", "--quiet") == 0
    # a lossy delivery file carries the same request; import from it into a new project
    delivered = tmp_path / "meadow.webm"
    assert run_cli("render", sample, "-o", delivered, "--quiet", "--preset", "ultrafast") == 0
    copy = tmp_path / "Copy.kinema"
    keyframe = sample / "media" / "meadow.png"
    assert run_cli("import-shot", delivered, copy, "--keyframe", keyframe) == 0
    assert "Added shot 2 'Push in on the tree'" in capsys.readouterr().out
    imported = Project.load(copy)
    original = Project.load(sample)
    assert [s.name for s in imported.shots] == [s.name for s in original.shots]
    assert (imported.width, imported.height, imported.fps) == (512, 288, 24.0)
    again = tmp_path / "again"
    assert run_cli("render", copy, "-o", again, "--codec", "png", "--quiet") == 0
    np.testing.assert_array_equal(frames_of(again), frames_of(first))


def test_import_shot_finds_the_keyframe_by_hash_or_says_it_is_missing(sample, tmp_path, capsys):
    out = tmp_path / "shot2.mov"
    assert run_cli("render", sample, "--shot", "2", "-o", out, "--codec", "dnxhr-hq") == 0
    # into the project it came from: the keyframe is in its media already
    assert run_cli("import-shot", out, sample) == 0
    project = Project.load(sample)
    assert len(project.shots) == 3 and project.shots[2].keyframe == "media/meadow.png"
    assert project.shots[2].id != project.shots[1].id
    # a project beside the file: found there by hash and copied in
    capsys.readouterr()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(out, elsewhere / "shot2.mov")
    assert run_cli("import-shot", elsewhere / "shot2.mov", tmp_path / "Other.kinema") == 0
    assert "was not found" in capsys.readouterr().err
    other = Project.load(tmp_path / "Other.kinema")
    assert other.shots[0].keyframe is None and other.shots[0].name == "Push in on the tree"
    assert run_cli("import-shot", out, tmp_path / "Third.kinema", "--shot", "1") == 0
    assert Project.load(tmp_path / "Third.kinema").shots[0].keyframe == "media/meadow.png"
    assert run_cli("import-shot", out, tmp_path / "Fourth.kinema", "--shot", "7") == 2


@pytest.mark.timeout(300)
def test_import_shot_re_renders_identical_builtin_frames(tmp_path):
    project = Project.new(tmp_path / "Tiny.kinema")
    project.width, project.height, project.fps = 64, 48, 12.0
    shot = Shot(
        name="Tiny",
        prompt="a red ball rolls to the right",
        seed=5,
        duration=9,
        settings=ShotSettings(backend="builtin", steps=2, guidance=3.0),
    )
    project.shots = [shot]
    project.save()
    first = tmp_path / "first"
    args = ("--codec", "png", "--device", "cpu", "--quiet")
    assert run_cli("render", project.folder, "-o", first, *args) == 0
    recipe = read_recipe(first)
    assert recipe.shots[0].model["weights"] and recipe.shots[0].request["steps"] == 2
    assert run_cli("import-shot", first, tmp_path / "Again.kinema") == 0
    again = tmp_path / "again"
    assert run_cli("render", tmp_path / "Again.kinema", "-o", again, *args) == 0
    np.testing.assert_array_equal(frames_of(again), frames_of(first))


# ---------------------------------------------------------------- export and timelines


def _project_with_takes(sample: Path) -> Project:
    """The sample with a previs take on each shot (saved), the first shot trimmed to 40."""
    from engine.render import generate_blocking

    project = Project.load(sample)
    requests = [request_for_shot(project, shot, width=64, height=36) for shot in project.shots]
    clips = generate_blocking(requests)
    for shot, clip, request in zip(project.shots, clips, requests):
        take = save_take(project.folder, shot.id, clip, request, label="Take 1")
        shot.takes.append(take)
        shot.active_take = take.id
    project.width, project.height = 64, 36
    project.shots[0].duration = 40
    project.save()
    return project


@pytest.mark.parametrize("suffix", [".otio", ".edl", ".xml"])
def test_the_sequence_exports_as_a_timeline_with_media_beside_it(sample, tmp_path, suffix):
    project = _project_with_takes(sample)
    target = tmp_path / f"Cut{suffix}"
    options = ExportOptions(path=target, scope="sequence", codec="prores-hq")
    delivered = run_export(plan_export(project, None, options))
    assert delivered.path == target and target.is_file()
    names = [p.name for p in delivered.media]
    assert names == ["01_Ball_on_the_meadow.mov", "02_Push_in_on_the_tree.mov"]
    assert all(p.parent == tmp_path / "Cut_media" for p in delivered.media)

    timeline = read_timeline(target, fps=project.fps)
    clips = list(timeline.find_clips())
    assert [c.name for c in clips] == [s.name for s in project.shots]
    assert [c.duration().value for c in clips] == [40, 36]
    assert [c.duration().rate for c in clips] == [24, 24]
    for clip, media in zip(clips, delivered.media):
        assert clip.media_reference.target_url == otio.url_utils.url_from_filepath(
            str(media.resolve())
        )
    if suffix == ".otio":  # OTIO keeps Kinema's own metadata: shot, take, seed
        for clip, shot in zip(clips, project.shots):
            meta = clip.metadata["kinema"]
            assert meta["shot_id"] == shot.id and meta["take"]["id"] == shot.active_take
            assert meta["seed"] == shot.seed
    # each media file is as long as its shot and carries its own request and take
    for media, shot in zip(delivered.media, project.shots):
        frames, fps = read_video(media)
        assert len(frames) == shot.duration and fps == 24
        recipe = read_recipe(media)
        assert recipe.shots[0].take["id"] == shot.active_take
        assert recipe.shots[0].take["label"] == "Take 1"


def test_an_edl_is_what_the_cmx_adapter_parses(sample, tmp_path):
    project = _project_with_takes(sample)
    target = tmp_path / "Cut.edl"
    assert run_cli("export", project.folder, "-o", target, "--quiet") == 0
    text = target.read_text()
    assert "TITLE: Meadow" in text and "FROM CLIP NAME:  Ball on the meadow" in text
    timeline = otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=24)
    assert [c.name for c in timeline.find_clips()] == ["Ball on the meadow", "Push in on the tree"]
    assert timeline.duration().value == 76


def test_a_sequence_export_records_each_shots_frames_and_take(sample, tmp_path):
    project = _project_with_takes(sample)
    out = tmp_path / "cut.mp4"
    assert run_cli("export", project.folder, "-o", out, "--codec", "h265", "--quiet") == 0
    recipe = read_recipe(out)
    assert [(s.start, s.frames) for s in recipe.shots] == [(0, 40), (40, 36)]
    assert [s.take["id"] for s in recipe.shots] == [s.active_take for s in project.shots]
    assert recipe.project["width"] == 64
    frames, _ = read_video(out)
    assert len(frames) == 76
    # a timeline's media must be video; a folder of frames cannot be a clip
    assert run_cli("export", project.folder, "-o", tmp_path / "c.otio", "--codec", "png") == 2


def test_a_request_from_before_recipes_is_still_exported(sample, tmp_path):
    project = _project_with_takes(sample)
    for shot in project.shots:
        shot.active().request = {}
    out = tmp_path / "old"
    run_export(plan_export(project, None, ExportOptions(out, "sequence", codec="tiff16")))
    recipe = read_recipe(out)
    assert recipe.shots[0].request is None
    assert "does not record the request" in recipe.describe()
    with pytest.raises(InvalidRequest, match="does not record the request"):
        from engine.recipe import import_shots

        import_shots(out, tmp_path / "X.kinema")


def test_request_snapshots_do_not_nest_earlier_takes(sample):
    project = _project_with_takes(sample)
    shot = project.shots[0]
    request = request_for_shot(project, shot)
    assert request.shot["takes"] == [] and request.shot["active_take"] is None
    assert GenerationRequest.from_dict(request.to_dict()).shot["prompt"] == shot.prompt
