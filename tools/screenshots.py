"""`make screenshots`: the studio on the sample project before, during and after a generation,
then its tools: the timeline, the camera-path editor and the motion-brush canvas.

Runs the real window (under Xvfb from the Makefile; any Qt platform works) with a scratch
settings folder and a scratch copy of the sample, so nothing of the user's is touched.
The previs backend is slowed down a little for the "during" picture only; everything
else is the app as shipped. Writes PNGs into the folder given (default: screenshots/).
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


def _slow_previs_engine(seconds_per_frame: float):
    """An Engine whose previs pauses between frames, so a screenshot can catch it mid-way."""
    from engine.backends import create_backend
    from engine.worker import Engine

    class SlowPrevis:
        name = "previs"

        def __init__(self):
            self._inner = create_backend("previs")

        def capabilities(self):
            return self._inner.capabilities()

        def load(self, device):
            self._inner.load(device)

        def generate(self, request, controls, report, cancel):
            class SlowReport:
                def progress(self, step, total, message=""):
                    time.sleep(seconds_per_frame * 6)
                    report.progress(step, total, message)

                def preview(self, frames, step, total, complete=False):
                    report.preview(frames, step, total, complete)

                def notice(self, message, level="info"):
                    report.notice(message, level)

            return self._inner.generate(request, controls, SlowReport(), cancel)

    def backend_factory(name):
        return SlowPrevis() if name == "previs" else create_backend(name)

    return lambda callback: Engine(callback, device="cpu", backend_factory=backend_factory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default=str(ROOT / "screenshots"))
    parser.add_argument("--size", default="1600x1000")
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

    window = MainWindow(engine_factory=_slow_previs_engine(0.05), restore_layout=False)
    window.resize(width, height)
    window.show()
    window.files.open_path(project)
    wait_until(lambda: window.viewer.view.has_image)
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

    _shoot_tools(window, app, shoot, settle, wait_until)

    page = window.show_shortcuts()
    shoot(page, "help-shortcuts.png")
    page.close()

    window.shutdown()
    window.close()
    QTimer.singleShot(0, app.quit)
    app.exec()
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


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


def _shoot_tools(window, app, shoot, settle, wait_until) -> None:
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
