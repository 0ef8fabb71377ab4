"""The project document: lossless round trip, strict validation, atomic save with a backup."""

from __future__ import annotations

import copy
import json
import os

import numpy as np
import pytest

from engine.camera import CameraKeyframe, CameraPath, Pose
from engine.errors import ProjectError
from engine.motion import MotionStroke, TrajectoryPoint
from engine.project import BACKUP_FILE, PROJECT_FILE, Project, Shot, ShotSettings, Take


def blob(cx: float, cy: float, r: float = 0.1, size: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / size
    return (np.hypot(xx - cx, yy - cy) < r).astype(np.float32)


@pytest.fixture
def project(tmp_path) -> Project:
    project = Project.new(tmp_path / "Film", name="Film")
    project.width, project.height, project.fps = 320, 180, 23.976
    (project.folder / "media" / "key.png").write_bytes(b"png")
    (project.folder / "takes" / "s1" / "t1").mkdir(parents=True)
    first = Shot(
        id="s1",
        name="Opening",
        prompt="a red ball bounces",
        negative_prompt="blur",
        seed=42,
        duration=36,
        keyframe="media/key.png",
        camera=CameraPath(
            [
                CameraKeyframe(0, Pose(), "bezier", (0.25, 0.1, 0.25, 1.0)),
                CameraKeyframe(35, Pose(pan=-12.5, zoom=1.3), "linear"),
            ]
        ),
        strokes=[
            MotionStroke(
                mask=blob(0.3, 0.6),
                trajectory=[TrajectoryPoint(0.3, 0.6), TrajectoryPoint(0.7, 0.5, frame=30)],
                name="ball",
            ),
            MotionStroke(mask=blob(0.8, 0.3), kind="static", name="tree"),
        ],
        takes=[
            Take(
                id="t1",
                folder="takes/s1/t1",
                frames=36,
                fps=23.976,
                width=320,
                height=180,
                backend="previs",
                seed=42,
                created="2026-11-24T10:00:00+00:00",
                request={"backend": "previs", "seed": 42},
                metrics={"flicker": 0.5},
            )
        ],
        active_take="t1",
        settings=ShotSettings(backend="previs", steps=12, guidance=4.5, guide_strength=0.7),
    )
    project.shots = [first, Shot(id="s2", name="Second", duration=12)]
    project.save()
    return project


def test_round_trip_is_lossless_and_stable(project):
    again = Project.load(project.folder)
    assert again.same_as(project)
    first = (project.folder / PROJECT_FILE).read_bytes()
    again.save()
    assert (project.folder / PROJECT_FILE).read_bytes() == first
    assert Project.load(project.folder / PROJECT_FILE).same_as(project)
    assert copy.deepcopy(again).same_as(again)


def test_previous_file_is_kept_as_backup(project):
    before = (project.folder / PROJECT_FILE).read_text()
    project.shots[0].prompt = "a blue cube slides"
    project.save()
    assert (project.folder / BACKUP_FILE).read_text() == before
    assert Project.load(project.folder).shots[0].prompt == "a blue cube slides"


def test_a_crash_while_saving_leaves_the_good_file(project, monkeypatch):
    before = (project.folder / PROJECT_FILE).read_text()
    project.shots[0].prompt = "changed"

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ProjectError, match="disk full"):
        project.save()
    monkeypatch.undo()
    assert (project.folder / PROJECT_FILE).read_text() == before
    assert not list(project.folder.glob("*.tmp"))


def test_nan_in_the_document_is_refused_on_save(project):
    project.fps = float("nan")
    with pytest.raises(ProjectError):
        project.save()


def write_json(project: Project, data: dict) -> None:
    (project.folder / PROJECT_FILE).write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["shots"][0].update(duration=-5), "shots[0].duration"),
        (lambda d: d["shots"][0].update(duration=2.5), "shots[0].duration"),
        (lambda d: d["shots"][0]["camera"]["keyframes"][1].update(easing="wobble"), "easing"),
        (lambda d: d["shots"][0].update(keyframe="../outside.png"), "shots[0].keyframe"),
        (lambda d: d["shots"][0]["strokes"][0]["trajectory"][1].update(x=1.4), "trajectory[1].x"),
        (lambda d: d["shots"][0]["strokes"][0].update(kind="spin"), "shots[0].strokes[0].kind"),
        (lambda d: d.update(width=333), "width"),
        (lambda d: d.update(height=8), "height"),
        (lambda d: d.update(fps=0), "fps"),
        (lambda d: d["shots"][0].update(seed=-1), "shots[0].seed"),
        (lambda d: d["shots"][0].update(active_take="nope"), "shots[0].active_take"),
        (lambda d: d["shots"][1].update(id="s1"), "shots[1].id"),
        (lambda d: d["shots"][0]["settings"].update(steps=0), "shots[0].settings.steps"),
        (lambda d: d["shots"][0]["settings"].update(guide_strength=2), "guide_strength"),
        (lambda d: d["shots"][0]["takes"][0].update(frames=0), "shots[0].takes[0].frames"),
        (lambda d: d["shots"][0].update(prompt=5), "shots[0].prompt"),
        (lambda d: d.update(shots={}), "shots"),
    ],
)
def test_validation_names_the_bad_field(project, mutate, field):
    data = project.to_dict()
    mutate(data)
    write_json(project, data)
    with pytest.raises(ProjectError) as info:
        Project.load(project.folder)
    assert field in str(info.value)


def test_nan_in_the_file_is_named(project):
    text = json.dumps(project.to_dict()).replace('"fps": 23.976', '"fps": NaN', 1)
    (project.folder / PROJECT_FILE).write_text(text)
    with pytest.raises(ProjectError, match="NaN"):
        Project.load(project.folder)


def test_newer_schema_is_refused_with_a_sentence(project):
    data = project.to_dict()
    data["kinema"] = 99
    write_json(project, data)
    with pytest.raises(ProjectError, match="newer Kinema.*schema 99"):
        Project.load(project.folder)


def test_damaged_json_names_file_and_position(project):
    (project.folder / PROJECT_FILE).write_text('{"kinema": 1, "name": ')
    with pytest.raises(ProjectError, match=r"damaged.*line 1"):
        Project.load(project.folder)


def test_missing_project_and_not_a_project(tmp_path):
    with pytest.raises(ProjectError, match="no project"):
        Project.load(tmp_path / "Nothing.kinema")
    (tmp_path / "Empty.kinema").mkdir()
    with pytest.raises(ProjectError, match="not a Kinema project"):
        Project.load(tmp_path / "Empty.kinema")


def test_a_missing_take_folder_does_not_block_opening(project):
    (project.folder / "takes" / "s1" / "t1").rmdir()
    again = Project.load(project.folder)
    assert again.shots[0].takes[0].missing


def test_a_missing_keyframe_does_not_block_opening(project):
    """It used to refuse the whole project, so the user could not even fix it."""
    (project.folder / "media" / "key.png").unlink()
    again = Project.load(project.folder)
    assert again.shots[0].keyframe == "media/key.png" and again.shots[0].keyframe_missing
    assert not again.shots[1].keyframe_missing
    assert any("keyframe 'media/key.png'" in line for line in again.check_files())
    again.save()  # the mark is not part of the file
    assert "keyframe_missing" not in (project.folder / PROJECT_FILE).read_text()


def test_unknown_keys_are_ignored_for_forward_compatibility(project):
    data = project.to_dict()
    data["future_feature"] = {"x": 1}
    data["shots"][0]["colour_grade"] = "teal"
    write_json(project, data)
    assert Project.load(project.folder).same_as(project)


def test_import_media_copies_under_a_free_name(project, tmp_path):
    source = tmp_path / "photo.JPG"
    source.write_bytes(b"jpeg")
    first = project.import_media(source)
    second = project.import_media(source)
    assert first == "media/photo.jpg" and second == "media/photo-2.jpg"
    assert (project.folder / second).read_bytes() == b"jpeg"


def test_save_as_copies_media_and_takes(project, tmp_path):
    project.save(tmp_path / "Copy")
    assert project.folder.name == "Copy.kinema"
    assert (project.folder / "media" / "key.png").exists()
    assert Project.load(project.folder).shots[0].keyframe == "media/key.png"


def test_sequence_positions(project):
    assert project.total_frames() == 48
    assert project.shot_start(project.shots[1]) == 36
