"""Plan from prompt in the studio: the storyboard fills the shot as one undo step, the previs
plays it, each planned stroke carries its label, and Generate plans a bare shot first."""

from __future__ import annotations

import dataclasses

import numpy as np
from studio_helpers import engine_with

from engine.backends import create_backend
from engine.project import Shot
from engine.storyboard import plan_picture
from studio.commands import AddShot, SetShotField, SetShotSetting

FINISH_TIMEOUT = 30_000
PROMPT = "a red ball bounces across the sand at dusk, the camera pans left"


def bare_shot(window, prompt: str = PROMPT) -> Shot:
    document = window.document
    shot = Shot(name="Planned", duration=24)
    document.push(AddShot(document, shot))
    document.set_current_shot(shot.id)
    document.push(SetShotField(document, shot.id, "prompt", prompt, merge=False))
    return shot


def test_plan_from_prompt_fills_the_storyboard_in_one_undo_step(qtbot, make_window, sample):
    window = make_window(project=sample)
    shot = bare_shot(window)
    steps = window.document.undo_stack.count()
    assert window.inspector.plan_button.isEnabled()
    with qtbot.waitSignal(window.storyboard.planned, timeout=FINISH_TIMEOUT):
        window.actions_by_name["plan"].trigger()
    assert window.document.undo_stack.count() == steps + 1
    assert window.document.undo_stack.undoText() == "Plan from prompt"
    plan = shot.plan
    assert [o.kind for o in plan.spec.objects] == ["ball"]
    assert (plan.spec.ground, plan.spec.sky, plan.spec.camera_move) == ("sand", "dusk", "pan-left")
    assert [s.name for s in shot.strokes] == ["red ball · bounces"]
    assert shot.camera.keyframes and shot.camera.sample(23).pan < 0
    # the storyboard shows before any model runs: labelled strokes, the previs of the plan
    labels = [s.label for s in window.viewer.view.strokes]
    assert labels == ["red ball · bounces"]
    assert window.presenter.previs_mode
    project = window.document.project
    qtbot.waitUntil(lambda: window.live_previs.base_image(shot) is not None)
    np.testing.assert_array_equal(
        window.live_previs.base_image(shot), plan_picture(plan, project.width, project.height)
    )
    qtbot.waitUntil(lambda: window.viewer.kind == "previs", timeout=FINISH_TIMEOUT)
    assert "red ball · bounces" in window.inspector.plan_note.text()
    assert window.inspector.plan_button.text() == "Plan again"
    window.brush_dock.raise_()
    window.brush_panel.canvas.repaint()  # paints the labels without error
    assert window.brush_panel.list.count() == 1

    window.document.undo_stack.undo()
    assert shot.plan is None and shot.strokes == [] and shot.camera.keyframes == []
    assert window.viewer.view.strokes == []
    window.document.undo_stack.redo()
    assert shot.plan is plan and [s.name for s in shot.strokes] == ["red ball · bounces"]


def test_generate_on_the_builtin_model_plans_a_bare_shot_first(qtbot, make_window, sample):
    previs = create_backend("previs")

    class PaintsPlans:
        """The previs dressed as a model that paints storyboards (no weights needed)."""

        name = "builtin"

        def capabilities(self):
            return dataclasses.replace(previs.capabilities(), name="builtin", storyboard=True)

        def load(self, device):
            previs.load(device)

        def generate(self, request, controls, report, cancel):
            return previs.generate(request, controls, report, cancel)

    window = make_window(engine_factory=engine_with(lambda name: PaintsPlans()), project=sample)
    shot = bare_shot(window, "two blue cubes slide on the snow")
    window.document.push(SetShotSetting(window.document, shot.id, "backend", "builtin"))
    with qtbot.waitSignal(window.generation.take_added, timeout=FINISH_TIMEOUT):
        assert window.generate() == []  # the plan comes first, then the job
    assert [s.name for s in shot.strokes] == ["blue cube · slides"] * 2
    (take,) = shot.takes
    assert take.request["shot"]["plan"]["prompt"] == "two blue cubes slide on the snow"
    # a shot with a plan (or strokes, or a keyframe) is generated as it is
    steps = window.document.undo_stack.count()
    with qtbot.waitSignal(window.generation.take_added, timeout=FINISH_TIMEOUT):
        assert len(window.generate()) == 1
    assert window.document.undo_stack.count() == steps + 2  # a new seed, the take; no plan
