"""Hostile project files: each one-field edit from the issue, and a seeded fuzz.

Before, each of these was a raw traceback and exit 1 (RecursionError, OverflowError,
ValueError, IndexError, ENAMETOOLONG, TypeError), or took gigabytes or many seconds: a mask
PNG declaring 32768x32768 took 9 GB, 280,000 camera keys took 16 s to load.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from project_fuzz import SAMPLE, png_header, run

from engine.errors import ProjectError
from engine.project import PROJECT_FILE, Project

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def folder(tmp_path) -> Path:
    target = tmp_path / "Meadow.kinema"
    shutil.copytree(SAMPLE, target)
    return target


def write(folder: Path, change=None, text: str | None = None) -> None:
    data = json.loads((SAMPLE / PROJECT_FILE).read_text())
    if change is not None:
        change(data)
    (folder / PROJECT_FILE).write_text(text if text is not None else json.dumps(data))


def refused(folder: Path, field: str, budget_mb: float = 64, budget_s: float = 2.0) -> str:
    """Load, expecting a ProjectError naming `field`, within a memory and time budget."""
    tracemalloc.start()
    started = time.process_time()
    try:
        with pytest.raises(ProjectError) as caught:
            Project.load(folder)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    spent = time.process_time() - started
    assert caught.value.field is not None and field in caught.value.field, str(caught.value)
    assert peak < budget_mb * 2**20, f"{peak / 2**20:.0f} MB"
    assert spent < budget_s, f"{spent:.1f} s"
    return str(caught.value)


def keyframes(data):
    return data["shots"][0]["camera"]["keyframes"]


def test_json_nested_a_thousand_deep(folder):
    text = (SAMPLE / PROJECT_FILE).read_text().rstrip()[:-1] + ', "x": ' + "[" * 1000
    write(folder, text=text + "]" * 1000 + "}")
    assert "deep" in refused(folder, "x[0]")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(fps=10**400), "fps"),
        (lambda d: keyframes(d)[1]["pose"].update(pan=10**400), "keyframes[1].pose.pan"),
        (lambda d: keyframes(d)[0]["pose"].update(zoom=-(10**300)), "keyframes[0].pose.zoom"),
        (lambda d: keyframes(d)[0].update(easing="bezier", handles=[0.2, 10**400, 0.5, 1]),
         "keyframes[0].handles"),
        (lambda d: keyframes(d)[0].update(frame=10**400), "keyframes[0].frame"),
        (lambda d: d["shots"][0]["strokes"][0]["trajectory"][0].update(x=10**400),
         "trajectory[0].x"),
        (lambda d: d["shots"][0]["strokes"][0]["trajectory"][0].update(frame=-(10**400)),
         "trajectory[0].frame"),
        (lambda d: d["shots"][0].update(seed=10**400), "shots[0].seed"),
        (lambda d: d["shots"][0]["settings"].update(guidance=10**400), "settings.guidance"),
    ],
)  # fmt: skip
def test_huge_integers_name_their_field(folder, change, field):
    write(folder, change)
    refused(folder, field)


def test_an_integer_of_5000_digits_names_its_field(folder):
    text = (SAMPLE / PROJECT_FILE).read_text().replace('"fps": 24.0', '"fps": 1' + "0" * 5000)
    write(folder, text=text)
    assert "4000 digits" in refused(folder, "fps")


@pytest.mark.parametrize("text", ['"\\ud800"', "[1, 2]", '"x"', "null", "1e999"])
def test_a_file_that_holds_no_object_is_refused(folder, text):
    """The 10,000-case fuzz found a bare string with a surrogate escape crashing the repair."""
    write(folder, text=text)
    with pytest.raises(ProjectError):
        Project.load(folder)


def test_a_float_past_the_range_names_its_field(folder):
    text = (SAMPLE / PROJECT_FILE).read_text().replace('"zoom": 1.15', '"zoom": 1e400')
    write(folder, text=text)
    refused(folder, "keyframes[1].pose.zoom")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["shots"][0].update(keyframe="."), "shots[0].keyframe"),
        (lambda d: d["shots"][0].update(keyframe="media/" + "k" * 300 + ".png"), "keyframe"),
        (lambda d: d["shots"][0].update(active_take=[]), "shots[0].active_take"),
        (lambda d: d["shots"][0].update(active_take={}), "shots[0].active_take"),
        (lambda d: d["shots"][0].update(prompt=["a"]), "shots[0].prompt"),
        (lambda d: d["shots"][0]["strokes"][0].update(kind=[]), "strokes[0].kind"),
        (lambda d: d["shots"][0]["strokes"][0].update(color=7), "strokes[0].color"),
        (lambda d: keyframes(d)[0].update(easing={}), "keyframes[0].easing"),
    ],
)
def test_odd_values_name_their_field(folder, change, field):
    write(folder, change)
    refused(folder, field)


def test_a_mask_declaring_32768_squared_is_refused_before_decoding(folder):
    write(folder, lambda d: d["shots"][0]["strokes"][0].update(mask_png=png_header(32768, 32768)))
    assert "pixels" in refused(folder, "strokes[0].mask_png", budget_mb=16)


def test_masks_together_past_the_budget_are_refused_before_decoding(folder):
    def many(d):
        stroke = d["shots"][0]["strokes"][0]
        d["shots"][0]["strokes"] = [dict(stroke, mask_png=png_header(4096, 4096))] * 4

    write(folder, many)
    assert "million pixels" in refused(folder, "strokes[2].mask_png", budget_mb=16)


def test_280000_camera_keys_are_refused_in_well_under_two_seconds(folder):
    def many(d):
        key = keyframes(d)[0]
        d["shots"][0]["camera"]["keyframes"] = [dict(key, frame=i) for i in range(280_000)]

    write(folder, many)
    with pytest.raises(ProjectError, match="objects and lists"):
        started = time.process_time()
        Project.load(folder)
    assert time.process_time() - started < 2.0


def test_camera_keys_past_the_cap_name_the_shot(folder):
    def many(d):
        key = keyframes(d)[0]
        d["shots"][0]["camera"]["keyframes"] = [dict(key, frame=i) for i in range(10_001)]

    write(folder, many)
    assert "10000" in refused(folder, "shots[0].camera.keyframes", budget_mb=200)


def test_a_file_larger_than_any_project_is_refused_unread(folder):
    with open(folder / PROJECT_FILE, "wb") as handle:
        handle.truncate(200 * 2**20)
    tracemalloc.start()
    with pytest.raises(ProjectError, match="MB"):
        Project.load(folder)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 2**20


def test_a_clean_project_at_the_limits_opens_in_under_two_seconds(folder):
    """What the caps allow must still open quickly: 40,000 camera keys over five shots."""

    def many(d):
        shot = d["shots"][0]
        key = keyframes(d)[0]
        keys = [dict(key, frame=i) for i in range(8_000)]
        d["shots"] = [dict(shot, id=f"s{i}", camera={"keyframes": keys}) for i in range(5)]

    write(folder, many)
    started = time.process_time()
    project = Project.load(folder)
    assert sum(len(s.camera.keyframes) for s in project.shots) == 40_000
    assert time.process_time() - started < 2.0


# ----------------------------------------------------------------------------- fuzz


def test_fuzzed_projects_load_or_are_refused_with_a_sentence(tmp_path):
    """300 seeded hostile files in seconds: none crashes, none takes a gigabyte."""
    report = run(seed=15, count=300, workdir=tmp_path, heavy=False)
    print(f"\nfuzz (300): {report.as_dict()}")
    assert report.crashes == []
    assert report.cases == report.loaded + report.refused_with_field + report.refused_file
    assert report.peak_traced_mb < 1024
    assert report.slowest_cpu_s < 2.0


@pytest.mark.slow
@pytest.mark.timeout(7200)
def test_ten_thousand_fuzzed_projects(tmp_path):
    """The long run, in a process of its own so its peak memory is its own."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "project_fuzz.py"), "2026", "10000"],
        capture_output=True,
        text=True,
        timeout=3600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"\nfuzz (10,000): {report}")
    assert report["cases"] == 10_000 and report["crashes"] == []
    assert report["peak_traced_mb"] < 1024 and report["max_rss_mb"] < 1024
    assert report["slowest_cpu_s"] < 2.0


# ----------------------------------------------------------------------------- the storyboard plan


def planned(folder: Path, change) -> None:
    from engine.storyboard.plan import plan_prompt

    def edit(data):
        plan = plan_prompt("a red ball rolls right", seed=3).to_dict()
        change(plan)
        data["shots"][0]["plan"] = plan

    write(folder, edit)


def test_a_plan_saved_by_the_studio_loads(folder):
    planned(folder, lambda plan: None)
    assert Project.load(folder).shots[0].plan is not None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p["spec"]["objects"][0].update(radius=10**400), "objects[0].radius"),
        (lambda p: p["spec"]["objects"][0]["position"].__setitem__(0, 10**400), "position[0]"),
        (lambda p: p["spec"]["objects"][0].update(kind=[]), "objects[0].kind"),
        (lambda p: p["spec"].update(objects=p["spec"]["objects"] * 1_000), "spec.objects"),
        (lambda p: p.update(prompt="x" * 100_000), "plan.prompt"),
        (lambda p: p.update(notices=["n"] * 10_000), "plan.notices"),
        (lambda p: p.update(seed=10**400), "plan.seed"),
        (lambda p: p["spec"].update(camera_pitch=1e308), "spec.camera_pitch"),
    ],
)
def test_a_hostile_plan_names_its_field(folder, change, field):
    planned(folder, change)
    refused(folder, field)
