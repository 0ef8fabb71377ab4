"""`make screenshots`: the studio on the sample project before, during and after a generation.

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

    page = window.show_shortcuts()
    shoot(page, "help-shortcuts.png")
    page.close()

    window.shutdown()
    window.close()
    QTimer.singleShot(0, app.quit)
    app.exec()
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
