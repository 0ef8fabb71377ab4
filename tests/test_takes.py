"""Takes on disk: frames and request round-trip, atomic folders, purging unused takes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.errors import MediaError
from engine.jobs import GenerationRequest
from engine.project import Project, Shot, Take
from engine.takes import (
    REQUEST_FILE,
    load_take_frames,
    purge_unused_takes,
    save_take,
    take_request,
    unused_take_folders,
)


def _clip(frames=5, height=16, width=24) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (frames, height, width, 3), dtype=np.uint8)


@pytest.fixture
def project(tmp_path):
    project = Project.new(tmp_path / "T", name="T")
    project.shots = [Shot(name="One")]
    project.save()
    return project


def _request(project, shot, **kw) -> GenerationRequest:
    return GenerationRequest(
        shot=shot.to_dict(), width=24, height=16, frames=5, project_dir=str(project.folder), **kw
    )


def test_round_trip_is_lossless_and_records_the_request(project):
    shot = project.shots[0]
    clip = _clip()
    request = _request(project, shot, seed=77, backend="previs")
    take = save_take(project.folder, shot.id, clip, request)
    assert take.folder == f"takes/{shot.id}/{take.id}"
    assert (take.frames, take.width, take.height, take.seed) == (5, 24, 16, 77)
    np.testing.assert_array_equal(load_take_frames(project.folder, take), clip)
    stored = json.loads((project.folder / take.folder / REQUEST_FILE).read_text())
    # the take records no machine path: a re-run reads the project it is in now
    assert stored == {**request.to_dict(), "project_dir": None} == take.request
    rerun = take_request(take, project.folder)
    assert rerun.job_id != request.job_id
    assert {**rerun.to_dict(), "job_id": ""} == {**request.to_dict(), "job_id": ""}


def test_a_damaged_take_is_reported_by_name(project):
    shot = project.shots[0]
    take = save_take(project.folder, shot.id, _clip(), _request(project, shot), label="Take 1")
    next((project.folder / take.folder / "frames").iterdir()).unlink()
    with pytest.raises(MediaError, match="Take 1"):
        load_take_frames(project.folder, take)


def test_a_failed_write_leaves_no_folder(project, monkeypatch):
    shot = project.shots[0]

    def broken(*args, **kwargs):
        raise MediaError("disk full")

    monkeypatch.setattr("engine.media.write_png_sequence", broken)
    with pytest.raises(MediaError):
        save_take(project.folder, shot.id, _clip(), _request(project, shot))
    assert not any((project.folder / "takes").rglob("*.png"))
    assert list((project.folder / "takes" / shot.id).iterdir()) == []


def test_unreferenced_take_folders_are_purged(project):
    shot = project.shots[0]
    kept = save_take(project.folder, shot.id, _clip(), _request(project, shot))
    dropped = save_take(project.folder, shot.id, _clip(), _request(project, shot))
    shot.takes = [kept]
    assert unused_take_folders(project) == [project.folder / dropped.folder]
    purge_unused_takes(project)
    assert (project.folder / kept.folder).is_dir()
    assert not (project.folder / dropped.folder).exists()


def test_the_project_file_grows_by_a_take_not_doubles(project):
    """A request used to carry its shot with every earlier take (and their requests): the
    13th take of a shot made project.json 118 MB, the 16th a gigabyte."""
    from engine.render import request_for_shot

    shot = project.shots[0]
    project.width, project.height = 32, 32
    sizes = []
    for _ in range(20):
        take = save_take(project.folder, shot.id, _clip(), request_for_shot(project, shot))
        shot.takes.append(take)
        project.save()
        sizes.append((project.folder / "project.json").stat().st_size)
    steps = np.diff(sizes)
    assert steps.max() < 1.2 * steps.min(), sizes  # linear
    assert all(t.request["shot"]["takes"] == [] for t in shot.takes)


def test_nested_takes_in_old_requests_are_dropped_on_load(project):
    shot = project.shots[0]
    request = _request(project, shot)
    take = save_take(project.folder, shot.id, _clip(), request)
    nested = {**take.request, "shot": {**take.request["shot"], "takes": [take.to_dict()]}}
    shot.takes.append(Take.from_dict({**take.to_dict(), "request": nested}))
    assert shot.takes[0].request["shot"]["takes"] == []


# ----------------------------------------------------------------------------- telling takes apart


def test_request_changes_name_what_a_user_changed_and_nothing_else():
    from engine.motion import MotionStroke, TrajectoryPoint
    from engine.render import variation_seeds
    from engine.takes import request_changes, shot_changes

    mask = np.zeros((8, 8), np.float32)
    mask[2:5, 2:5] = 1
    stroke = MotionStroke(mask, "move", [TrajectoryPoint(0.3, 0.3), TrajectoryPoint(0.6, 0.3)])
    shot = Shot(name="One", prompt="a ball", strokes=[stroke])
    base = GenerationRequest(shot=shot.to_dict(), seed=5).to_dict()
    assert request_changes(base, base) == []
    # renaming, recolouring or hiding a stroke steers nothing: not a change
    shown = Shot(name="One", prompt="a ball", strokes=[stroke])
    shown.strokes[0] = MotionStroke(
        mask, "move", stroke.trajectory, name="renamed", color="#00ff00", visible=False,
        id=stroke.id,
    )  # fmt: skip
    assert shot_changes(shown.to_dict(), shot.to_dict()) == []
    moved = Shot(name="One", prompt="a red ball", strokes=[])
    other = GenerationRequest(shot=moved.to_dict(), seed=6, steps=30).to_dict()
    assert request_changes(other, base) == ["prompt", "strokes", "seed", "steps"]
    assert variation_seeds(2**32 - 1, 3) == [2**32 - 1, 0, 1]


def test_load_take_frame_reads_one_frame_clamped(project):
    from engine.takes import load_take_frame

    shot = project.shots[0]
    clip = _clip()
    take = save_take(project.folder, shot.id, clip, _request(project, shot))
    np.testing.assert_array_equal(load_take_frame(project.folder, take, 2), clip[2])
    np.testing.assert_array_equal(load_take_frame(project.folder, take, 99), clip[-1])
