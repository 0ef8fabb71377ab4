"""Nothing the user made is lost: two windows on one project, late takes, missing files,
text no file can hold, and a crash dialog that tells the truth.

Each test is a case that lost work or refused to open before: B's clean close deleted the
take A had just made and A's autosave; a take finishing after another project was opened
was deleted at the next close; a missing keyframe kept the project from opening at all.
"""

from __future__ import annotations

import json
import os
import shutil

from studio_helpers import SlowPrevis, engine_with

from engine.lock import LOCK_FILE, read_owner
from engine.project import PROJECT_FILE, Project

FINISH_TIMEOUT = 15_000


def finished_take(qtbot, window, shot=None, count=1):
    shot = shot or window.document.current_shot
    qtbot.waitUntil(lambda: len(shot.takes) >= count, timeout=FINISH_TIMEOUT)
    return shot.takes[-1]


def close_cleanly(window) -> None:
    window.shutdown(release_lock=False)
    window.files.close()


# ----------------------------------------------------------------------------- two windows


def test_a_second_window_opens_read_only_and_writes_nothing(qtbot, make_window, sample, dialogs):
    from studio.autosave import autosave_path

    first = make_window(project=sample, autosave_interval_ms=3_600_000)
    take = finished_take(qtbot, first) if first.generate() else None
    qtbot.keyClicks(first.inspector.negative_edit, "blurry")
    with qtbot.waitSignal(first.files.autosaver.saved, timeout=5000):
        assert first.files.autosaver.autosave_now()

    dialogs.lock_answer = "read-only"
    second = make_window(project=sample)
    assert dialogs.locked_asked and f"process {os.getpid()}" in dialogs.locked_asked[-1]
    assert second.files.read_only and "(read-only)" in second.windowTitle()
    qtbot.keyClicks(second.inspector.name_edit, " (B)")
    assert not second.files.save()
    assert "read-only" in dialogs.errors[-1][1] and "Save As" in dialogs.errors[-1][1]
    assert not second.files.autosaver.autosave_now()
    assert second.generate() == []  # its take would land in the other window's project
    close_cleanly(second)  # the clean close of B used to delete A's new take and autosave

    assert (sample / take.folder / "frames").is_dir()
    assert autosave_path(sample).is_file()
    assert read_owner(sample).token == first.files.lock.owner.token
    first.files.save()
    saved = Project.load(sample)
    assert saved.shots[0].take(take.id) is not None
    assert saved.shots[0].negative_prompt == "blurry" and not saved.shots[0].name.endswith("(B)")


def test_taking_over_stops_the_first_window_from_writing(qtbot, make_window, sample, dialogs):
    first = make_window(project=sample)
    dialogs.lock_answer = "take-over"
    second = make_window(project=sample)
    assert not second.files.read_only and second.files.can_write()
    qtbot.keyClicks(second.inspector.name_edit, " (B)")
    assert second.files.save()

    qtbot.keyClicks(first.inspector.name_edit, " (A)")
    assert not first.files.save()  # it would have overwritten B's save
    assert "taken over" in dialogs.errors[-1][1]
    assert first.files.read_only and "(read-only)" in first.windowTitle()
    assert Project.load(sample).shots[0].name.endswith("(B)")
    close_cleanly(first)
    assert (sample / LOCK_FILE).exists() and second.files.can_write()


def test_a_lost_lock_is_noticed_by_the_heartbeat(qtbot, make_window, sample, dialogs):
    window = make_window(project=sample)
    (sample / LOCK_FILE).write_text(
        json.dumps({"token": "someone-else", "pid": 1, "host": "elsewhere", "user": "kim"})
    )
    window.files._on_heartbeat()
    assert window.files.read_only and "kim on elsewhere" in dialogs.errors[-1][1]


def test_a_clean_close_releases_the_lock(qtbot, make_window, sample):
    window = make_window(project=sample)
    assert (sample / LOCK_FILE).is_file()
    close_cleanly(window)
    assert not (sample / LOCK_FILE).exists()


# ----------------------------------------------------------------------------- jobs and projects


def test_switching_projects_with_running_jobs_asks(qtbot, make_window, sample, dialogs, tmp_path):
    backend = SlowPrevis(delay=0.05)
    window = make_window(engine_factory=engine_with(lambda name: backend), project=sample)
    other = tmp_path / "Other.kinema"
    shutil.copytree(sample, other, ignore=shutil.ignore_patterns(LOCK_FILE))
    (job,) = window.generate()
    qtbot.waitUntil(lambda: backend.started.is_set(), timeout=FINISH_TIMEOUT)
    dialogs.switch_answer = "stay"
    assert not window.files.open_project(other)
    assert dialogs.switch_asked == 1 and window.document.project.folder == sample
    dialogs.switch_answer = "cancel"
    with qtbot.waitSignal(window.bridge.job_cancelled, timeout=FINISH_TIMEOUT):
        assert window.files.open_project(other)
    # cancelled with the project it was for: its row does not carry into the other one
    assert window.generation.model.record(job) is None


def test_a_take_finishing_after_another_project_opened_is_kept_and_offered(
    qtbot, make_window, sample, dialogs, tmp_path
):
    backend = SlowPrevis(delay=0.03)
    window = make_window(engine_factory=engine_with(lambda name: backend), project=sample)
    shot_id = window.document.current_shot_id
    other = tmp_path / "Other.kinema"
    shutil.copytree(sample, other, ignore=shutil.ignore_patterns(LOCK_FILE))
    (job,) = window.generate()
    qtbot.waitUntil(lambda: backend.started.is_set(), timeout=FINISH_TIMEOUT)
    dialogs.switch_answer = "keep"
    assert window.files.open_project(other)
    qtbot.waitUntil(
        lambda: window.generation.model.record(job).status == "finished", timeout=FINISH_TIMEOUT
    )
    assert "Meadow" in window.generation.model.record(job).message
    assert window.document.project.shots[0].takes == []  # nothing leaked into the other one
    (folder,) = (sample / "takes" / shot_id).iterdir()
    assert (folder / "take.json").is_file()

    # the next clean close (of the other project, then of this one) deletes nothing
    close_cleanly(window)
    assert folder.is_dir()
    again = make_window(project=sample)
    assert dialogs.orphans_offered == [1]
    (take,) = again.document.shot(shot_id).takes
    assert take.folder == f"takes/{shot_id}/{folder.name}" and not take.missing
    assert again.document.is_dirty and "Add" in again.undo_action.text()


def test_declining_orphans_later_keeps_them(qtbot, make_window, sample, dialogs):
    from engine.takes import orphan_takes

    window = make_window(project=sample)
    take = finished_take(qtbot, window) if window.generate() else None
    window.shutdown()  # gone before saving: the take is on disk, listed nowhere
    dialogs.orphans_answer = "later"
    again = make_window(project=sample)
    assert dialogs.orphans_offered == [1] and again.document.current_shot.takes == []
    close_cleanly(again)
    assert (sample / take.folder).is_dir()
    assert [t.id for _, t in orphan_takes(Project.load(sample))] == [take.id]


def test_deleted_takes_are_removed_at_close_and_only_those(qtbot, make_window, sample):
    window = make_window(project=sample)
    shot = window.document.current_shot
    kept = finished_take(qtbot, window) if window.generate() else None
    dropped = finished_take(qtbot, window, count=2) if window.generate() else None
    window.takes_panel.select_take(dropped.id)
    window.takes_panel.delete_selected()
    assert window.files.save()
    stranger = sample / "takes" / shot.id / "f00dcafe"  # another process's late take
    shutil.copytree(sample / kept.folder, stranger)
    close_cleanly(window)
    assert (sample / kept.folder).is_dir() and stranger.is_dir()
    assert not (sample / dropped.folder).exists()


# ----------------------------------------------------------------------------- symlinks


def test_clean_up_never_follows_a_symlink_out_of_the_project(qtbot, make_window, sample, tmp_path):
    outside = tmp_path / "precious"
    (outside / "abc123" / "frames").mkdir(parents=True)
    (outside / "abc123" / "frames" / "keep.png").write_bytes(b"x")
    window = make_window(project=sample)
    take = finished_take(qtbot, window) if window.generate() else None
    window.takes_panel.select_take(take.id)
    window.takes_panel.delete_selected()
    assert window.files.save()
    # a link where the take was, and a link as a whole shot folder
    shutil.rmtree(sample / take.folder)
    (sample / take.folder).symlink_to(outside / "abc123")
    (sample / "takes" / "linkshot").symlink_to(outside)
    window.files._session_takes |= {take.folder, "takes/linkshot/abc123"}
    close_cleanly(window)
    assert (outside / "abc123" / "frames" / "keep.png").is_file()


# ----------------------------------------------------------------------------- missing files


def test_a_project_with_a_missing_keyframe_opens_and_can_be_fixed(
    qtbot, make_window, sample, dialogs, tmp_path
):
    from engine.media import write_image

    (sample / "media" / "meadow.png").unlink()
    window = make_window(project=sample)
    shot = window.document.current_shot
    assert shot.keyframe_missing
    assert dialogs.missing and "meadow.png" in dialogs.missing[-1][0]
    qtbot.waitUntil(lambda: "missing" in window.viewer.view.message)
    assert "Remove keyframe" in window.viewer.view.message

    image = tmp_path / "new.png"
    write_image(image, __import__("numpy").zeros((90, 160, 3), "uint8"))
    dialogs.paths["import"] = image
    with qtbot.waitSignal(window.importer.imported, timeout=5000):
        window.actions_by_name["relink_keyframe"].trigger()
    assert shot.keyframe == "media/new.png" and not shot.keyframe_missing
    window.actions_by_name["remove_keyframe"].trigger()
    assert shot.keyframe is None
    assert window.files.save()


# ----------------------------------------------------------------------------- text


def test_a_lone_surrogate_in_the_file_is_repaired_and_the_project_saves(
    qtbot, make_window, sample, dialogs
):
    text = (sample / PROJECT_FILE).read_text()
    (sample / PROJECT_FILE).write_text(text.replace('"prompt": "', '"prompt": "\\ud800', 1))
    window = make_window(project=sample)
    assert any("repaired" in title for title, _ in dialogs.errors)
    assert window.document.current_shot.prompt.startswith("\ufffd")
    qtbot.keyClicks(window.inspector.name_edit, "!")
    assert window.files.save()  # it used to fail with UnicodeEncodeError, forever
    assert window.files.autosaver.last_error == ""


def test_pasted_text_with_a_lone_surrogate_is_repaired_at_the_door(qtbot, window):
    from studio.commands import SetShotField

    shot = window.document.current_shot
    notices = []
    window.document.notice.connect(notices.append)
    window.document.push(SetShotField(window.document, shot.id, "prompt", "sun\udc80set"))
    assert shot.prompt == "sun\ufffdset" and notices
    assert window.files.save()


# ----------------------------------------------------------------------------- the crash dialog


def test_the_crash_dialog_tells_the_truth_about_what_was_saved(
    qtbot, make_window, sample, dialogs, tmp_path
):
    from studio.app import crash_message

    window = make_window(project=sample, autosave_interval_ms=3_600_000)
    state = window.files.saved_state
    assert state() == "Everything was saved."
    qtbot.keyClicks(window.inspector.name_edit, "x")
    assert "not saved yet" in state()
    with qtbot.waitSignal(window.files.autosaver.saved, timeout=5000):
        window.files.autosaver.autosave_now()
    assert "were autosaved at" in state()
    qtbot.keyClicks(window.inspector.name_edit, "y")
    assert "since then are not saved" in state()
    window.files.autosaver.last_error = "no space left on device"
    assert "NOT saved" in state() and "no space" in state()
    message = crash_message(RuntimeError("boom"), tmp_path / "kinema.log", state)
    assert "boom" in message and "NOT saved" in message and "autosaved." not in message

    dialogs.lock_answer = "read-only"
    second = make_window(project=sample)
    assert "read-only" in second.files.saved_state()
