"""GUI benchmarks for `kinema bench gui-stall`, `kinema bench viewer` and `previs-drag`.

Figures, never assertions: they go in a table, measured side by side in one run.

- `bench_gui_stall`: the real main window on a scratch copy of the sample project; a 2 ms
  `QTimer` probe records when the event loop gets to run. The worst gap between ticks
  while jobs generate, stream previews, save takes and play them, next to the worst gap
  over the same time idle, is how long the window could not respond.
- `bench_viewer`: the viewer playing 1920x1080 frames at 60 fps, at "fit" and at 100 %;
  counts the frames painted against the frames due, and the paint time per frame.
- `bench_previs_drag`: the real window at 512x512; real mouse events drag a camera key in
  the graph editor and then a path point on the brush canvas at 60 moves a second. For
  every previs frame that reaches the viewer, the time from the mouse move that asked for
  it; next to it, what remaking the whole clip per move would cost, and the worst stall
  of the event loop while dragging.

The engine calls these through `engine/bench.py` with a lazy import, so `engine` never
imports Qt. Both run on the offscreen platform unless a display is already chosen.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "assets" / "samples" / "Meadow.kinema"


def _application():
    """The running QApplication, or a new offscreen one with the studio's theme."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from .app import create_application

    return QApplication.instance() or create_application([])


class _StackSampler:
    """Where each thread's Python code is, every 4 ms, on a thread of its own.

    With `KINEMA_BENCH_EXPLAIN=1` the stall benchmark prints, for its worst stalls, what the
    GUI thread and the other threads were doing meanwhile: a stall is either the GUI thread's
    own work (its stack sits in studio code) or a wait for the interpreter lock or a core
    (its stack sits in the event loop while another thread runs Python).
    """

    def __init__(self) -> None:
        import threading

        self.samples: list[tuple[float, dict[str, str]]] = []
        self._stop = threading.Event()
        self._main = threading.main_thread().ident
        self._thread = threading.Thread(target=self._run, name="stall-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import sys
        import threading
        import traceback

        own = threading.get_ident()
        while not self._stop.is_set():
            names = {t.ident: t.name for t in threading.enumerate()}
            now = time.perf_counter()
            where = {}
            for ident, frame in sys._current_frames().items():
                if ident == own:
                    continue
                stack = traceback.extract_stack(frame)[-4:]
                label = " < ".join(
                    f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack)
                )
                name = "GUI" if ident == self._main else names.get(ident, str(ident))
                where[name] = label
            self.samples.append((now, where))
            time.sleep(0.004)

    def explain(self, ticks: list[float], cpu: list[float], worst: int = 8) -> None:
        from collections import Counter

        gaps, own = np.diff(np.asarray(ticks)), np.diff(np.asarray(cpu))
        print(f"  GUI thread's own CPU time over all gaps above 20 ms: "
              f"{own[gaps > 0.02].sum() * 1e3:.0f} of {gaps[gaps > 0.02].sum() * 1e3:.0f} ms")  # fmt: skip
        for i in np.argsort(gaps)[::-1][:worst]:
            start, end = ticks[i], ticks[i + 1]
            inside = [w for t, w in self.samples if start <= t <= end]
            print(f"  stall of {gaps[i] * 1e3:.1f} ms at {start - ticks[0]:.2f} s, GUI thread "
                  f"on a core {own[i] * 1e3:.1f} ms of it, {len(inside)} samples:")  # fmt: skip
            threads = Counter(name for w in inside for name in w)
            for name, _ in threads.most_common(4):
                common = Counter(w[name] for w in inside if name in w).most_common(2)
                for label, n in common:
                    print(f"    {name:>14s} {n:3d}x {label}")


class _StallProbe:
    """A precise timer that records every tick; gaps beyond its interval are stalls."""

    def __init__(self, interval_ms: int = 2) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.interval_s = interval_ms / 1000
        self.ticks: list[float] = []
        self.cpu: list[float] = []  # the GUI thread's own CPU time at each tick
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        self.ticks.append(time.perf_counter())
        self.cpu.append(time.thread_time())

    def start(self) -> None:
        self.ticks.clear()
        self.cpu.clear()
        self._timer.start()

    def stop(self) -> dict:
        self._timer.stop()
        gaps = np.diff(np.asarray(self.ticks)) if len(self.ticks) > 1 else np.zeros(1)
        return {
            "ticks": len(self.ticks),
            "worst_ms": float(gaps.max() * 1e3),
            "p99_ms": float(np.percentile(gaps, 99) * 1e3),
            "median_ms": float(np.median(gaps) * 1e3),
            "over_50ms": int((gaps > 0.050).sum()),
        }


def _run_for(app, seconds: float, until=None) -> float:
    from PySide6.QtCore import QEventLoop

    start = time.perf_counter()
    while time.perf_counter() - start < seconds and not (until and until()):
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        time.sleep(0.0005)
    return time.perf_counter() - start


def bench_gui_stall(
    jobs: int = 4,
    backend: str | None = None,
    size: tuple[int, int] | None = None,
    timeout_s: float = 300.0,
) -> dict:
    """Worst event-loop stall while `jobs` generations run, preview, save and play.

    Measured in three phases one after the other: generating (the jobs run, previews
    stream into the viewer, takes are written, the finished take starts playing),
    playing (the take loops in the viewer), and idle (paused), which is the baseline.
    """
    app = _application()
    from . import settings
    from .main_window import MainWindow

    scratch = Path(tempfile.mkdtemp(prefix="kinema-bench-"))
    settings.configure("Kinema-bench", "gui-stall", scratch / "settings")
    project = scratch / SAMPLE.name
    shutil.copytree(SAMPLE, project)
    window = MainWindow(restore_layout=False)
    results: dict = {}
    try:
        window.resize(1600, 1000)
        window.show()
        window.files.open_path(project, offer_recovery=False)
        _run_for(app, 1.0, until=lambda: window.viewer.view.has_image)
        shot = window.document.current_shot
        if backend:  # as choosing it in the inspector does: the backend's own defaults
            from engine.backends import create_backend

            caps = create_backend(backend).capabilities()
            shot.settings.backend = backend
            shot.settings.steps = caps.default_steps or shot.settings.steps
            shot.settings.guidance = caps.default_guidance or shot.settings.guidance
        if size:
            window.document.project.width, window.document.project.height = size
        probe = _StallProbe()

        sampler = _StackSampler() if os.environ.get("KINEMA_BENCH_EXPLAIN") else None
        probe.start()
        if sampler:
            sampler.start()
        started = time.perf_counter()
        window.generation.generate(jobs)
        busy_s = _run_for(app, timeout_s, until=lambda: len(shot.takes) >= jobs)
        _run_for(app, 0.5)  # the last take starts playing
        busy = probe.stop()
        if sampler:
            sampler.stop()
            print("Where the threads were during the worst stalls while generating:")
            sampler.explain(probe.ticks, probe.cpu)
        elapsed = time.perf_counter() - started

        window.viewer.play()
        probe.start()
        _run_for(app, min(busy_s, 5.0))
        playing = probe.stop()
        window.viewer.pause()
        probe.start()
        _run_for(app, min(busy_s, 5.0))
        idle = probe.stop()
        frames = sum(t.frames for t in shot.takes)
        results = {
            "jobs": jobs,
            "backend": shot.settings.backend,
            "size": f"{window.document.project.width}x{window.document.project.height}",
            "frames": frames,
            "seconds": elapsed,
            "busy": busy,
            "playing": playing,
            "idle": idle,
            "finished": len(shot.takes) >= jobs,
        }
    finally:
        window.shutdown()
        window.close()
        window.deleteLater()
        _run_for(app, 0.05)
        shutil.rmtree(scratch, ignore_errors=True)
    busy, idle = results["busy"], results["idle"]
    print(
        f"GUI event-loop stall, {results['jobs']} {results['backend']} jobs at {results['size']}"
        f" ({results['frames']} frames generated, previewed, saved and played in "
        f"{results['seconds']:.1f} s), 2 ms timer probe:"
    )
    print(f"  {'':>12s} {'worst':>9s} {'p99':>9s} {'median':>9s} {'>50 ms':>7s} {'ticks':>7s}")
    for name, r in (("generating", busy), ("playing", results["playing"]), ("idle", idle)):
        print(
            f"  {name:>12s} {r['worst_ms']:7.1f}ms {r['p99_ms']:7.1f}ms {r['median_ms']:7.2f}ms"
            f" {r['over_50ms']:7d} {r['ticks']:7d}"
        )
    print(
        f"  worst stall while generating / idle: {busy['worst_ms'] / max(idle['worst_ms'], 1e-3):.1f}x"
    )
    return results


def bench_viewer(
    width: int = 1920,
    height: int = 1080,
    fps: float = 60.0,
    seconds: float = 3.0,
    clip_frames: int = 24,
    view_size: tuple[int, int] = (1280, 800),
) -> dict:
    """Playback of a `width` x `height` clip at `fps`: frames painted against frames due."""
    app = _application()
    from .frame_view import ZOOM_FIT, frame_to_qimage
    from .viewer import ViewerWidget

    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    clip = np.empty((clip_frames, height, width, 3), np.uint8)
    for t in range(clip_frames):  # distinct frames, like a real clip, not one cached image
        clip[t] = np.roll(np.repeat(np.repeat(base, 8, 0), 8, 1), t * 16, axis=1)
    clip.flags.writeable = False

    wrap_s = statistics.median(
        _time_once(lambda f=clip[i % clip_frames]: frame_to_qimage(f)) for i in range(200)
    )
    image, _pixels = frame_to_qimage(clip[0])
    zero_copy = np.shares_memory(np.frombuffer(image.constBits(), np.uint8), clip[0])

    viewer = ViewerWidget()
    viewer.resize(*view_size)
    viewer.show()
    viewer.show_clip(clip, fps, "bench", kind="take", keep_position=False)
    _run_for(app, 0.3)
    results = {
        "size": f"{width}x{height}",
        "fps": fps,
        "zero_copy": bool(zero_copy),
        "wrap_us": wrap_s * 1e6,
    }
    camera, strokes = _sample_overlays(clip_frames, width, height)
    modes = (("fit", ZOOM_FIT, False), ("100%", 1.0, False), ("fit+overlays", ZOOM_FIT, True))
    for label, zoom, overlays in modes:
        viewer.set_overlays(camera, strokes) if overlays else viewer.set_overlays(None, [])
        viewer.view.set_zoom(zoom)
        viewer.seek(0)
        _run_for(app, 0.2)
        view = viewer.view
        painted0, skipped0, paint0 = (
            view.presented_frames,
            viewer.skipped_frames,
            view.paint_seconds,
        )
        viewer.play()
        elapsed = _run_for(app, seconds)
        viewer.pause()
        painted = view.presented_frames - painted0
        due = int(elapsed * fps)
        results[label] = {
            "due": due,
            "painted": painted,
            "dropped": max(0, due - painted),
            "skipped_by_clock": viewer.skipped_frames - skipped0,
            "achieved_fps": painted / elapsed,
            "paint_ms": (view.paint_seconds - paint0) / max(painted, 1) * 1e3,
        }
    viewer.close()
    viewer.deleteLater()
    _run_for(app, 0.05)
    print(
        f"viewer playback, {results['size']} at {fps:g} fps for {seconds:g} s in a "
        f"{view_size[0]}x{view_size[1]} viewer; numpy->QImage {results['wrap_us']:.1f} us, "
        f"{'zero-copy' if results['zero_copy'] else 'copied'}:"
    )
    print(f"  {'view':>12s} {'due':>6s} {'painted':>8s} {'dropped':>8s} {'fps':>7s} {'paint':>9s}")
    for label, _zoom, _overlays in modes:
        r = results[label]
        print(
            f"  {label:>12s} {r['due']:6d} {r['painted']:8d} {r['dropped']:8d} "
            f"{r['achieved_fps']:7.1f} {r['paint_ms']:7.2f}ms"
        )
    return results


def _sample_overlays(frames: int, width: int, height: int):
    """The sample shot's camera move and strokes, as the viewer draws them over a take."""
    from engine.project import Project

    from .overlays import camera_overlay, stroke_overlays

    shot = Project.load(SAMPLE).shots[0]
    shot.duration = frames
    return camera_overlay(shot, width, height), stroke_overlays(shot)


def _time_once(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_previs_drag(
    size: tuple[int, int] = (512, 512), moves: int = 60, move_ms: float = 1000 / 60
) -> dict:
    """Edit-to-screen latency of the live previs while dragging (camera key, path point)."""
    app = _application()
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtTest import QTest

    from . import settings
    from .commands import SetResolution
    from .live_previs import previs_clip
    from .main_window import MainWindow

    scratch = Path(tempfile.mkdtemp(prefix="kinema-bench-"))
    settings.configure("Kinema-bench", "previs-drag", scratch / "settings")
    project = scratch / SAMPLE.name
    shutil.copytree(SAMPLE, project)
    window = MainWindow(restore_layout=False)
    results: dict = {"size": f"{size[0]}x{size[1]}", "moves": moves}
    try:
        window.resize(1600, 1000)
        window.show()
        window.files.open_path(project, offer_recovery=False)
        document = window.document
        document.push(SetResolution(document, *size))
        shot = document.current_shot
        live = window.live_previs
        _run_for(app, 5.0, until=lambda: live.base_image(shot) is not None)
        inputs = live.inputs(shot)
        clip_s = statistics.median(_time_once(lambda: previs_clip(inputs)) for _ in range(3))
        results["whole_clip_ms"] = clip_s * 1e3
        probe = _StallProbe()

        def run_drag(widget, start: QPointF, end: QPointF) -> dict:
            window.presenter.previs_latencies.clear()
            window.presenter.previs_breakdown.clear()
            QTest.mousePress(widget, Qt.MouseButton.LeftButton, pos=start.toPoint())
            probe.start()
            began = time.perf_counter()
            for i in range(1, moves + 1):
                u = i / moves
                wave = (1 - abs(2 * u - 1)) if i < moves else 1.0  # out and back, then on
                point = start + (end - start) * wave
                QTest.mouseMove(widget, QPoint(round(point.x()), round(point.y())))
                target = began + i * move_ms / 1000
                _run_for(app, max(0.0, target - time.perf_counter()))
            _run_for(app, 1.0, until=lambda: live.idle)
            stall = probe.stop()
            QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=end.toPoint())
            latencies = np.asarray(window.presenter.previs_latencies) * 1e3
            parts = np.asarray(window.presenter.previs_breakdown).reshape(-1, 3) * 1e3
            waiting, making, handing = (
                np.median(parts, axis=0) if len(parts) else (float("nan"),) * 3
            )
            _run_for(app, 3.0, until=lambda: live.idle and window.viewer.kind == "previs")
            return {
                "shown": int(latencies.size),
                "median_ms": float(np.median(latencies)) if latencies.size else float("nan"),
                "p95_ms": float(np.percentile(latencies, 95)) if latencies.size else float("nan"),
                "max_ms": float(latencies.max()) if latencies.size else float("nan"),
                "worst_stall_ms": stall["worst_ms"],
                "waiting_ms": float(waiting),  # for a free worker (the newest edit wins)
                "making_ms": float(making),  # on the worker
                "handing_ms": float(handing),  # until the GUI thread shows it
            }

        window.camera_dock.raise_()
        editor = window.camera_editor
        _run_for(app, 0.3)
        window.viewer.seek(30)
        plot = editor.plots["pan"]
        key = next(k for k in editor.path.sorted().keyframes if k.frame > 0)
        start = QPointF(plot.widget_pos(key.frame, key.pose.pan, editor.graph))
        end = QPointF(plot.widget_pos(key.frame, key.pose.pan + 10, editor.graph))
        results["camera key"] = run_drag(editor.graph.viewport(), start, end)

        window.brush_dock.show()
        window.brush_dock.raise_()
        _run_for(app, 0.3)
        canvas = window.brush_panel.canvas
        ball = next(s for s in shot.strokes if s.kind == "move")
        canvas.select(ball.id)
        window.brush_panel.set_tool("path")
        point = ball.trajectory[-1]
        start = canvas.widget_pos(point.x, point.y)
        end = canvas.widget_pos(point.x, max(0.05, point.y - 0.4))
        results["path point"] = run_drag(canvas, start, end)
    finally:
        window.shutdown()
        window.close()
        window.deleteLater()
        _run_for(app, 0.05)
        shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"live previs while dragging at {results['size']}, {moves} mouse moves at "
        f"{1000 / move_ms:.0f} Hz; move -> previs frame in the viewer:"
    )
    print(
        f"  {'drag':>12s} {'shown':>6s} {'median':>9s} {'p95':>9s} {'max':>9s} {'stall':>9s}"
        f"   median split: waiting / making / handing over"
    )
    for name in ("camera key", "path point"):
        r = results[name]
        print(
            f"  {name:>12s} {r['shown']:6d} {r['median_ms']:7.1f}ms {r['p95_ms']:7.1f}ms"
            f" {r['max_ms']:7.1f}ms {r['worst_stall_ms']:7.1f}ms"
            f"   {r['waiting_ms']:5.1f} / {r['making_ms']:5.1f} / {r['handing_ms']:5.1f} ms"
        )
    whole = results["whole_clip_ms"]
    print(
        f"  remaking the whole {shot.duration}-frame clip per move instead: {whole:.0f} ms "
        f"({whole / max(results['camera key']['median_ms'], 1e-3):.0f}x the camera-key "
        f"latency, {whole / max(results['path point']['median_ms'], 1e-3):.0f}x the path-point one)"
    )
    return results


BENCHMARKS = {
    "gui-stall": bench_gui_stall,
    "viewer": bench_viewer,
    "previs-drag": bench_previs_drag,
}
