"""A shot's last keyframe: in the document, in the compiled controls, on the farm, and on the
backends (Wan's image-to-video pipeline takes it as `last_image`; the rest say they ignore it).

Real models run as tiny diffusers pipelines built from config (see test_diffusers_backend.py).
"""

from __future__ import annotations

import dataclasses
import json
import queue
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.cli import main
from engine.controls import compile_request, compile_shot, fit_keyframe
from engine.errors import InvalidRequest, MediaError, ProjectError
from engine.farm.job import compile_job, pack
from engine.jobs import GenerationRequest, JobFailed, JobFinished, JobNotice
from engine.project import Project, Shot
from engine.render import request_for_shot
from engine.worker import Engine

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "assets" / "samples" / "Meadow.kinema"
TERMINAL = (JobFinished, JobFailed)


def _image(width: int, height: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 2] = (220, 40, 30)
    image[:, width // 2 :] = (20, 70, 230)
    noise = rng.integers(-12, 12, image.shape)
    return np.clip(image.astype(int) + noise, 0, 255).astype(np.uint8)


def _write(folder: Path, relative: str, image: np.ndarray) -> str:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image[..., ::-1])
    return relative


@pytest.fixture
def meadow(tmp_path) -> Project:
    """The sample, small, its first shot ending on a wide picture of its own."""
    folder = tmp_path / "Meadow.kinema"
    shutil.copytree(SAMPLE, folder)
    project = Project.load(folder)
    project.width, project.height = 96, 54
    project.shots[0].last_keyframe = _write(folder, "media/end.png", _image(160, 60, seed=3))
    project.save()
    return Project.load(folder)


# ------------------------------------------------------------------ the document


def test_the_last_keyframe_is_saved_and_loaded(meadow):
    shot = meadow.shots[0]
    assert shot.last_keyframe == "media/end.png" and not shot.last_keyframe_missing
    data = json.loads((meadow.folder / "project.json").read_text())
    assert data["shots"][0]["last_keyframe"] == "media/end.png"
    assert Project.load(meadow.folder).same_as(meadow)
    assert meadow.last_keyframe_path(shot) == meadow.folder / "media" / "end.png"


def test_a_file_from_before_last_keyframes_loads_without_one(meadow):
    file = meadow.folder / "project.json"
    data = json.loads(file.read_text())
    for shot in data["shots"]:
        shot.pop("last_keyframe")
    file.write_text(json.dumps(data))
    project = Project.load(meadow.folder)
    assert all(s.last_keyframe is None and not s.last_keyframe_missing for s in project.shots)


def test_a_missing_last_keyframe_is_marked_and_reported_not_a_crash(meadow):
    (meadow.folder / "media" / "end.png").unlink()
    project = Project.load(meadow.folder)
    shot = project.shots[0]
    assert shot.last_keyframe_missing and not shot.keyframe_missing
    assert shot.last_keyframe == "media/end.png"  # kept, so it can be chosen again
    assert f"Shot 1 ({shot.name}): last frame 'media/end.png'" in project.check_files()


@pytest.mark.parametrize("bad", ["../outside.png", "/etc/passwd", "media/../../x.png", 7])
def test_a_last_keyframe_outside_the_project_is_refused_naming_the_field(meadow, bad):
    file = meadow.folder / "project.json"
    data = json.loads(file.read_text())
    data["shots"][0]["last_keyframe"] = bad
    file.write_text(json.dumps(data))
    with pytest.raises(ProjectError, match=r"shots\[0\]\.last_keyframe"):
        Project.load(meadow.folder)


def test_a_link_out_of_the_project_counts_as_missing(meadow, tmp_path):
    outside = tmp_path / "secret.png"
    _write(tmp_path, "secret.png", _image(8, 8))
    (meadow.folder / "media" / "end.png").unlink()
    (meadow.folder / "media" / "end.png").symlink_to(outside)
    project = Project.load(meadow.folder)
    assert project.shots[0].last_keyframe_missing
    assert project.last_keyframe_path(project.shots[0]) is None


def test_an_undone_import_keeps_a_file_another_shot_ends_on(meadow):
    assert not meadow.trash_media("media/end.png")  # shot 1 ends on it
    assert (meadow.folder / "media" / "end.png").is_file()


# ------------------------------------------------------------------ the controls


def test_compile_shot_fits_the_last_keyframe_like_the_keyframe_and_resample_carries_it():
    picture = _image(160, 60, seed=1)
    controls = compile_shot(
        Shot().camera, [], width=96, height=54, frames=9, fps=24.0, last_keyframe=picture
    )
    np.testing.assert_array_equal(controls.last_keyframe, fit_keyframe(picture, 96, 54))
    small = controls.resample(48, 28, 5)
    assert small.last_keyframe.shape == (28, 48, 3)
    expected = cv2.resize(controls.last_keyframe, (48, 28), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(small.last_keyframe, expected)
    # the previs ignores it: the guide is the keyframe's (here the reference card's) alone
    without = compile_shot(Shot().camera, [], width=96, height=54, frames=9, fps=24.0)
    np.testing.assert_array_equal(controls.guide, without.guide)


def test_compile_request_reads_the_last_keyframe_from_the_project_folder(meadow):
    request = request_for_shot(meadow, meadow.shots[0])
    controls = compile_request(request)
    from engine.media import read_keyframe

    expected = fit_keyframe(read_keyframe(meadow.folder / "media" / "end.png"), 96, 54)
    np.testing.assert_array_equal(controls.last_keyframe, expected)
    bare = request_for_shot(meadow, meadow.shots[1])
    assert compile_request(bare).last_keyframe is None


def test_a_request_whose_last_keyframe_leads_outside_is_refused(meadow, tmp_path):
    _write(tmp_path, "elsewhere.png", _image(8, 8))
    (meadow.folder / "media" / "link.png").symlink_to(tmp_path / "elsewhere.png")
    shot = dataclasses.replace(meadow.shots[0], last_keyframe="media/link.png")
    request = request_for_shot(meadow, shot)
    with pytest.raises(InvalidRequest, match="last keyframe 'media/link.png' leads outside"):
        compile_request(request)
    with pytest.raises(InvalidRequest, match="names no project folder"):
        compile_request(dataclasses.replace(request, project_dir=None))


# ------------------------------------------------------------------ the farm


def test_a_farm_job_carries_the_last_keyframe_bytes(meadow, tmp_path):
    request = request_for_shot(meadow, meadow.shots[0])
    job = pack(request)
    end = (meadow.folder / "media" / "end.png").read_bytes()
    assert job.last_keyframe == end and job.last_keyframe_name == "end.png"
    assert job.size == len(job.keyframe) + len(end)
    local = compile_request(request)
    shutil.move(meadow.folder, tmp_path / "gone")  # the node never sees the client's disk
    remote = compile_job(job)
    np.testing.assert_array_equal(remote.last_keyframe, local.last_keyframe)
    np.testing.assert_array_equal(remote.keyframe, local.keyframe)


def test_a_farm_job_with_a_missing_last_keyframe_is_a_sentence(meadow):
    request = request_for_shot(meadow, meadow.shots[0])
    (meadow.folder / "media" / "end.png").unlink()
    with pytest.raises(MediaError, match="Could not send the last keyframe 'media/end.png'"):
        pack(request)


# ------------------------------------------------------------------ backends that ignore it


def _run(engine_events, engine, request, timeout=300):
    engine.submit(request)
    seen = []
    while True:
        event = engine_events.get(timeout=timeout)
        if event.job_id == request.job_id:
            seen.append(event)
            if isinstance(event, TERMINAL):
                return seen


def test_the_previs_says_it_ignores_a_last_keyframe_and_makes_the_same_frames(meadow):
    events: queue.Queue = queue.Queue()
    engine = Engine(events.put, device="cpu")
    try:
        shot = dataclasses.replace(meadow.shots[0], duration=6)
        shot.settings = dataclasses.replace(shot.settings, backend="previs")
        ending = _run(events, engine, request_for_shot(meadow, shot))
        plain = dataclasses.replace(shot, last_keyframe=None)
        without = _run(events, engine, request_for_shot(meadow, plain))
    finally:
        engine.shutdown()
    from engine.backends import create_backend

    label = create_backend("previs").capabilities().label
    notices = [e.message for e in ending if isinstance(e, JobNotice)]
    assert f"{label} takes no last frame; it is ignored." in notices
    assert not any("last frame" in e.message for e in without if isinstance(e, JobNotice))
    assert isinstance(ending[-1], JobFinished) and isinstance(without[-1], JobFinished)
    np.testing.assert_array_equal(ending[-1].frames, without[-1].frames)


def test_render_refuses_a_missing_last_keyframe_in_one_line(meadow, tmp_path, capsys):
    (meadow.folder / "media" / "end.png").unlink()
    code = main(["render", str(meadow.folder), "--shot", "1", "-o", str(tmp_path / "x.mp4")])
    err = capsys.readouterr().err
    assert code == 2
    assert "names the last frame 'media/end.png', which is missing" in err
    assert not (tmp_path / "x.mp4").exists()


def test_render_reports_that_the_previs_ignores_the_last_keyframe(meadow, tmp_path, capsys):
    meadow.shots[0].duration = 6
    meadow.save()
    out = tmp_path / "x.mp4"
    code = main(
        ["render", str(meadow.folder), "--shot", "1", "--backend", "previs", "-o", str(out)]
    )
    captured = capsys.readouterr()
    assert code == 0 and out.is_file()
    assert "takes no last frame; it is ignored" in captured.out + captured.err


def test_an_imported_shot_leaves_the_last_keyframe_behind_and_says_so(meadow, tmp_path, capsys):
    """A Kinema file's recipe names the last keyframe by a path in the project it came from;
    in another project that path means nothing (or another picture)."""
    meadow.shots[0].duration = 6
    meadow.shots[0].settings = dataclasses.replace(meadow.shots[0].settings, backend="previs")
    meadow.save()
    out = tmp_path / "shot1.mov"
    assert (
        main(["render", str(meadow.folder), "--shot", "1", "-o", str(out), "--codec", "dnxhr-hq"])
        == 0
    )
    capsys.readouterr()
    assert main(["import-shot", str(out), str(tmp_path / "Other.kinema")]) == 0
    captured = capsys.readouterr()
    assert "ended on a last frame, which the file does not carry" in captured.out + captured.err
    assert Project.load(tmp_path / "Other.kinema").shots[0].last_keyframe is None


# ------------------------------------------------------------------ real models (tiny)


class Recorder:
    def __init__(self) -> None:
        self.events: queue.Queue = queue.Queue()
        self.engine = Engine(self.events.put, device="cpu")

    def run(self, request):
        return _run(self.events, self.engine, request, timeout=120)


@pytest.fixture
def recorder(tiny_models):
    pytest.importorskip("diffusers")
    rec = Recorder()
    yield rec
    rec.engine.shutdown()


def _model_request(folder: Path, family: str, *, key=True, last=None, frames=9):
    shot = Shot(prompt="a red ball rolls across the sand", duration=frames)
    if key:
        shot.keyframe = _write(folder, "media/key.png", _image(32, 32, seed=5))
    if last is not None:
        shot.last_keyframe = _write(folder, "media/last.png", last)
    return GenerationRequest(
        shot=shot.to_dict(),
        width=32,
        height=32,
        frames=frames,
        fps=16.0,
        backend=f"diffusers:{family}",
        steps=2,
        guidance=4.0,
        seed=1,
        device="cpu",
        project_dir=str(folder),
    )


@pytest.fixture
def pipeline_calls(monkeypatch):
    """The keyword arguments of every diffusers pipeline call."""
    pytest.importorskip("diffusers")
    import diffusers

    calls = []
    for name in ("WanImageToVideoPipeline", "WanPipeline", "LTXImageToVideoPipeline"):
        cls = getattr(diffusers, name)
        original = cls.__call__

        def spy(self, *args, _original=original, **kwargs):
            calls.append((type(self).__name__, dict(kwargs)))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__call__", spy)
    return calls


def test_wan_first_last_frame_ends_on_the_last_keyframe(recorder, tmp_path, pipeline_calls):
    last = _image(48, 40, seed=9)[:, ::-1].copy()  # another size: fitted to the plan's
    events = recorder.run(_model_request(tmp_path, "wan-flf2v", last=last))
    assert isinstance(events[-1], JobFinished), getattr(events[-1], "message", "")
    assert not any("last frame" in e.message for e in events if isinstance(e, JobNotice))
    name, kwargs = pipeline_calls[-1]
    assert name == "WanImageToVideoPipeline"
    expected = fit_keyframe(fit_keyframe(last, 32, 32), 32, 32)
    np.testing.assert_array_equal(np.asarray(kwargs["last_image"]), expected)
    runner = recorder.engine._backends["diffusers:wan-flf2v"].runner
    ending = runner.last_latents.clone()
    # another last keyframe reaches the model: another clip
    other = _image(48, 40, seed=11)
    assert isinstance(
        recorder.run(_model_request(tmp_path, "wan-flf2v", last=other))[-1], JobFinished
    )
    np.testing.assert_array_equal(
        np.asarray(pipeline_calls[-1][1]["last_image"]), fit_keyframe(other, 32, 32)
    )
    assert (ending - runner.last_latents).abs().mean() > 1e-4


def test_without_a_last_keyframe_the_pipeline_gets_none(recorder, tmp_path, pipeline_calls):
    """Wan 2.1 I2V makes its clip from the keyframe alone; FLF2V, which cannot, says what
    it needs before it samples."""
    events = recorder.run(_model_request(tmp_path, "wan-i2v"))
    assert isinstance(events[-1], JobFinished), getattr(events[-1], "message", "")
    name, kwargs = pipeline_calls[-1]
    assert name == "WanImageToVideoPipeline" and kwargs.get("last_image") is None
    calls = len(pipeline_calls)
    failed = recorder.run(_model_request(tmp_path, "wan-flf2v"))[-1]
    assert isinstance(failed, JobFailed)
    assert "makes a clip between two frames: give the shot a last frame too" in failed.message
    assert len(pipeline_calls) == calls


def test_a_last_keyframe_lands_on_the_shots_last_frame_not_past_it(recorder, tmp_path):
    """An 8-frame shot at 16 fps: Wan makes 9 native frames (4k+1) and keeps the 8 the shot
    covers; with a last keyframe, which the model puts on the ninth, all nine are kept and
    retimed onto the shot's eight."""
    from engine.backends.diffusers import runner as runner_module

    kept = []
    original = runner_module._fit_frames

    def spy(frames, *args):
        kept.append(len(frames))
        return original(frames, *args)

    runner_module._fit_frames = spy
    try:
        ending = recorder.run(_model_request(tmp_path, "wan-flf2v", last=_image(32, 32), frames=8))
        plain = recorder.run(_model_request(tmp_path, "wan-i2v", frames=8))
    finally:
        runner_module._fit_frames = original
    assert isinstance(ending[-1], JobFinished) and isinstance(plain[-1], JobFinished)
    assert ending[-1].frames.shape == (8, 32, 32, 3)
    assert kept == [9, 8]


@pytest.mark.parametrize("family", ["wan", "wan-i2v", "ltx"])
def test_a_model_without_a_last_frame_says_it_is_ignored_and_runs(
    recorder, tmp_path, pipeline_calls, family
):
    request = _model_request(tmp_path, family, key=family != "wan", last=_image(32, 32))
    events = recorder.run(request)
    assert isinstance(events[-1], JobFinished), getattr(events[-1], "message", "")
    label = recorder.engine._backends[request.backend].capabilities().label
    notices = [e.message for e in events if isinstance(e, JobNotice)]
    assert f"{label} takes no last frame; it is ignored." in notices
    assert all(kwargs.get("last_image") is None for _name, kwargs in pipeline_calls)


def test_models_lists_last_frame_for_the_models_that_take_one(tiny_models, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    blocks = {b.split("\n")[0]: b for b in out.split("diffusers:")[1:]}
    assert "last frame" in blocks["wan-flf2v"]
    for family in ("wan", "wan-i2v", "ltx", "cogvideox"):
        assert "last frame" not in blocks[family]


def test_info_lists_last_frame_among_the_honoured_controls(tiny_models, capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    line = next(
        out.splitlines()[i + 1]
        for i, text in enumerate(out.splitlines())
        if text.strip().startswith("diffusers:wan-flf2v")
    )
    assert "honours:" in line and "last frame" in line


def test_which_wan_folders_take_a_last_frame_is_read_from_their_configs(tiny_models, tmp_path):
    """Wan 2.1 I2V embeds one image's CLIP tokens: no last frame. FLF2V has positions for
    two: it needs both. Wan 2.2 I2V has no CLIP branch: a last frame is optional."""
    from engine.backends.diffusers.adapter import adapter_for
    from engine.model_library import find_model

    wan22 = tmp_path / "wan22-i2v"
    shutil.copytree(tiny_models / "wan-i2v", wan22)
    config = wan22 / "transformer" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "image_dim": None}))
    traits = {
        name: adapter_for(find_model(name, [tiny_models, tmp_path])).traits()
        for name in ("wan", "wan-i2v", "wan-flf2v", "wan22-i2v")
    }
    assert [traits[n].last_frame for n in traits] == [False, False, True, True]
    assert [traits[n].last_frame_required for n in traits] == [False, False, True, False]
    assert traits["wan-flf2v"].label.startswith("Wan 2.1 FLF2V")
