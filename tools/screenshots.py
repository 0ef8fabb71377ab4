"""`make screenshots`: the studio on the sample project before, during and after a generation,
then its tools: the timeline, the camera-path editor and the motion-brush canvas; then a
real model: the Preferences dialog finding a tiny Wan model, and a take forming from it.

Runs the real window (under Xvfb from the Makefile; any Qt platform works) with a scratch
settings folder and a scratch copy of the sample, so nothing of the user's is touched.
The backends are slowed down a little for the "during" pictures only; everything else is
the app as shipped. The real model is a tiny one built from config on the spot (it needs
the models extra), so nothing is downloaded. Last, a storyboard: a new shot planned from its
prompt. Then takes: two takes compared, the takes panel, and ask versus got on a take of the
built-in model; then the sequence playing across a cut and the timecode ruler; then the
queue with the built-in model's jobs. Writes PNGs into the folder given (default:
screenshots/); `--only real-models`, `--only storyboard`, `--only takes`, `--only timeline`
or `--only queue` takes just that part; `--only project` the project settings and takes that
do not fit their shot.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _slow_engine(seconds_per_frame: float, seconds_per_step: float = 0.6):
    """An Engine whose backends pause between frames (previs) or steps (a real model), so a
    screenshot can catch a clip mid-way."""
    from engine.backends import create_backend
    from engine.model_library import PREFIX
    from engine.worker import Engine

    class Slowed:
        def __init__(self, name, pause):
            self.name = name
            self._inner = create_backend(name)
            self._pause = pause

        def capabilities(self):
            return self._inner.capabilities()

        def load(self, device):
            self._inner.load(device)

        def generate(self, request, controls, report, cancel):
            pause = self._pause

            class SlowReport:
                def progress(self, step, total, message=""):
                    time.sleep(pause)
                    report.progress(step, total, message)

                def preview(self, frames, step, total, complete=False):
                    report.preview(frames, step, total, complete)

                def notice(self, message, level="info"):
                    report.notice(message, level)

            return self._inner.generate(request, controls, SlowReport(), cancel)

    def backend_factory(name):
        if name == "previs":
            return Slowed(name, seconds_per_frame * 6)
        if name.startswith(PREFIX):
            return Slowed(name, seconds_per_step)
        return create_backend(name)

    return lambda callback: Engine(callback, device="cpu", backend_factory=backend_factory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default=str(ROOT / "screenshots"))
    parser.add_argument("--size", default="1600x1000")
    parser.add_argument(
        "--only",
        choices=(
            "studio",
            "real-models",
            "storyboard",
            "takes",
            "project",
            "timeline",
            "queue",
            "last-frame",
        ),
        help="take only one part (default: all)",
    )
    args = parser.parse_args(argv)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    width, height = (int(v) for v in args.size.split("x"))

    scratch = Path(tempfile.mkdtemp(prefix="kinema-shots-"))
    os.environ["KINEMA_SETTINGS_DIR"] = str(scratch / "settings")
    os.environ["KINEMA_LOG_DIR"] = str(scratch / "logs")
    project = scratch / "Meadow.kinema"
    shutil.copytree(ROOT / "assets" / "samples" / "Meadow.kinema", project)

    from PySide6.QtCore import QEventLoop, QTimer

    from studio import settings
    from studio.app import create_application
    from studio.main_window import MainWindow

    settings.configure("Kinema-screenshots", "Kinema", scratch / "settings")
    app = create_application([])

    def wait_until(condition, timeout=20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the window did not reach the expected state")
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.01)

    def settle(ms: int = 300) -> None:
        end = time.monotonic() + ms / 1000
        while time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.01)

    def shoot(widget, name: str) -> None:
        settle()
        path = out / name
        widget.grab().save(str(path))
        print(f"wrote {path}")

    window = MainWindow(engine_factory=_slow_engine(0.05), restore_layout=False)
    window.resize(width, height)
    window.show()
    window.files.open_path(project)
    wait_until(lambda: window.viewer.view.has_image)
    if args.only in (None, "studio"):
        _shoot_studio(window, shoot, settle, wait_until)
    if args.only in (None, "real-models"):
        _shoot_real_model(window, scratch, shoot, settle, wait_until)
    if args.only in (None, "storyboard"):
        _shoot_storyboard(window, shoot, settle, wait_until)
    if args.only in (None, "takes"):
        _shoot_takes(window, shoot, settle, wait_until)
    if args.only in (None, "project"):
        _shoot_project(window, shoot, settle, wait_until)
    if args.only in (None, "timeline"):
        _shoot_sequence(window, out, shoot, settle, wait_until)
    if args.only in (None, "queue"):
        _shoot_queue(window, shoot, settle, wait_until)
    if args.only in (None, "last-frame"):
        _shoot_last_frame(window, scratch, shoot, settle, wait_until)

    window.shutdown()
    window.close()
    QTimer.singleShot(0, app.quit)
    app.exec()
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


def _shoot_studio(window, shoot, settle, wait_until) -> None:
    """Before, during and after a previs generation; metrics; the tools; the Help page."""
    shoot(window, "studio-before.png")

    window.generate()
    wait_until(lambda: window.viewer.kind == "preview" and window.viewer.available_frames >= 24)
    shoot(window, "studio-during.png")

    wait_until(lambda: window.document.current_shot.active_take is not None, timeout=60)
    wait_until(lambda: window.viewer.kind == "take")
    window.viewer.pause()
    window.viewer.seek(30)
    window.metrics_dock.raise_()
    wait_until(lambda: "flicker" in window.metrics_panel.summary.text(), timeout=60)
    window.queue_dock.raise_()
    shoot(window, "studio-after.png")

    window.metrics_dock.raise_()
    shoot(window, "studio-metrics.png")
    window.queue_dock.raise_()

    _shoot_tools(window, shoot, settle, wait_until)

    page = window.show_shortcuts()
    shoot(page, "help-shortcuts.png")
    page.close()


def _shoot_queue(window, shoot, settle, wait_until) -> None:
    """The built-in model chosen (its description whole in the inspector), then two of its
    jobs in the queue: the first measuring its own steps, the next one estimated from the
    first before its own steps are timed."""
    inspector = window.inspector
    box = inspector.backend_box
    box.setCurrentIndex(box.findData("builtin"))
    box.activated.emit(box.currentIndex())
    window.inspector_dock.raise_()
    shoot(window.inspector_dock, "queue-inspector-builtin.png")
    width = window.width()

    def running_at(step: int):
        rows = [r for r in window.generation.model.records() if r.status == "running"]
        return bool(rows) and rows[-1].step >= step

    window.queue_dock.raise_()
    window.generate()
    wait_until(lambda: running_at(3), timeout=180)
    shoot(window.queue_dock, "queue-first-job.png")
    wait_until(lambda: not window.generation.active_jobs, timeout=180)
    window.generate()
    wait_until(lambda: running_at(0), timeout=180)
    shoot(window.queue_dock, "queue-eta-from-last-job.png")
    shoot(window, "queue-window.png")
    wait_until(lambda: not window.generation.active_jobs, timeout=180)
    print(f"window width before the first Generate {width}, after two jobs {window.width()}")


def _shoot_real_model(window, scratch: Path, shoot, settle, wait_until) -> None:
    """Preferences finding a tiny Wan model (and a folder it cannot run), then a take of the
    first shot forming from that model in the viewer, mid-run."""
    import importlib.util
    import json

    if importlib.util.find_spec("diffusers") is None:
        print("skipped the real-model screenshots: the models extra is not installed")
        return
    from engine.backends.diffusers.tiny import save_tiny_pipeline
    from studio.commands import SetShotSetting
    from studio.preferences_dialog import PreferencesDialog

    os.environ["KINEMA_NO_HF_CACHE"] = "1"  # only the folders named here
    os.environ["KINEMA_CACHE_DIR"] = str(scratch / "cache")
    models = scratch / "Video models"
    save_tiny_pipeline("wan", models / "Wan2.1-T2V-tiny")
    odd = scratch / "Downloads" / "flux-dev"
    odd.mkdir(parents=True)
    (odd / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))

    dialog = PreferencesDialog(window.preferences, window, choose_folder=lambda start: None)
    dialog.add_folder(models)
    dialog.add_folder(odd.parent)
    dialog.folder_list.setCurrentRow(0)
    dialog.show()
    shoot(dialog, "preferences.png")
    chosen = dialog.preferences()
    dialog.accept()
    dialog.deleteLater()
    window.apply_preferences(chosen)

    document, inspector = window.document, window.inspector
    shot = document.project.shots[0]
    document.set_current_shot(shot.id)
    name = "diffusers:Wan2.1-T2V-tiny"
    box = inspector.backend_box
    box.setCurrentIndex(box.findData(name))
    box.activated.emit(box.currentIndex())
    document.push(SetShotSetting(document, shot.id, "steps", 16))
    window.inspector_dock.raise_()
    window.queue_dock.raise_()
    wait_until(lambda: inspector.memory_line.startswith("Made at"), timeout=60)

    [job] = window.generate()
    record = window.generation.model.record
    wait_until(lambda: window.viewer.kind == "preview" and record(job).step >= 7, timeout=240)
    shoot(window, "real-model-forming.png")
    window.generation.cancel(job)
    wait_until(lambda: not record(job).active, timeout=60)


def _shoot_last_frame(window, scratch: Path, shoot, settle, wait_until) -> None:
    """The inspector's Last frame slot: an image chosen on a backend that ignores it (the
    note names the ones that take it), then on a tiny Wan FLF2V model that ends on it."""
    import dataclasses
    import importlib.util

    import numpy as np

    from engine.media import read_image, write_image
    from studio.commands import SetShotSetting

    document, inspector = window.document, window.inspector
    shot = document.project.shots[0]
    document.set_current_shot(shot.id)
    window.inspector_dock.raise_()
    key = read_image(document.project.keyframe_path(shot))
    dusk = np.clip(key[:, ::-1].astype(np.float32) * (0.75, 0.55, 0.6), 0, 255).astype(np.uint8)
    write_image(scratch / "dusk.png", dusk)
    window.last_frame_importer.import_file(scratch / "dusk.png", shot.id)
    wait_until(lambda: shot.last_keyframe is not None)
    if importlib.util.find_spec("diffusers") is not None:
        from engine.backends.diffusers.tiny import save_tiny_pipeline

        os.environ["KINEMA_NO_HF_CACHE"] = "1"  # only the folder named here
        os.environ["KINEMA_CACHE_DIR"] = str(scratch / "cache")
        models = scratch / "Last frame models"
        save_tiny_pipeline("wan-flf2v", models / "Wan2.1-FLF2V-tiny")
        folders = (*window.preferences.model_folders, str(models))
        window.apply_preferences(dataclasses.replace(window.preferences, model_folders=folders))
        wait_until(lambda: "diffusers:Wan2.1-FLF2V-tiny" in inspector.capabilities)
    inspector.refresh()
    shoot(inspector, "last-frame-ignored.png")
    if "diffusers:Wan2.1-FLF2V-tiny" in inspector.capabilities:
        document.push(SetShotSetting(document, shot.id, "backend", "diffusers:Wan2.1-FLF2V-tiny"))
        shoot(inspector, "last-frame-flf2v.png")


def _shoot_storyboard(window, shoot, settle, wait_until) -> None:
    """A new shot planned from its prompt alone: labelled strokes over the plan's first
    frame, the previs playing it, and the inspector saying what the plan holds."""
    from engine.project import Shot
    from studio.commands import AddShot, SetShotField

    document = window.document
    shot = Shot(name="Storyboard", duration=48)
    document.push(AddShot(document, shot))
    document.set_current_shot(shot.id)
    prompt = "two crimson orbs hop across the dunes at twilight while an azure box glides left"
    document.push(SetShotField(document, shot.id, "prompt", prompt, merge=False))
    document.push(SetShotField(document, shot.id, "seed", 3, merge=False))
    box = window.inspector.backend_box  # the built-in model is the one that paints plans
    box.setCurrentIndex(box.findData("builtin"))
    box.activated.emit(box.currentIndex())
    window.inspector_dock.raise_()
    window.camera_dock.raise_()
    settle(300)
    assert window.plan_from_prompt()
    wait_until(lambda: shot.plan is not None, timeout=60)
    window.timeline.fit()
    wait_until(lambda: previs_ready(window), timeout=60)
    window.viewer.pause()
    window.viewer.seek(20)
    settle(600)
    shoot(window, "storyboard.png")


def _shoot_takes(window, shoot, settle, wait_until) -> None:
    """Two takes of the meadow shot (the previs, then the built-in model): the takes panel
    with their pictures and what differs, ask versus got on the model's take, and the two
    compared with a split wipe."""
    from studio.commands import SetShotSetting

    document = window.document
    shot = document.project.shots[0]
    document.set_current_shot(shot.id)
    known = len(shot.takes)
    window.takes_dock.raise_()
    window.generate()  # the previs, as the sample is set up
    wait_until(lambda: len(shot.takes) > known and window.generation.active_jobs == 0, 120)
    box = window.inspector.backend_box
    box.setCurrentIndex(box.findData("builtin"))
    box.activated.emit(box.currentIndex())
    document.push(SetShotSetting(document, shot.id, "steps", 8))
    window.generate()
    wait_until(lambda: len(shot.takes) > known + 1 and window.generation.active_jobs == 0, 600)
    wait_until(lambda: window.viewer.kind == "take")
    window.viewer.pause()
    window.viewer.seek(40)
    window.takes_dock.raise_()
    window.obedience.set_enabled(True)
    wait_until(lambda: window.viewer.view.obedience is not None, timeout=120)
    settle(600)
    shoot(window, "takes-ask-vs-got.png")
    shoot(window.takes_panel, "takes-panel.png")
    window.obedience.set_enabled(False)
    panel = window.takes_panel
    panel.select_take(shot.takes[known].id)
    panel.compare_button.click()
    wait_until(lambda: window.viewer.wiping and window.viewer.compared_frame() is not None)
    window.viewer.view.wipe = 0.45
    window.viewer.seek(40)
    settle(400)
    shoot(window, "takes-wipe.png")
    panel.compare_button.click()


def _shoot_project(window, shoot, settle, wait_until) -> None:
    """Project-wide settings and takes that do not fit: the Export dialog listing the shots
    without a take, Project Settings, a take marked as made at another size and length, and
    the Export dialog saying what it does with it."""
    from engine.export import review_export
    from studio.export import ExportOptions
    from studio.export_dialog import ExportDialog

    document = window.document
    first = document.project.shots[0]
    document.set_current_shot(first.id)

    def export_dialog(name: str) -> None:
        project = document.project
        dialog = ExportDialog(
            ExportOptions(path=project.folder.parent / f"{project.name}.mp4", scope="sequence"),
            True,
            window,
            review=lambda scope: review_export(project, document.current_shot_id, scope),
        )
        dialog.show()
        settle(400)
        shoot(dialog, name)
        dialog.close()
        dialog.deleteLater()

    if first.active_take is None:
        export_dialog("project-export-missing.png")  # neither shot has a take yet
        window.generate()
        wait_until(lambda: first.active_take is not None, timeout=90)
    wait_until(lambda: window.viewer.kind == "take")
    window.viewer.pause()

    dialog = window.show_project_settings()
    dialog.width_spin.setValue(1001)  # rounded, and said so beside the field
    dialog.height_spin.setValue(432)
    settle(300)
    shoot(dialog, "project-settings.png")
    dialog.width_spin.setValue(768)
    dialog.apply()
    window.inspector.duration_spin.setValue(3.0)  # the take is 2 s: its last frame is held
    window.takes_dock.raise_()
    window.inspector_dock.raise_()
    window.takes_panel.list.setCurrentRow(0)
    settle(600)
    shoot(window, "project-take-mismatch.png")
    export_dialog("project-export-mismatch.png")


def _shoot_sequence(window, out: Path, shoot, settle, wait_until) -> None:
    """The sequence playing across a cut (the playhead just past it, the viewer on the second
    shot's take), and the timeline's timecode ruler with a rolled cut."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest

    from studio.timeline import RULER_H, SHOT_H, SHOT_TOP

    document = window.document
    shots = document.project.shots[:2]
    for shot in shots:
        if shot.active_take is None:
            window.generation.generate(1, shot.id)
    wait_until(lambda: all(s.active_take is not None for s in shots), timeout=120)
    window.timeline_dock.raise_()
    window.timeline.fit()
    canvas = window.timeline.canvas
    cut = document.project.shot_start(shots[1])
    x = canvas.x_of(cut - 12) + canvas.px_per_frame / 2
    QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPointF(x, RULER_H / 2).toPoint())
    wait_until(lambda: window.viewer.kind == "take")
    settle(600)
    player = window.sequence_player
    window.play_sequence()
    wait_until(lambda: player.frame >= cut + 3, timeout=30)
    path = out / "sequence-playback.png"
    window.grab().save(str(path))  # at once: the playhead just past the cut
    print(f"wrote {path}")
    window.sequence_player.pause()
    settle(300)

    # the ruler in timecode, while a cut is rolled onto the playhead (the snap line shows)
    canvas.set_playhead(cut + 8)
    points = _between(
        QPointF(canvas.x_of(cut) - 2, SHOT_TOP + SHOT_H / 2),
        QPointF(canvas.x_of(cut + 8) + 3, SHOT_TOP + SHOT_H / 2),
        8,
    )
    points = [p.toPoint() for p in points]
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=points[0])
    for point in points[1:]:
        settle(15)
        QTest.mouseMove(canvas, point)
    shoot(window.timeline_dock, "timeline-timecode.png")
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=points[-1])
    document.undo_stack.undo()


def _drag(widget, points, settle) -> None:
    """A real mouse drag through `points` (widget coordinates), a move every ~15 ms."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    points = [QPoint(round(p.x()), round(p.y())) for p in points]
    QTest.mousePress(widget, Qt.MouseButton.LeftButton, pos=points[0])
    for point in points[1:]:
        settle(15)
        QTest.mouseMove(widget, point)
    settle(15)
    QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=points[-1])


def _between(a, b, steps: int = 10):
    from PySide6.QtCore import QPointF

    a, b = QPointF(a), QPointF(b)
    return [a + (b - a) * (i / steps) for i in range(steps + 1)]


def previs_ready(window) -> bool:
    """The viewer plays the whole previs of the shot as it is now."""
    shot = window.document.current_shot
    return (
        window.live_previs.idle
        and window.viewer.kind == "previs"
        and window.viewer.available_frames == shot.duration
    )


def _shoot_tools(window, shoot, settle, wait_until) -> None:
    """The timeline, the camera editor with a shaped curve, the brush with a stroke and path."""
    document = window.document
    first, second = document.project.shots

    # the timeline: both shots generated, so each block shows its take
    window.generation.generate(1, second.id)
    wait_until(lambda: second.active_take is not None, timeout=60)
    document.set_current_shot(first.id)
    wait_until(lambda: window.viewer.kind == "take")
    window.timeline.fit()
    window.viewer.pause()
    window.viewer.seek(30)
    settle(600)
    shoot(window.timeline_dock, "timeline.png")

    # the camera editor: the pan's first segment eased with Bezier handles, the handle
    # pulled for a fast start, and the end key dragged higher; the viewer plays the previs
    window.camera_dock.raise_()
    editor = window.camera_editor
    settle(300)
    editor.set_easing(0, "bezier")
    settle(300)
    plot = editor.plots["pan"]
    (x1, y1, _), _second = plot.handle_points
    _drag(
        editor.graph.viewport(),
        _between(plot.widget_pos(x1, y1, editor.graph), plot.widget_pos(x1 + 4, 6.5, editor.graph)),
        settle,
    )
    key = editor.path.sorted().keyframes[-1]
    _drag(
        editor.graph.viewport(),
        _between(
            plot.widget_pos(key.frame, key.pose.pan, editor.graph),
            plot.widget_pos(key.frame, key.pose.pan + 4, editor.graph),
        ),
        settle,
    )
    window.viewer.seek(20)
    wait_until(lambda: previs_ready(window))
    shoot(window, "studio-camera.png")
    shoot(window.camera_dock, "camera-editor.png")

    # the motion brush: paint the left cloud with a soft brush, drag it across the sky
    window.brush_dock.show()
    window.brush_dock.raise_()
    panel = window.brush_panel
    canvas = panel.canvas
    wait_until(lambda: canvas._base is not None)
    settle(300)
    canvas.select("")
    panel.set_tool("brush")
    panel.size_slider.setValue(44)
    panel.hardness_slider.setValue(30)
    at = canvas.widget_pos
    strokes = [((0.28, 0.10), (0.62, 0.08)), ((0.30, 0.14), (0.58, 0.14))]
    for start, end in strokes:
        _drag(canvas, _between(at(*start), at(*end), 14), settle)
    panel.set_tool("path")
    path = [at(0.45, 0.11), at(0.55, 0.07), at(0.68, 0.06), at(0.80, 0.10)]
    points = []
    for a, b in zip(path, path[1:]):
        points += _between(a, b, 6)[:-1]
    _drag(canvas, [*points, path[-1]], settle)
    canvas._hover = at(0.2, 0.45)  # show the brush's outline, as a hovering mouse does
    panel.set_tool("brush")
    window.viewer.seek(40)
    wait_until(lambda: previs_ready(window))
    shoot(window, "studio-brush.png")
    # floated and enlarged, as one paints in earnest
    window.brush_dock.setFloating(True)
    window.brush_dock.resize(820, 700)
    settle(500)
    shoot(window.brush_dock, "brush-canvas.png")
    window.brush_dock.setFloating(False)
    window.inspector_dock.raise_()


if __name__ == "__main__":
    sys.exit(main())
