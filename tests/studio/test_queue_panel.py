"""The queue as a user reads it: step totals, remaining time, headers, a new project's empty
queue, quitting while jobs run; and the window around it keeping its width."""

from __future__ import annotations

import dataclasses
import types

import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from studio_helpers import SlowPrevis, engine_with

from engine.backends import create_backend
from engine.backends.builtin import BuiltinBackend
from engine.models.dit import VideoDiT
from engine.models.dit import preset as dit_preset
from engine.models.pipeline import refine_steps
from engine.models.vae import CausalVideoVAE
from engine.models.vae import preset as vae_preset
from studio.commands import SetShotField

FINISH = 30_000


@pytest.fixture(scope="module")
def tiny_builtin(tmp_path_factory) -> str:
    """The built-in model's code with tiny random weights: fast, and every path real."""
    folder = tmp_path_factory.mktemp("builtin")
    torch.manual_seed(1)
    vae = CausalVideoVAE(vae_preset("tiny"))
    vae.save(folder / "vae.safetensors")
    dit = VideoDiT(dit_preset("tiny"))
    cfg = dataclasses.replace(dit.cfg, latent_channels=vae.cfg.latent_channels)
    VideoDiT(cfg).save(folder / "dit.safetensors")
    return str(folder)


@pytest.fixture
def shipped_theme():
    """The app's own look (Fusion, its style sheet, its 9.5 pt font), which the studio's
    sizes must hold in; the test session's look is restored afterwards."""
    from studio import theme

    app = QApplication.instance()
    saved = (app.style().name(), app.palette(), app.font(), app.styleSheet())
    theme.apply(app)
    yield
    style, palette, font, sheet = saved
    app.setStyleSheet(sheet)
    app.setStyle(style)
    app.setPalette(palette)
    app.setFont(font)


def choose_backend(window, name: str) -> None:
    box = window.inspector.backend_box
    box.setCurrentIndex(box.findData(name))
    box.activated.emit(box.currentIndex())
    assert window.document.current_shot.settings.backend == name


def test_a_drafted_job_shows_one_step_total_from_its_first_step(
    qtbot, make_window, sample, tiny_builtin
):
    """Without a keyframe, a camera move is drafted in two passes: the Progress column
    counts both from the start and every step, never 0/8 -> 3/11 -> 8/8."""
    backends = {"builtin": BuiltinBackend(tiny_builtin)}
    factory = engine_with(lambda name: backends.get(name) or create_backend(name))
    window = make_window(engine_factory=factory, project=sample)
    document = window.document
    shot = document.project.shots[1]  # "Push in on the tree": a dolly, no strokes
    document.set_current_shot(shot.id)
    document.push(SetShotField(document, shot.id, "keyframe", None, "Remove keyframe", False))
    document.push(SetShotField(document, shot.id, "prompt", "", "Clear prompt", False))
    choose_backend(window, "builtin")
    model = window.generation.model
    shown: list[str] = []
    model.dataChanged.connect(
        lambda *_: shown.extend(
            model.index(row, model.PROGRESS).data() for row in range(model.rowCount())
        )
    )
    window.activateWindow()
    QTest.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(shot.takes) == 1, timeout=FINISH)
    steps = shot.settings.steps
    total = steps + refine_steps(steps, shot.settings.guide_strength)
    progress = [text for text in shown if text]
    assert {text.split("/")[1] for text in progress} == {str(total)}
    assert {f"{step}/{total}" for step in range(total + 1)} <= set(progress)  # every step


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    from studio import jobs_model

    fake = FakeClock()
    monkeypatch.setattr(jobs_model, "time", types.SimpleNamespace(monotonic=fake.monotonic))
    return fake


def queue(qtbot):
    from studio.jobs_model import JobListModel
    from studio.queue_panel import QueuePanel

    panel = QueuePanel(JobListModel())
    qtbot.addWidget(panel)
    panel.resize(640, 200)
    panel.show()
    return panel


def remaining_text(panel, row: int = -1) -> str:
    model = panel.model
    row = row % model.rowCount()
    return model.index(row, model.REMAINING).data()


def run_job(model, clock, job_id: str, load_s: float, step_s: float, total: int = 8, upto=None):
    """A job as the engine reports it: `load_s` before its first step, then `step_s` each,
    each progress arriving as it is made (the job's own clock in `elapsed_s`)."""
    from studio.jobs_model import JobRecord

    model.add(JobRecord(job_id, "Shot 1", "s1", 0, "builtin", size=(512, 288, 48)))
    model.update(job_id, status="running")
    started = clock.now
    for step in range(0, total + 1 if upto is None else upto + 1):
        clock.now = started + load_s + step * step_s
        model.progress(job_id, step, total, "steps", clock.now - started)
    return started


def test_remaining_time_is_the_steps_left_at_the_measured_pace(qtbot, clock):
    """A 10 s model load then 0.5 s steps: the first job says "estimating…" until its steps
    are timed, then the steps left x 0.5 s, not a guess that holds the load (36 s)."""
    panel = queue(qtbot)
    model = panel.model
    run_job(model, clock, "a", load_s=10.0, step_s=0.5, upto=1)
    assert remaining_text(panel) == "estimating…"  # one step: the warm-up, not a pace yet
    record = model.record("a")
    clock.now += 0.5
    model.progress("a", 2, 8, "steps", record.marks[-1][2] + 0.5)
    assert remaining_text(panel) == "3.0 s"  # 6 steps x 0.5 s
    clock.now += 1.0  # it counts down between steps
    assert remaining_text(panel) == "2.0 s"
    for step in range(3, 9):
        clock.now += 0.5
        model.progress("a", step, 8, "steps", record.marks[-1][2] + 0.5)
    assert remaining_text(panel) == "finishing…"  # the final decode: not timed by any job yet


def test_a_like_job_is_estimated_from_the_last_one_before_its_own_steps(qtbot, clock):
    panel = queue(qtbot)
    model = panel.model
    run_job(model, clock, "a", load_s=10.0, step_s=0.5)
    clock.now += 1.0  # the final decode after the last step
    model.update("a", status="saving", step=8, run_s=10.0 + 8 * 0.5 + 1.0)
    model.update("a", status="finished")
    from studio.jobs_model import JobRecord

    model.add(JobRecord("b", "Shot 1", "s1", 1, "builtin", size=(512, 288, 48)))
    model.update("b", status="running")  # warm model: no step reported yet
    assert remaining_text(panel) == "5.0 s"  # 8 x 0.5 s + the 1 s decode
    model.add(JobRecord("c", "Shot 1", "s1", 2, "builtin", size=(1024, 576, 48)))
    model.update("c", status="running")
    assert remaining_text(panel) == "estimating…"  # another size: nothing to go by


def test_queue_headers_and_estimates_are_not_clipped(qtbot, shipped_theme, window):
    from studio.jobs_model import JobRecord

    panel = window.queue_panel
    window.queue_dock.raise_()
    model = window.generation.model
    model.add(JobRecord("j", "Ball on the meadow · seed 1", "s", 1, "builtin"))
    model.update("j", status="running")  # a job whose pace is not measured yet
    qtbot.waitUntil(panel.table.isVisible)
    header = panel.table.horizontalHeader()
    metrics = panel.table.fontMetrics()
    for column in (model.STATUS, model.PROGRESS, model.ELAPSED, model.REMAINING):
        name = model.COLUMNS[column]
        assert header.sectionSize(column) >= header.sectionSizeHint(column), name
    shown = model.index(0, model.REMAINING).data()
    assert shown == "estimating…"
    assert header.sectionSize(model.REMAINING) >= metrics.horizontalAdvance(shown) + 8
    model.update("j", status="cancelled")


def test_a_new_project_starts_with_an_empty_queue(qtbot, make_window, sample, dialogs, tmp_path):
    backend = SlowPrevis(delay=0.0)
    window = make_window(engine_factory=engine_with(lambda name: backend), project=sample)
    model = window.generation.model
    window.generate()
    qtbot.waitUntil(lambda: model.records()[-1].status == "finished", timeout=FINISH)
    backend.delay = 0.2
    with qtbot.waitSignal(window.bridge.preview_ready, timeout=FINISH):
        (running,) = window.generate()
    dialogs.paths["new"] = tmp_path / "Other"
    dialogs.switch_answer = "cancel"  # "cancel the jobs and switch"
    assert window.actions_by_name["new"].isEnabled()
    window.actions_by_name["new"].trigger()
    assert window.document.project.name == "Other"
    qtbot.waitUntil(lambda: window.bridge.running_job is None, timeout=FINISH)
    qtbot.wait(50)  # the cancelled event is delivered
    assert model.rowCount() == 0
    assert window.queue_panel.summary.full_text() == ""


def test_quit_and_cancel_hides_at_once_and_stops_the_engine(qtbot, make_window, sample, dialogs):
    backend = SlowPrevis(delay=0.5)  # 48 frames: 24 s unless cancelled
    window = make_window(engine_factory=engine_with(lambda name: backend), project=sample)
    with qtbot.waitSignal(window.bridge.preview_ready, timeout=FINISH):
        (job,) = window.generate()
    seen = {}
    shutdown = window.bridge.shutdown

    def watched_shutdown(timeout=10.0):
        seen["visible"] = window.isVisible()
        return shutdown(timeout)

    window.bridge.shutdown = watched_shutdown
    dialogs.quit_while_busy = True  # "Quit and cancel them?" Yes
    assert window.close()
    assert seen["visible"] is False  # the window went before the engine was waited for
    assert window.engine_stopped and not window.bridge._engine.is_alive()
    assert window.generation.model.record(job).status != "finished"
    assert window.document.current_shot.takes == []


def test_the_window_keeps_its_width_through_a_generation(qtbot, shipped_theme, make_window, sample):
    backend = SlowPrevis(delay=0.05)
    window = make_window(engine_factory=engine_with(lambda name: backend), project=sample)
    window.queue_dock.raise_()
    qtbot.wait(100)
    width = window.width()
    with qtbot.waitSignal(window.bridge.preview_ready, timeout=FINISH):
        window.generate()
    qtbot.wait(100)
    assert window.width() == width  # "1 running · 0 queued" took no width of its own
    qtbot.waitUntil(lambda: not window.generation.active_jobs, timeout=FINISH)
    assert window.width() == width


def test_the_backend_description_shows_whole(qtbot, shipped_theme, window):
    choose_backend(window, "builtin")
    window.inspector_dock.raise_()
    note = window.inspector.backend_note
    qtbot.waitUntil(note.isVisible)
    qtbot.wait(50)
    assert note.text() == window.inspector.capabilities["builtin"].description
    assert note.height() >= note.heightForWidth(note.width())  # every line of it


def test_added_shots_are_named_for_their_place_and_never_twice(qtbot, window):
    project = window.document.project
    window.timeline.add_button.click()  # after the first shot, the second of three
    assert [s.name for s in project.shots][1] == "Shot 2"
    window.shot_list.add_button.click()  # at the end: the fourth
    assert project.shots[-1].name == "Shot 4"
    window.document.set_current_shot(project.shots[0].id)
    window.timeline.add_button.click()  # the second place again: "Shot 2" is taken
    names = [s.name for s in project.shots]
    assert names[1] == "Shot 3" and len(set(names)) == len(names)
