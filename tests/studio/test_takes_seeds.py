"""Seeds and undo around generation, as editors expect them: every Generate a new seed unless
locked, variations never repeating the shot's take, a take's seed one click away, and undo
after a generation giving the previous take back without unmaking the new one."""

from __future__ import annotations

from PySide6.QtCore import Qt
from studio_helpers import click, finished_takes

from engine.project import Project
from engine.render import request_for_shot


def click_take(qtbot, panel, take_id):
    item = panel.item_for(take_id)
    rect = panel.list.visualItemRect(item)
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert panel.selected_take().id == take_id


def _recorded(request: dict) -> dict:
    return {k: v for k, v in request.items() if k not in ("job_id", "project_dir")}


def test_generate_again_draws_a_new_seed_that_the_saved_shot_renders(qtbot, window, sample):
    shot = window.document.current_shot
    assert not window.inspector.lock_box.isChecked()  # Seed Lock is off by default
    first_seed = shot.seed
    click(qtbot, window.inspector.generate_button)
    finished_takes(qtbot, window, 1)
    click(qtbot, window.inspector.generate_button)
    one, two = finished_takes(qtbot, window, 2)
    assert len({first_seed, one.seed, two.seed}) == 3  # a new seed per Generate
    assert window.inspector.seed_spin.value() == two.seed == shot.seed  # shown, and kept
    # `kinema render` of the saved project builds the latest Generate's very request
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    saved = Project.load(sample)
    again = request_for_shot(saved, saved.shots[0]).to_dict()
    assert _recorded(again) == _recorded(two.request)


def test_variations_never_repeat_the_take_the_shot_seed_made(qtbot, window):
    shot = window.document.current_shot
    queue = window.queue_panel
    queue.variations_spin.setValue(3)
    click(qtbot, window.inspector.lock_box)  # locked: Generate repeats, variations go on
    locked = shot.seed
    click(qtbot, queue.variations_button)
    takes = finished_takes(qtbot, window, 3)
    assert [t.seed for t in takes] == [locked + 1, locked + 2, locked + 3]
    assert shot.seed == locked
    click(qtbot, window.inspector.lock_box)  # unlocked: a fresh run, kept as the shot's seed
    click(qtbot, queue.variations_button)
    fresh = [t.seed for t in finished_takes(qtbot, window, 6)[3:]]
    assert locked not in fresh and fresh == [fresh[0], fresh[0] + 1, fresh[0] + 2]
    assert shot.seed == fresh[0]


def test_use_this_takes_seed_sets_and_locks_it_in_one_undo_step(qtbot, window):
    shot = window.document.current_shot
    click(qtbot, window.inspector.generate_button)
    finished_takes(qtbot, window, 1)
    click(qtbot, window.inspector.generate_button)
    one, two = finished_takes(qtbot, window, 2)
    panel = window.takes_panel
    click_take(qtbot, panel, one.id)
    steps = window.document.undo_stack.count()
    click(qtbot, panel.seed_button)
    assert shot.seed == one.seed and window.inspector.seed_spin.value() == one.seed
    assert window.inspector.lock_box.isChecked()
    assert window.document.undo_stack.count() == steps + 1
    assert window.undo_action.text() == f"&Undo Use the seed of Take 1 ({one.seed})"
    # locked on that seed, Generate makes Take 1's request again
    click(qtbot, window.inspector.generate_button)
    three = finished_takes(qtbot, window, 3)[-1]
    assert three.seed == one.seed and _recorded(three.request) == _recorded(one.request)
    for _ in range(2):  # back over "Use Take 3" and then over the seed
        qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert shot.seed == two.seed and not window.inspector.lock_box.isChecked()


def test_undo_after_generating_gives_the_previous_take_back_and_keeps_the_new(
    qtbot, window, sample
):
    shot = window.document.current_shot
    click(qtbot, window.inspector.generate_button)
    finished_takes(qtbot, window, 1)
    click(qtbot, window.inspector.generate_button)
    one, two = finished_takes(qtbot, window, 2)
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert not window.document.is_dirty
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert shot.takes == [one, two] and shot.active_take == one.id
    assert (sample / two.folder).is_dir()
    rows = [window.generation.model.record(r.job_id) for r in window.generation.model.records()]
    assert [(r.status, r.message) for r in rows] == [("finished", "Take 1"), ("finished", "Take 2")]
    qtbot.waitUntil(lambda: window.viewer.source == one.id)  # the viewer shows Take 1 again
    # the take list is not what was saved before, whatever the history says: save, reopen
    assert window.document.is_dirty
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    reopened = Project.load(sample).shots[0]
    assert [t.id for t in reopened.takes] == [one.id, two.id]
    assert reopened.active_take == one.id
    # deleting stays its own undoable step
    click_take(qtbot, window.takes_panel, two.id)
    click(qtbot, window.takes_panel.delete_button)
    assert shot.takes == [one]
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert shot.takes == [one, two]
