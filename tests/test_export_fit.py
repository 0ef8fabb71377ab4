"""Takes that do not fit their shot, the default backend, and huge keyframe images.

Export never stretches a take of another shape nor pads a short one silently: it
letterboxes, trims or holds the last frame, and says so per shot. New shots (and a file's
shot that names no backend, as `kinema render` reads it) start on the built-in model
wherever its weights are installed. A huge JPEG is decoded at a reduced scale that still
covers the project's frame.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.assets import SAMPLES
from engine.cli import main
from engine.export import ExportOptions, fit_frame, plan_export, review_export, run_export
from engine.media import read_image, read_keyframe, scale_to_cover, write_image
from engine.project import Project, Shot, ShotSettings, default_backend_note
from engine.recipe import read_recipe
from engine.render import generate_blocking, request_for_shot
from engine.takes import save_take


@pytest.fixture
def sample(tmp_path) -> Path:
    target = tmp_path / "Meadow.kinema"
    shutil.copytree(SAMPLES / "Meadow.kinema", target)
    return target


def with_takes(sample: Path, width: int, height: int) -> Project:
    """The sample with a previs take per shot at `width` x `height`, and the project at 64x64."""
    project = Project.load(sample)
    requests = [request_for_shot(project, s, width=width, height=height) for s in project.shots]
    for shot, clip, request in zip(project.shots, generate_blocking(requests), requests):
        take = save_take(project.folder, shot.id, clip, request, label="Take 1")
        shot.takes.append(take)
        shot.active_take = take.id
    project.width, project.height = 64, 64
    project.save()
    return project


def test_a_wide_take_is_letterboxed_never_stretched(sample, tmp_path):
    project = with_takes(sample, 64, 36)
    first, second = project.shots
    second.duration = 48  # its take has 36 frames: the last is held for 12
    review = review_export(project, None, "sequence")
    assert review.missing == ()
    assert [line for _id, line in review.mismatched] == [
        f"Shot 1 '{first.name}': 64x36 take in a 64x64 project: scaled to fit, letterboxed.",
        f"Shot 2 '{second.name}': 64x36 take in a 64x64 project; take is 1.50 s, shot is "
        "2.00 s: scaled to fit, letterboxed, last frame held for 0.50 s.",
    ]
    target = tmp_path / "frames"
    plan = plan_export(project, None, ExportOptions(path=target, scope="sequence", codec="png"))
    delivered = run_export(plan)
    assert any("letterboxed" in note for note in delivered.notes)
    frame = read_image(sorted(target.glob("frame_*.png"))[0])
    assert frame.shape == (64, 64, 3)
    assert frame[:12].max() <= 2 and frame[-12:].max() <= 2  # black bars above and below
    assert frame[20:44].mean() > 20  # the picture between them, its full width
    take_frame = read_image(sorted((project.folder / first.active().folder).rglob("*.png"))[0])
    np.testing.assert_allclose(
        frame[14:50].astype(float).mean(), take_frame.astype(float).mean(), atol=6
    )


def test_fit_frame_keeps_the_shape_and_fills_a_same_shaped_frame():
    wide = np.full((36, 64, 3), 200, np.uint8)
    assert fit_frame(wide, 128, 72).shape == (72, 128, 3) and fit_frame(wide, 128, 72).min() == 200
    tall = fit_frame(wide.transpose(1, 0, 2), 64, 64)  # 36 wide, 64 high: pillarboxed
    assert tall[:, :10].max() == 0 and tall[:, 30].min() == 200


def test_shots_without_a_take_are_listed_for_export(sample):
    project = Project.load(sample)
    review = review_export(project, project.shots[0].id, "shot")
    assert [label for _id, label in review.missing] == [f"Shot 1 '{project.shots[0].name}'"]
    review = review_export(project, None, "sequence")
    assert [shot_id for shot_id, _label in review.missing] == [s.id for s in project.shots]


def test_new_shots_start_on_the_built_in_model():
    shot = Shot()
    assert default_backend_note() == ""
    assert (shot.settings.backend, shot.settings.steps, shot.settings.guidance) == (
        "builtin", 8, 3.0,
    )  # fmt: skip
    assert ShotSettings.from_dict({}).backend == "builtin"
    assert ShotSettings(backend="previs").steps == 20  # previs keeps its own defaults
    assert ShotSettings.from_dict({"backend": "previs"}).steps == 20


def test_without_the_built_in_weights_new_shots_use_the_previs_and_say_so(tmp_path, monkeypatch):
    import engine.assets

    monkeypatch.setattr(engine.assets, "BUILTIN_WEIGHTS", tmp_path / "no-weights")
    assert Shot().settings.backend == "previs"
    assert default_backend_note().startswith("New shots use the previs, which ignores the prompt")


def test_kinema_render_makes_a_shot_without_a_backend_on_the_built_in_model(tmp_path):
    project = Project.new(tmp_path / "Bare.kinema")
    project.width, project.height, project.fps = 64, 48, 12.0
    project.save()
    data = json.loads((project.folder / "project.json").read_text())
    data["shots"] = [{"id": "a1b2c3d4", "name": "Bare", "prompt": "a red ball", "duration": 9}]
    (project.folder / "project.json").write_text(json.dumps(data))
    out = tmp_path / "bare"
    args = ("--codec", "png", "--device", "cpu", "--steps", "1", "--quiet")
    assert main(["render", str(project.folder), "-o", str(out), *args]) == 0
    assert read_recipe(out).shots[0].request["backend"] == "builtin"


def test_a_huge_jpeg_is_decoded_reduced_but_still_covering(tmp_path):
    big = np.zeros((4000, 6000, 3), np.uint8)
    big[:, :3000] = (200, 40, 40)
    path = tmp_path / "huge.jpg"
    write_image(path, big)
    image = read_keyframe(path, cover=(512, 288))
    assert image.shape == (500, 750, 3)  # an eighth: still covers 512x288
    small = scale_to_cover(image, 512, 288)
    assert small.shape == (341, 512, 3)
    assert read_keyframe(path).shape == (4000, 6000, 3)  # without `cover`, whole
