"""Real models in the studio: Preferences finds them, the inspector offers and describes
them, Generate carries the memory mode, and "Decode again" finishes a clip whose decode ran
out of memory. The models are tiny diffusers pipelines built from config in the test."""

from __future__ import annotations

import dataclasses
import json

import pytest
from studio_helpers import DecodeOutOfMemoryOnce, engine_with

from studio import preferences
from studio.commands import SetResolution, SetShotField, SetShotSetting
from studio.jobs_model import JobListModel

TINY = "diffusers:tiny-wan"


@pytest.fixture(scope="module")
def model_root(tmp_path_factory):
    """A folder holding one tiny Wan 2.1 text-to-video model, built once for the module."""
    pytest.importorskip("diffusers")
    from engine.backends.diffusers.tiny import save_tiny_pipeline

    root = tmp_path_factory.mktemp("models")
    save_tiny_pipeline("wan", root / "tiny-wan")
    return root


@pytest.fixture
def bad_root(tmp_path):
    """A folder whose model names a pipeline Kinema does not run."""
    model = tmp_path / "odd-models" / "flux-thing"
    model.mkdir(parents=True)
    (model / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))
    return model.parent


def _add_folder_and(result: bool, memory: str | None = None, seen: list | None = None):
    """A script for the Preferences dialog: press Add…, maybe pick a memory mode, OK/Cancel."""

    def script(dialog) -> bool:
        if seen is not None:
            seen.append(("before", dialog.models_summary.text(), dialog.model_texts()))
        dialog.add_button.click()
        if memory is not None:
            dialog.memory_box.setCurrentIndex(dialog.memory_box.findData(memory))
        if seen is not None:
            seen.append(("after", dialog.models_summary.text(), dialog.model_texts()))
        return result

    return script


def _choose(inspector, name: str) -> None:
    box = inspector.backend_box
    index = box.findData(name)
    assert index >= 0, name
    box.setCurrentIndex(index)
    box.activated.emit(index)  # what a click on the item does


def _backend_names(inspector) -> list[str]:
    box = inspector.backend_box
    return [box.itemData(i) for i in range(box.count()) if box.itemData(i) is not None]


def test_a_model_folder_added_in_preferences_is_offered_and_described(
    qtbot, window, dialogs, model_root
):
    inspector = window.inspector
    assert TINY not in _backend_names(inspector)
    dialogs.paths["model_folder"] = model_root
    seen = []
    dialogs.preferences_script = _add_folder_and(True, seen=seen)

    assert window.show_preferences()

    (_, before, listed_before), (_, after, listed) = seen
    assert before.startswith("No models found") and listed_before == []
    assert after == "1 model found." and listed[0].startswith("Wan 2.1 T2V (tiny-wan)\n")
    assert preferences.load() == preferences.Preferences((str(model_root),), "auto")
    # the menu was rebuilt without a restart: the model by its label, described on hover
    box = inspector.backend_box
    caps = window.bridge.capabilities()[TINY]
    index = box.findData(TINY)
    assert box.itemText(index) == caps.label == "Wan 2.1 T2V (tiny-wan)"
    assert box.itemData(index, 3) == caps.description  # Qt.ToolTipRole
    assert box.itemData(index - 1) is None  # a line between the built-in backends and models

    _choose(inspector, TINY)
    shot = window.document.current_shot
    assert shot.settings.backend == TINY
    note = inspector.backend_note.text()
    assert "Makes 4k+1 frames at 16 fps" in note and "retimed to the shot's 24 fps" in note
    # a text-to-video model, a shot with a keyframe: the guide carries it
    assert "the keyframe guides it loosely" in note
    assert "camera and strokes steer it" in note
    assert inspector.steps_spin.isEnabled() and inspector.guide_spin.isEnabled()
    qtbot.waitUntil(lambda: inspector.memory_line.startswith("Made at"), timeout=30_000)
    assert "33 frames at 16 fps" in inspector.memory_line  # 2 s of the shot at 16 fps
    assert inspector.generate_button.isEnabled()

    window.document.push(SetShotField(window.document, shot.id, "duration", 24))  # 1 s
    qtbot.waitUntil(lambda: "17 frames at 16 fps" in inspector.memory_line, timeout=30_000)

    window.document.undo_stack.undo()
    window.document.undo_stack.undo()  # the backend choice is one undoable step
    assert shot.settings.backend == "previs"
    assert inspector.memory_line == "" and "4k+1" not in inspector.backend_note.text()


def test_preferences_sit_in_the_edit_menu_with_a_shortcut(window):
    edit = window.menuBar().actions()[1].menu()
    [action] = [a for a in edit.actions() if a.text().replace("&", "") == "Preferences…"]
    assert action is window.actions_by_name["preferences"]
    assert action.shortcuts()  # the platform's own, and Ctrl+, everywhere
    assert any(k.toString() == "Ctrl+," for k in action.shortcuts())


def test_cancelling_preferences_changes_nothing(window, dialogs, model_root):
    dialogs.paths["model_folder"] = model_root
    dialogs.preferences_script = _add_folder_and(False, memory="gpu")
    assert not window.show_preferences()
    assert TINY not in _backend_names(window.inspector)
    assert TINY not in window.bridge.capabilities()
    assert preferences.load() == preferences.Preferences()
    assert window.preferences == preferences.Preferences()


def test_a_model_folder_kinema_cannot_run_says_why(window, dialogs, bad_root):
    dialogs.paths["model_folder"] = bad_root
    seen = []
    dialogs.preferences_script = _add_folder_and(True, seen=seen)
    assert window.show_preferences()

    _, summary, listed = seen[-1]
    assert summary == "1 model found: 0 ready, 1 cannot run."
    assert listed[0].startswith("flux-thing: flux-thing is a FluxPipeline, which Kinema does not")

    inspector = window.inspector
    _choose(inspector, "diffusers:flux-thing")
    assert inspector.backend_box.currentText() == "flux-thing (cannot run)"
    assert "FluxPipeline" in inspector.backend_note.text()
    assert not inspector.generate_button.isEnabled()
    assert "FluxPipeline" in inspector.generate_button.toolTip()
    assert inspector.memory_line == ""


def test_the_memory_preference_reaches_the_request(qtbot, window, dialogs):
    dialogs.preferences_script = lambda dialog: (
        dialog.memory_box.setCurrentIndex(dialog.memory_box.findData("group-offload")) or True
    )
    assert window.show_preferences()
    assert preferences.load().memory == "group-offload"
    submitted = []
    real_submit = window.bridge.submit
    window.bridge.submit = lambda request: submitted.append(request) or real_submit(request)

    shot = window.document.current_shot
    with qtbot.waitSignal(window.generation.take_added, timeout=30_000):
        window.generate()
    assert [r.memory for r in submitted] == ["group-offload"]
    assert shot.active().request["memory"] == "group-offload"  # the take records it

    window.generation.rerun(shot.id, shot.active())  # a re-run uses today's preference too
    assert submitted[-1].memory == "group-offload"
    qtbot.waitUntil(lambda: window.generation.active_jobs == 0, timeout=30_000)


def test_decode_again_finishes_the_clip_on_the_same_shot(qtbot, make_window, sample):
    backend = DecodeOutOfMemoryOnce()
    window = make_window(engine_factory=engine_with(lambda name: backend), project=sample)
    panel, model = window.queue_panel, window.generation.model
    shot = window.document.current_shot
    assert panel.decode_button.isHidden()

    [first] = window.generate()
    qtbot.waitUntil(lambda: model.record(first).status == "failed", timeout=30_000)
    record = model.record(first)
    assert record.kind == "decode-memory" and record.decodable
    assert "Decode again" in record.message
    assert not panel.decode_button.isHidden() and panel.decode_button.isEnabled()
    assert model.index(model.row_of(first), JobListModel.CANCEL).data() == "↻"
    assert shot.takes == []

    with qtbot.waitSignal(window.generation.take_added, timeout=30_000) as added:
        panel.decode_button.click()
    assert added.args[0] == shot.id  # the take lands on the shot that asked for it
    assert [t.id for t in shot.takes] == [added.args[1]]
    failed, again = backend.requests
    assert again.tiled_decode and not failed.tiled_decode
    assert again.job_id != failed.job_id
    assert dataclasses.replace(again, tiled_decode=False, job_id=failed.job_id) == failed
    assert not model.record(first).decodable  # offered once
    assert model.record(again.job_id).status == "finished"
    assert panel.decode_button.isHidden()


def test_decode_again_from_the_row_glyph(qtbot, make_window, sample):
    backend = DecodeOutOfMemoryOnce()
    window = make_window(engine_factory=engine_with(lambda name: backend), project=sample)
    model = window.generation.model
    [first] = window.generate()
    qtbot.waitUntil(lambda: model.record(first).status == "failed", timeout=30_000)
    index = model.index(model.row_of(first), JobListModel.CANCEL)
    with qtbot.waitSignal(window.generation.take_added, timeout=30_000):
        window.queue_panel.table.clicked.emit(index)  # what a click on "↻" does
    assert [r.tiled_decode for r in backend.requests] == [False, True]


def test_a_tiny_wan_model_forms_a_take_in_the_viewer(qtbot, window, dialogs, model_root):
    dialogs.paths["model_folder"] = model_root
    dialogs.preferences_script = _add_folder_and(True)
    assert window.show_preferences()
    document, inspector = window.document, window.inspector
    shot = document.current_shot
    _choose(inspector, TINY)
    document.push(SetResolution(document, 32, 32))
    document.push(SetShotField(document, shot.id, "duration", 12))  # 0.5 s: 9 frames at 16 fps
    document.push(SetShotSetting(document, shot.id, "steps", 3))
    previews = []
    window.generation.preview_ready.connect(lambda *args: previews.append(args[3]))

    with qtbot.waitSignal(window.generation.take_added, timeout=120_000):
        window.generate()
    assert previews  # the clip formed in the viewer step by step
    take = shot.active()
    assert take.backend == TINY and take.request["memory"] == "auto"
    qtbot.waitUntil(lambda: window.viewer.kind == "take", timeout=30_000)
    assert window.viewer.available_frames == 12
