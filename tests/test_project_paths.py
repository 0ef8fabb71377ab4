"""Ids and paths from a project file never lead outside the project folder.

Before: a shot id of "../../escaped" wrote a take outside the project; "a/b", "" and "."
loaded and had their takes deleted at close; a symlinked `takes/` (or shot folder) made the
clean-up delete folders elsewhere; a re-run read the keyframe from whatever absolute folder
the take's request named.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.controls import compile_request
from engine.errors import InvalidRequest, MediaError, ProjectError
from engine.jobs import GenerationRequest
from engine.media import write_image
from engine.project import PROJECT_FILE, Project, Shot
from engine.render import request_for_shot
from engine.takes import orphan_takes, purge_unused_takes, save_take, take_request

CLIP = np.zeros((2, 16, 16, 3), np.uint8)


@pytest.fixture
def project(tmp_path) -> Project:
    project = Project.new(tmp_path / "box" / "Film")
    write_image(project.folder / "media" / "key.png", np.full((32, 32, 3), 90, np.uint8))
    project.shots = [Shot(id="s1", keyframe="media/key.png")]
    project.save()
    return project


def edit(project: Project, change) -> None:
    file = project.folder / PROJECT_FILE
    data = json.loads(file.read_text())
    change(data)
    file.write_text(json.dumps(data))


def outside_files(project: Project) -> set[Path]:
    """Every path under the folder that holds the project, except the project's own."""
    box = project.folder.parent
    return {p for p in box.rglob("*") if project.folder not in (p, *p.parents)}


@pytest.mark.parametrize("shot_id", ["../../escaped", "a/b", "", ".", "..", "a\\b", "x" * 65])
def test_odd_shot_ids_are_refused_at_load(project, shot_id):
    edit(project, lambda d: d["shots"][0].update(id=shot_id))
    with pytest.raises(ProjectError, match=r"shots\[0\]\.id"):
        Project.load(project.folder)


@pytest.mark.parametrize("take_id", ["../up", "a/b", "", "."])
def test_odd_take_ids_are_refused_at_load(project, take_id):
    take = {"id": take_id, "folder": "takes/s1/t1", "frames": 1, "fps": 24.0, "width": 16}
    take |= {"height": 16, "backend": "previs", "seed": 0}
    edit(project, lambda d: d["shots"][0].update(takes=[take]))
    with pytest.raises(ProjectError, match=r"shots\[0\]\.takes\[0\]\.id"):
        Project.load(project.folder)


@pytest.mark.parametrize(
    "folder", ["takes/../../x", "media/t1", "takes/s1", "takes/s1/t1/more", "/tmp/t1"]
)
def test_take_folders_must_be_takes_shot_take(project, folder):
    take = {"id": "t1", "folder": folder, "frames": 1, "fps": 24.0, "width": 16, "height": 16}
    take |= {"backend": "previs", "seed": 0}
    edit(project, lambda d: d["shots"][0].update(takes=[take]))
    with pytest.raises(ProjectError, match="folder"):
        Project.load(project.folder)


@pytest.mark.parametrize(
    "keyframe",
    [".", "", "media/" + "a" * 300 + ".png", "media/x\x00.png", "../outside.png", "C:/x.png"],
)
def test_odd_keyframe_paths_are_refused_with_the_field(project, keyframe):
    edit(project, lambda d: d["shots"][0].update(keyframe=keyframe))
    with pytest.raises(ProjectError, match=r"shots\[0\]\.keyframe"):
        Project.load(project.folder)


def test_active_take_of_the_wrong_type_names_the_field(project):
    edit(project, lambda d: d["shots"][0].update(active_take=[]))
    with pytest.raises(ProjectError, match=r"shots\[0\]\.active_take"):
        Project.load(project.folder)


def test_a_take_is_never_written_outside_the_project(project):
    before = outside_files(project)
    request = GenerationRequest(shot={}, width=16, height=16, frames=2)
    for shot_id in ("../../escaped", "a/b", "", "."):
        with pytest.raises(InvalidRequest):
            save_take(project.folder, shot_id, CLIP, request)
    assert outside_files(project) == before


def test_a_symlinked_takes_folder_is_neither_written_through_nor_cleaned(project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "s1" / "abcd1234" / "frames").mkdir(parents=True)
    shutil.rmtree(project.folder / "takes")
    (project.folder / "takes").symlink_to(elsewhere)
    request = GenerationRequest(shot={}, width=16, height=16, frames=2)
    with pytest.raises(MediaError, match="link"):
        save_take(project.folder, "s1", CLIP, request)
    assert purge_unused_takes(project) == []
    assert (elsewhere / "s1" / "abcd1234" / "frames").is_dir()
    assert orphan_takes(project) == []


def test_a_symlinked_shot_folder_is_not_cleaned(project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "abcd1234" / "frames").mkdir(parents=True)
    (project.folder / "takes").mkdir(exist_ok=True)
    (project.folder / "takes" / "s1").symlink_to(elsewhere)
    assert purge_unused_takes(project) == []
    assert (elsewhere / "abcd1234" / "frames").is_dir()


def test_a_keyframe_linked_outside_is_never_read(project, tmp_path):
    secret = tmp_path / "secret.png"
    write_image(secret, np.full((32, 32, 3), 255, np.uint8))
    (project.folder / "media" / "key.png").unlink()
    (project.folder / "media" / "key.png").symlink_to(secret)
    again = Project.load(project.folder)
    assert again.shots[0].keyframe_missing and again.keyframe_path(again.shots[0]) is None
    with pytest.raises(InvalidRequest, match="outside the project"):
        compile_request(request_for_shot(again, again.shots[0], width=32, height=32, frames=2))


def test_a_rerun_reads_the_project_it_is_in_now(project, tmp_path):
    shot = project.shots[0]
    request = request_for_shot(project, shot, width=32, height=32, frames=2)
    take = save_take(project.folder, shot.id, CLIP, request)
    assert take.request["project_dir"] is None  # no machine path is stored
    take.request["project_dir"] = str(tmp_path / "old place")  # a take from before, moved since
    moved = tmp_path / "Moved.kinema"
    shutil.move(project.folder, moved)
    again = take_request(take, moved)
    assert again.project_dir == str(moved)
    assert compile_request(again).keyframe is not None
    # a hand-edited record cannot point the re-run at any other file
    take.request["shot"] = {**take.request["shot"], "keyframe": "../../etc/passwd"}
    with pytest.raises(InvalidRequest, match="keyframe"):
        compile_request(take_request(take, moved))


def test_the_farm_never_sends_a_file_from_outside_the_project(project, tmp_path):
    from engine.farm.job import pack

    (tmp_path / "box" / "secret.png").write_bytes(b"secret")
    request = request_for_shot(project, project.shots[0], width=32, height=32, frames=2)
    assert pack(request).keyframe is not None  # its own keyframe goes
    hostile = GenerationRequest(
        **{**request.to_dict(), "shot": {**request.shot, "keyframe": "../secret.png"}}
    )
    with pytest.raises(InvalidRequest, match="outside the project"):
        pack(hostile)
