"""Undo commands: readable names, merged typing, takes and shots restored exactly."""

from __future__ import annotations

import pytest

from engine.project import Project, Shot, Take
from studio import commands
from studio.commands import (
    AddShot,
    AddTake,
    DeleteTake,
    RemoveShot,
    ReplaceContent,
    SetActiveTake,
    SetShotField,
    SetShotSetting,
)
from studio.document import Document


def take(n: int) -> Take:
    return Take(
        id=f"t{n}", folder=f"takes/s/t{n}", frames=4, fps=24.0, width=16, height=16,
        backend="previs", seed=n, created="", label=f"Take {n}",
    )  # fmt: skip


@pytest.fixture
def document(qtbot):
    project = Project(name="P", shots=[Shot(name="One", prompt="a"), Shot(name="Two")])
    return Document(project)


def test_typing_merges_into_one_step_until_a_pause(document, monkeypatch):
    shot = document.current_shot
    clock = [100.0]
    monkeypatch.setattr(commands.time, "monotonic", lambda: clock[0])
    for text in ("ab", "abc", "abcd"):
        document.push(SetShotField(document, shot.id, "prompt", text))
    assert document.undo_stack.count() == 1 and shot.prompt == "abcd"
    clock[0] += commands.MERGE_WINDOW_S + 1
    document.push(SetShotField(document, shot.id, "prompt", "abcde"))
    assert document.undo_stack.count() == 2
    document.undo_stack.undo()
    assert shot.prompt == "abcd"
    document.undo_stack.undo()
    assert shot.prompt == "a"


def test_typing_back_to_the_start_leaves_no_step(document):
    shot = document.current_shot
    document.push(SetShotField(document, shot.id, "prompt", "ab"))
    document.push(SetShotField(document, shot.id, "prompt", "a"))
    assert document.undo_stack.count() == 0 and not document.is_dirty


def test_signals_tell_views_what_changed(qtbot, document):
    shot = document.current_shot
    with qtbot.waitSignal(document.shot_changed) as blocker:
        document.push(SetShotSetting(document, shot.id, "steps", 30))
    assert blocker.args == [shot.id] and shot.settings.steps == 30
    with qtbot.waitSignal(document.dirty_changed) as blocker:
        document.undo_stack.undo()
    assert blocker.args == [False]


def test_takes_add_delete_and_activate(document):
    shot = document.current_shot
    document.push(AddTake(document, shot.id, take(1)))
    document.push(AddTake(document, shot.id, take(2)))
    assert shot.active_take == "t2"
    document.push(SetActiveTake(document, shot.id, "t1"))
    document.push(DeleteTake(document, shot.id, "t1"))
    assert [t.id for t in shot.takes] == ["t2"] and shot.active_take == "t2"
    names = [document.undo_stack.text(i) for i in range(document.undo_stack.count())]
    assert names == ["Add Take 1 to One", "Add Take 2 to One", "Use Take 1", "Delete Take 1"]
    document.undo_stack.undo()
    assert [t.id for t in shot.takes] == ["t1", "t2"] and shot.active_take == "t1"
    while document.undo_stack.canUndo():
        document.undo_stack.undo()
    assert shot.takes == [] and shot.active_take is None


def test_shots_add_and_remove(document):
    first, second = document.project.shots
    document.push(RemoveShot(document, first.id))
    assert document.project.shots == [second] and document.current_shot_id == second.id
    document.undo_stack.undo()
    assert document.project.shots == [first, second]
    extra = Shot(name="Three")
    document.push(AddShot(document, extra))
    assert document.current_shot_id == extra.id
    document.undo_stack.undo()
    assert extra not in document.project.shots


def test_replace_content_is_undoable(document):
    other = Project(name="P", shots=[Shot(name="Recovered")])
    document.push(ReplaceContent(document, other, "Recover autosaved changes"))
    assert [s.name for s in document.project.shots] == ["Recovered"]
    assert document.current_shot.name == "Recovered"
    document.undo_stack.undo()
    assert [s.name for s in document.project.shots] == ["One", "Two"]
