"""The real window, driven offscreen: the flows the issue's "done means" lists."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from studio_helpers import SlowPrevis, engine_with

from engine.media import write_image
from engine.project import Project

FINISH_TIMEOUT = 15_000


def finished_take(qtbot, window, shot=None, count=1):
    shot = shot or window.document.current_shot
    qtbot.waitUntil(lambda: len(shot.takes) >= count, timeout=FINISH_TIMEOUT)
    return shot.takes[-1]


def test_opens_the_sample_and_shows_its_keyframe(window, sample):
    assert window.document.project.name == "Meadow"
    assert window.windowTitle().startswith("Meadow")
    assert window.viewer.kind == "keyframe"
    assert window.viewer.view.has_image
    assert window.viewer.length == window.document.current_shot.duration
    assert window.inspector.prompt_edit.toPlainText().startswith("a red ball")
    assert window.shot_list.list.count() == 2
    assert not window.document.is_dirty


def test_editing_the_prompt_is_one_undoable_step(qtbot, window):
    shot = window.document.current_shot
    original = shot.prompt
    window.inspector.prompt_edit.setFocus()
    window.inspector.prompt_edit.moveCursor(
        window.inspector.prompt_edit.textCursor().MoveOperation.End
    )
    qtbot.keyClicks(window.inspector.prompt_edit, ", at dusk")
    assert shot.prompt == original + ", at dusk"
    assert window.document.is_dirty
    assert window.isWindowModified()
    assert window.document.undo_stack.count() == 1  # the burst of typing merged into one step
    assert window.undo_action.text() == "&Undo Edit prompt"
    window.undo_action.trigger()
    assert shot.prompt == original
    assert window.inspector.prompt_edit.toPlainText() == original
    assert not window.document.is_dirty
    window.redo_action.trigger()
    assert shot.prompt == original + ", at dusk"


def test_generate_streams_previews_then_the_take_plays(qtbot, window, sample):
    shot = window.document.current_shot
    previews = []
    window.bridge.preview_ready.connect(
        lambda job, frames, step, total, done: previews.append(step)
    )
    with qtbot.waitSignal(window.bridge.preview_ready, timeout=FINISH_TIMEOUT):
        (job_id,) = window.generate()
    assert window.viewer.kind in ("preview", "take")
    shown = window.viewer.displayed_frame()
    assert shown is not None and shown.shape == (288, 512, 3)
    take = finished_take(qtbot, window)
    assert previews and previews[-1] == shot.duration  # the last preview is the whole clip
    assert shot.active_take == take.id and take.label == "Take 1"
    assert take.seed == shot.seed and take.backend == "previs"
    record = window.generation.model.record(job_id)
    assert record.status == "finished" and record.fraction == 1.0
    # frames and the request are on disk, so the take can be re-run exactly
    folder = sample / take.folder
    assert len(list((folder / "frames").glob("*.png"))) == shot.duration
    assert json.loads((folder / "request.json").read_text())["seed"] == shot.seed
    # the viewer now holds the take and plays it
    qtbot.waitUntil(lambda: window.viewer.kind == "take")
    assert window.viewer.length == shot.duration
    window.viewer.pause()
    window.viewer.seek(0)
    window.viewer.play()
    qtbot.waitUntil(lambda: window.viewer.current_frame >= 3, timeout=3000)
    window.viewer.pause()
    frame = window.viewer.current_frame
    np.testing.assert_array_equal(
        window.viewer.displayed_frame(), window.take_cache.get(take.id)[frame]
    )
    assert "Use Take 1 (generated)" in window.undo_action.text()


def test_export_writes_an_mp4_that_ffprobe_accepts(qtbot, window, tmp_path):
    from studio.export import ExportOptions

    finished_take(qtbot, window) if window.generate() else None
    target = tmp_path / "out" / "meadow.mp4"
    target.parent.mkdir()
    with qtbot.waitSignal(window.exporter.finished, timeout=FINISH_TIMEOUT):
        assert window.export(ExportOptions(path=target, scope="shot", codec="h264", crf=20))
        assert window.export_bar.isVisible()  # progress shows while the window stays live
    assert not window.export_bar.isVisible()
    if shutil.which("ffprobe") is None:
        pytest.skip("ffprobe is not installed")
    probe = subprocess.run(
        [
            "ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
            "-show_entries", "stream=codec_name,pix_fmt,width,height,nb_read_frames",
            "-of", "json", str(target),
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    stream = json.loads(probe.stdout)["streams"][0]
    assert stream["codec_name"] == "h264" and stream["pix_fmt"] == "yuv420p"
    assert (stream["width"], stream["height"]) == (512, 288)
    assert int(stream["nb_read_frames"]) == 48


def test_exporting_a_shot_without_a_take_says_so(window, dialogs, tmp_path):
    from studio.export import ExportOptions

    assert not window.export(ExportOptions(path=tmp_path / "x.mp4"))
    assert "has no take yet" in dialogs.errors[-1][1]


def test_cancel_mid_way_then_the_next_job_runs(qtbot, make_window, sample):
    backend = SlowPrevis(delay=0.02)
    window = make_window(engine_factory=engine_with(lambda name: backend), project=sample)
    shot = window.document.current_shot
    with qtbot.waitSignal(window.bridge.preview_ready, timeout=FINISH_TIMEOUT):
        (first,) = window.generate()
    assert window.bridge.running_job == first
    with qtbot.waitSignal(window.bridge.job_cancelled, timeout=FINISH_TIMEOUT):
        qtbot.keyClick(window, Qt.Key.Key_Escape)  # Esc cancels the running job
    assert window.generation.model.record(first).status == "cancelled"
    assert shot.takes == []
    assert window.viewer.kind == "keyframe"  # back to the keyframe, no half take
    backend.delay = 0.0
    (second,) = window.generate()
    take = finished_take(qtbot, window)
    assert window.generation.model.record(second).status == "finished"
    assert take.frames == shot.duration


def test_a_failed_job_says_why_and_the_queue_moves_on(qtbot, make_window, sample):
    backend = SlowPrevis(delay=0.0, fail="the GPU caught fire")
    window = make_window(engine_factory=engine_with(lambda name: backend), project=sample)
    shot = window.document.current_shot
    window.inspector.lock_box.setChecked(True)
    shot.seed = 9  # locked variations start one past it: 10 works, 11 fails, 12 works
    jobs = window.generation.generate(3)
    seeds = [window.generation.model.record(j).seed for j in jobs]
    assert seeds == [10, 11, 12]
    finished_take(qtbot, window, count=2)
    qtbot.waitUntil(
        lambda: window.generation.model.record(jobs[2]).status == "finished", timeout=FINISH_TIMEOUT
    )
    failed = window.generation.model.record(jobs[1])
    assert failed.status == "failed" and "the GPU caught fire" in failed.message
    assert [t.seed for t in shot.takes] == [10, 12]


def test_opening_a_corrupt_project_shows_why_and_keeps_the_work(qtbot, window, dialogs, tmp_path):
    window.inspector.name_edit.setText("")
    qtbot.keyClicks(window.inspector.name_edit, "Edited")
    broken = tmp_path / "Broken.kinema"
    broken.mkdir()
    (broken / "project.json").write_text('{"kinema": 1, "width": 513, "height": 288}')
    dialogs.unsaved_answer = "discard"
    assert not window.files.open_project(broken)
    title, message = dialogs.errors[-1]
    assert "width" in message and "even" in message
    assert window.document.current_shot.name == "Edited"  # current work untouched
    assert window.document.project.name == "Meadow"
    (broken / "project.json").write_text('{"kinema": 1, "width": ')
    assert not window.files.open_path(broken)
    assert "damaged" in dialogs.errors[-1][1]


def test_unsaved_changes_prompt_can_cancel_opening(qtbot, window, dialogs, sample, tmp_path):
    qtbot.keyClicks(window.inspector.name_edit, "!")
    other = tmp_path / "Other.kinema"
    shutil.copytree(sample, other)
    dialogs.unsaved_answer = "cancel"
    assert not window.files.open_project(other)
    assert dialogs.unsaved_asked == 1
    assert window.document.project.folder == sample
    dialogs.unsaved_answer = "save"
    assert window.files.open_project(other)
    assert Project.load(sample).shots[0].name.endswith("!")


def test_save_and_save_as(qtbot, window, sample, tmp_path):
    qtbot.keyClicks(window.inspector.name_edit, " 2")
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert not window.document.is_dirty
    assert Project.load(sample).shots[0].name.endswith(" 2")
    take = finished_take(qtbot, window) if window.generate() else None
    copy = tmp_path / "Copy.kinema"
    with qtbot.waitSignal(window.files.project_saved, timeout=10_000):
        assert window.files.save_as(copy)  # media and takes are copied in the background
    assert window.document.project.folder == copy and not window.document.is_dirty
    assert len(list((copy / take.folder / "frames").glob("*.png"))) == take.frames
    assert (copy / "media" / "meadow.png").is_file()
    from studio import settings

    assert settings.recent_projects()[0] == copy.resolve()


def test_autosave_is_recovered_after_a_crash(qtbot, make_window, sample, dialogs):
    from studio.autosave import autosave_path

    first = make_window(project=sample)
    qtbot.keyClicks(first.inspector.negative_edit, "blurry")
    with qtbot.waitSignal(first.files.autosaver.saved, timeout=5000):
        assert first.files.autosaver.autosave_now()
    assert autosave_path(sample).is_file()
    first.shutdown()  # a crash: the engine stops, nothing is saved or cleaned up
    first.close()
    assert Project.load(sample).shots[0].negative_prompt == ""

    second = make_window(project=sample)
    assert dialogs.recovery_offered == 1
    assert second.document.current_shot.negative_prompt == "blurry"
    assert second.document.is_dirty
    assert "Recover autosaved changes" in second.undo_action.text()
    second.files.save()
    assert not autosave_path(sample).exists()
    assert Project.load(sample).shots[0].negative_prompt == "blurry"


def test_declining_recovery_discards_the_autosave(qtbot, make_window, sample, dialogs):
    from studio.autosave import autosave_path, write_autosave

    project = Project.load(sample)
    project.shots[0].prompt = "something else"
    write_autosave(sample, project.to_json())
    dialogs.recover_answer = False
    window = make_window(project=sample)
    assert dialogs.recovery_offered == 1
    assert window.document.current_shot.prompt.startswith("a red ball")
    assert not autosave_path(sample).exists()


def test_autosave_timer_writes_the_side_file(qtbot, make_window, sample):
    from studio.autosave import autosave_path

    window = make_window(project=sample, autosave_interval_ms=50)
    qtbot.keyClicks(window.inspector.name_edit, "x")
    qtbot.waitUntil(lambda: autosave_path(sample).is_file(), timeout=3000)
    assert json.loads(autosave_path(sample).read_text())["shots"][0]["name"].endswith("x")


def test_dropping_an_image_on_the_viewer_sets_the_keyframe_undoably(qtbot, window, tmp_path):
    image = np.zeros((90, 160, 3), np.uint8)
    image[:, :80] = (255, 0, 0)
    source = tmp_path / "red.png"
    write_image(source, image)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(source))])
    view = window.viewer.view
    point = QPointF(view.width() / 2, view.height() / 2)
    drop = QDropEvent(
        point,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    shot = window.document.current_shot
    with qtbot.waitSignal(window.importer.imported, timeout=5000):
        view.dropEvent(drop)
    assert shot.keyframe == "media/red.png"
    assert (window.document.project.folder / "media" / "red.png").is_file()
    assert window.undo_action.text() == "&Undo Set keyframe to red.png"
    qtbot.waitUntil(
        lambda: (
            window.viewer.displayed_frame() is not None
            and window.viewer.displayed_frame().shape == (90, 160, 3)
        )
    )
    window.undo_action.trigger()
    assert shot.keyframe == "media/meadow.png"


def test_dropping_a_video_uses_its_first_frame(qtbot, window, tmp_path):
    from engine.media import write_mp4

    clip = np.full((6, 64, 96, 3), 200, np.uint8)
    source = tmp_path / "clip.mp4"
    write_mp4(source, clip, 24)
    with qtbot.waitSignal(window.importer.imported, timeout=5000):
        window.import_keyframe(source)
    assert window.document.current_shot.keyframe == "media/clip.png"


def test_dropping_an_unreadable_file_explains(qtbot, window, dialogs, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with qtbot.waitSignal(window.importer.failed, timeout=5000):
        window.import_keyframe(bad)
    assert "notes.png" in dialogs.errors[-1][1]
    assert window.document.current_shot.keyframe == "media/meadow.png"


def test_inspector_disables_what_the_backend_cannot_honour(window):
    inspector = window.inspector
    assert not inspector.steps_spin.isEnabled()
    assert "does not denoise" in inspector.steps_spin.toolTip()
    assert not inspector.guide_spin.isEnabled() and "guide" in inspector.guide_spin.toolTip()
    # the prompt is content, kept editable, with a note that previs ignores it
    assert inspector.prompt_edit.isEnabled()
    assert "ignores the prompt" in inspector.prompt_edit.toolTip()
    assert inspector.prompt_note.isVisibleTo(inspector)
    assert inspector.backend_box.currentData() == "previs"
    labels = [inspector.backend_box.itemText(i) for i in range(inspector.backend_box.count())]
    assert labels == [c.label for c in window.bridge.capabilities().values()]


def test_a_backend_that_cannot_run_here_says_why_before_generate(window):
    import dataclasses

    inspector = window.inspector
    caps = inspector.capabilities["builtin"]
    inspector.capabilities["builtin"] = dataclasses.replace(
        caps, unavailable="The built-in model's dit weights are not installed."
    )
    index = inspector.backend_box.findData("builtin")
    inspector.backend_box.setCurrentIndex(index)
    inspector.backend_box.activated.emit(index)  # what a click on the item does
    assert window.document.current_shot.settings.backend == "builtin"
    assert not inspector.generate_button.isEnabled()
    assert "not installed" in inspector.generate_button.toolTip()
    assert "not installed" in inspector.backend_note.text()
    window.document.undo_stack.undo()
    assert inspector.generate_button.isEnabled()


def test_choosing_the_builtin_model_starts_from_its_own_steps_and_guidance(window):
    inspector, shot = window.inspector, window.document.current_shot
    assert (shot.settings.steps, shot.settings.guidance) == (20, 5.0)  # previs's defaults

    def choose(name):
        index = inspector.backend_box.findData(name)
        inspector.backend_box.setCurrentIndex(index)
        inspector.backend_box.activated.emit(index)  # what a click on the item does

    choose("builtin")
    builtin = inspector.capabilities["builtin"]
    assert shot.settings.backend == "builtin"
    assert (shot.settings.steps, shot.settings.guidance) == (8, 3.0)
    assert (builtin.default_steps, builtin.default_guidance) == (8, 3.0)
    assert inspector.steps_spin.value() == 8
    window.document.undo_stack.undo()  # one step takes all of it back
    assert (shot.settings.backend, shot.settings.steps, shot.settings.guidance) == (
        "previs", 20, 5.0,
    )  # fmt: skip

    inspector.steps_spin.setValue(30)  # the user's own choice survives a switch
    choose("builtin")
    assert (shot.settings.steps, shot.settings.guidance) == (30, 3.0)


def test_inspector_edits_are_commands(qtbot, window):
    inspector, shot, project = (
        window.inspector,
        window.document.current_shot,
        window.document.project,
    )
    inspector.seed_spin.setValue(77)
    assert shot.seed == 77
    inspector.duration_spin.setValue(1.0)
    assert shot.duration == 24
    dialog = window.show_project_settings()  # size is the project's: its own dialog
    dialog.size_box.setCurrentIndex(dialog.size_box.findData("1280x720"))
    dialog.size_box.activated.emit(dialog.size_box.currentIndex())
    dialog.apply()
    assert (project.width, project.height) == (1280, 720)
    names = [window.document.undo_stack.text(i) for i in range(window.document.undo_stack.count())]
    assert names == ["Change seed", "Change duration", "Change project settings"]
    while window.document.undo_stack.canUndo():
        window.document.undo_stack.undo()
    assert (shot.seed, shot.duration, project.width) == (1234, 48, 512)
    assert inspector.seed_spin.value() == 1234


def test_unlocked_seed_changes_on_every_generate(qtbot, window):
    window.inspector.lock_box.setChecked(False)
    shot = window.document.current_shot
    before = shot.seed
    (job,) = window.generate()
    assert window.generation.model.record(job).seed == shot.seed != before
    finished_take(qtbot, window)


def test_takes_compare_and_delete(qtbot, window, sample):
    shot = window.document.current_shot
    window.generation.generate(2)
    finished_take(qtbot, window, count=2)
    first, second = shot.takes
    assert shot.active_take == second.id
    panel = window.takes_panel
    panel.select_take(first.id)
    panel.compare_button.click()
    qtbot.waitUntil(lambda: window.viewer.ab_button.isEnabled())
    window.viewer.pause()
    window.viewer.seek(20)
    np.testing.assert_array_equal(
        window.viewer.displayed_frame(), window.take_cache.get(second.id)[20]
    )
    qtbot.keyClick(window, Qt.Key.Key_Backslash)
    assert window.viewer.showing_b
    np.testing.assert_array_equal(
        window.viewer.displayed_frame(), window.take_cache.get(first.id)[20]
    )
    panel.select_take(second.id)
    panel.delete_selected()
    assert [t.id for t in shot.takes] == [first.id] and shot.active_take == first.id
    window.undo_action.trigger()
    assert [t.id for t in shot.takes] == [first.id, second.id] and shot.active_take == second.id
    assert (sample / second.folder).is_dir()  # files stay while undo can bring the take back


def test_rerun_repeats_the_recorded_request(qtbot, window):
    take = finished_take(qtbot, window) if window.generate() else None
    window.takes_panel.select_take(take.id)
    window.takes_panel.rerun_button.click()
    again = finished_take(qtbot, window, count=2)
    assert again.request["seed"] == take.request["seed"]
    assert {**again.request, "job_id": ""} == {**take.request, "job_id": ""}


def test_playback_shortcuts(qtbot, window):
    finished_take(qtbot, window) if window.generate() else None
    qtbot.waitUntil(lambda: window.viewer.kind == "take")
    viewer = window.viewer
    window.setFocus()
    viewer.pause()
    qtbot.keyClick(window, Qt.Key.Key_Home)
    assert viewer.current_frame == 0
    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.keyClick(window, Qt.Key.Key_Right)
    assert viewer.current_frame == 2
    qtbot.keyClick(window, Qt.Key.Key_Left)
    assert viewer.current_frame == 1
    qtbot.keyClick(window, Qt.Key.Key_End)
    assert viewer.current_frame == viewer.length - 1
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert viewer.is_playing
    qtbot.keyClick(window, Qt.Key.Key_K)
    assert not viewer.is_playing
    qtbot.keyClick(window, Qt.Key.Key_L)
    qtbot.keyClick(window, Qt.Key.Key_L)
    assert viewer.rate == 2
    qtbot.keyClick(window, Qt.Key.Key_J)
    assert viewer.rate == -1
    qtbot.keyClick(window, Qt.Key.Key_K)


def test_ctrl_enter_generates_and_ctrl_z_undoes_making_it_active(qtbot, window):
    qtbot.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    take = finished_take(qtbot, window)
    shot = window.document.current_shot
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert shot.takes == [take] and shot.active_take is None  # the take stays, not in use
    qtbot.keyClick(
        window,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert shot.takes == [take] and shot.active_take == take.id


def test_help_lists_the_shortcuts(window, qtbot):
    page = window.show_shortcuts()
    text = page.text()
    for expected in (
        "Space",
        "J",
        "K",
        "L",
        "Left",
        "Right",
        "Home",
        "End",
        "Ctrl+Enter",
        "Esc",
        "Ctrl+S",
        "Ctrl+Z",
        "Ctrl+Shift+Z",
    ):
        assert expected in text, expected
    window.show_about()
    assert "Kinema" in window.dialogs.abouts[-1]


def test_menus_hold_the_issue_items(window):
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles == ["File", "Edit", "Generate", "View", "Help"]
    file_items = [a.text().replace("&", "") for a in window.menuBar().actions()[0].menu().actions()]
    for item in ("New project…", "Open…", "Open Recent", "Save", "Save As…", "Export…"):
        assert item in file_items
    assert any(i.startswith("Import keyframe") for i in file_items)


def test_selecting_another_shot_follows_everywhere(qtbot, window):
    window.shot_list.list.setCurrentRow(1)
    shot = window.document.project.shots[1]
    assert window.document.current_shot_id == shot.id
    assert window.inspector.name_edit.text() == shot.name
    qtbot.waitUntil(
        lambda: window.viewer.kind == "keyframe" and window.viewer.length == shot.duration
    )


def test_layout_and_recent_files_are_remembered(qtbot, make_window, sample, isolated_settings):
    from studio import settings

    window = make_window(project=sample)
    window.takes_dock.hide()
    window.save_layout()
    assert settings.last_project() == sample.resolve()
    again = make_window()
    again.restore_layout()
    assert again.takes_dock.isHidden()
    assert isolated_settings.is_dir()  # written under the test's folder, not the user's


def test_new_project_starts_with_one_empty_shot(qtbot, window, dialogs, tmp_path):
    dialogs.paths["new"] = tmp_path / "Fresh"
    assert window.files.new_project()
    project = window.document.project
    assert (
        project.folder == tmp_path / "Fresh.kinema" and (project.folder / "project.json").is_file()
    )
    assert [s.name for s in project.shots] == ["Shot 1"]
    qtbot.waitUntil(lambda: "No keyframe" in window.viewer.view.message)
    assert window.windowTitle().startswith("Fresh")


def test_sequence_exports_as_png_frames_in_the_background(qtbot, window, tmp_path):
    from studio.export import ExportOptions

    first, second = window.document.project.shots
    window.generation.generate(1, first.id)
    window.generation.generate(1, second.id)
    qtbot.waitUntil(lambda: bool(first.takes and second.takes), timeout=FINISH_TIMEOUT)
    target = tmp_path / "frames"
    progress = []
    window.exporter.progress.connect(lambda done, total: progress.append((done, total)))
    with qtbot.waitSignal(window.exporter.finished, timeout=FINISH_TIMEOUT):
        assert window.export(ExportOptions(path=target, scope="sequence", codec="png"))
    assert len(list(target.glob("frame_*.png"))) == first.duration + second.duration == 84
    assert progress[-1] == (84, 84)


def test_export_can_be_cancelled_and_leaves_nothing(qtbot, window, tmp_path):
    from studio.export import ExportOptions

    finished_take(qtbot, window) if window.generate() else None
    target = tmp_path / "gone.mp4"
    with qtbot.waitSignal(window.exporter.cancelled, timeout=FINISH_TIMEOUT):
        window.export(ExportOptions(path=target))
        qtbot.keyClick(window, Qt.Key.Key_Escape)  # no job runs, so Esc stops the export
    assert not target.exists()


def test_metrics_tab_measures_the_active_take(qtbot, window):
    from studio.commands import SetResolution

    window.document.push(SetResolution(window.document, 96, 54))
    finished_take(qtbot, window) if window.generate() else None
    window.metrics_dock.raise_()
    qtbot.waitUntil(
        lambda: "flicker" in window.metrics_panel.summary.text(), timeout=FINISH_TIMEOUT
    )
    assert window.metrics_panel.title.text() == "Take 1"


def test_zoom_fit_and_100_percent(qtbot, window):
    view = window.viewer.view
    qtbot.keyClick(window, Qt.Key.Key_1)
    assert view.zoom == 1.0 and view.image_rect().width() == 512
    qtbot.keyClick(window, Qt.Key.Key_F)
    assert view.zoom == 0.0 and view.image_rect().width() <= view.width()


def test_the_real_export_dialog_builds_options(qtbot, tmp_path):
    from studio.export import ExportOptions
    from studio.export_dialog import ExportDialog

    dialog = ExportDialog(ExportOptions(path=tmp_path / "a.mp4"), has_sequence=True)
    qtbot.addWidget(dialog)
    dialog.codec_box.setCurrentIndex(dialog.codec_box.findData("png"))
    options = dialog.options()
    assert options.codec == "png" and options.path == tmp_path / "a" and options.fps is None
    assert not dialog.crf_spin.isEnabled() and not dialog.preset_box.isEnabled()

    dialog.codec_box.setCurrentIndex(dialog.codec_box.findData("prores-hq"))
    options = dialog.options()
    assert options.path == tmp_path / "a.mov" and options.crf is None and options.preset is None

    dialog.codec_box.setCurrentIndex(dialog.codec_box.findData("av1"))
    assert dialog.crf_spin.maximum() == 63 and dialog.crf_spin.value() == 30
    options = dialog.options()
    assert options.path == tmp_path / "a.webm" and (options.crf, options.preset) == (30, "medium")

    # a timeline: media beside it in a video codec; image sequences are not offered
    dialog.codec_box.setCurrentIndex(dialog.codec_box.findData("tiff16"))
    dialog.timeline_box.setCurrentIndex(dialog.timeline_box.findData(".otio"))
    options = dialog.options()
    assert options.path == tmp_path / "a.otio" and options.codec == "prores-hq"
    png_row = dialog.codec_box.findData("png")
    assert not dialog.codec_box.model().item(png_row).isEnabled()


def test_the_inspector_fits_its_dock_without_a_sideways_scrollbar(window, qtbot):
    from PySide6.QtWidgets import QScrollArea

    scroll = window.inspector.findChild(QScrollArea)
    qtbot.waitUntil(lambda: window.inspector.width() > 0)
    assert not scroll.horizontalScrollBar().isVisible()
    # every field is wholly in view: Generate ends inside the dock
    button = window.inspector.generate_button
    right = button.mapTo(window.inspector, button.rect().topRight()).x()
    assert right <= window.inspector.width()


def test_the_right_panel_widens_to_paint_and_narrows_for_the_form(window, qtbot):
    horizontal = Qt.Orientation.Horizontal
    window.resize(1440, 900)  # the window's own first size
    window.inspector_dock.raise_()
    qtbot.waitUntil(lambda: window.width() == 1440)
    narrow = window.inspector_dock.width()
    window.brush_dock.raise_()
    # as wide as the docks beside the viewer allow, towards 42 % of the window
    qtbot.waitUntil(lambda: window.brush_dock.width() >= narrow + 120)
    assert window.brush_panel.canvas.width() >= narrow + 100  # more room to paint

    mine = narrow + 60
    window.resizeDocks([window.brush_dock], [mine], horizontal)  # the user's own width
    qtbot.waitUntil(lambda: abs(window.brush_dock.width() - mine) <= 12)
    window.inspector_dock.raise_()
    qtbot.waitUntil(lambda: abs(window.inspector_dock.width() - narrow) <= 12)
    window.brush_dock.raise_()
    qtbot.waitUntil(lambda: abs(window.brush_dock.width() - mine) <= 12)  # remembered
