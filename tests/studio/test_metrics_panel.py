"""The metrics tab: per-frame plots and a verdict in plain words for the active take."""

from __future__ import annotations

import numpy as np

from engine.camera import CameraPath
from studio.commands import SetCamera, SetResolution
from studio.metrics_panel import CameraAdherence, StrokeAdherence, TakeQuality, verdict

FINISH_TIMEOUT = 15_000


def measured(qtbot, window, shot):
    window.generation.generate(1, shot.id)
    qtbot.waitUntil(lambda: bool(shot.takes), timeout=FINISH_TIMEOUT)
    window.metrics_dock.raise_()
    panel = window.metrics_panel
    qtbot.waitUntil(lambda: panel.verdict.text() != "", timeout=FINISH_TIMEOUT)
    return panel


def test_a_take_with_camera_and_strokes_is_judged_against_them(qtbot, window):
    window.document.push(SetResolution(window.document, 128, 72))
    shot = window.document.current_shot
    panel = measured(qtbot, window, shot)
    assert set(panel.adherence_curves) == {"camera", "Ball rolls right"}
    assert panel.adherence_plot.isVisible()
    x, y = panel.adherence_curves["Ball rolls right"].getData()
    assert len(x) == shot.duration and y[0] == 0.0
    text = panel.verdict.text()
    assert text.startswith("Steady picture")
    assert "the camera moved as asked" in text  # previs follows its own path
    assert "“Ball rolls right” followed its path" in text
    assert "Ball rolls right" in panel.summary.text() and "flicker" in panel.summary.text()


def test_a_plain_take_has_no_adherence_plot(qtbot, window):
    window.document.push(SetResolution(window.document, 96, 54))
    shot = window.document.project.shots[1]
    window.document.set_current_shot(shot.id)
    window.document.push(SetCamera(window.document, shot.id, CameraPath(), "Lock off"))
    panel = measured(qtbot, window, shot)
    assert panel.adherence_curves == {}
    assert not panel.adherence_plot.isVisible()
    assert panel.verdict.text() == "Steady picture."


def test_the_verdict_speaks_plainly():
    flat = np.zeros(4, np.float32)
    quality = TakeQuality(
        4.2,
        flat,
        3.0,
        flat,
        CameraAdherence(True, True, 0.4, flat),
        (StrokeAdherence("Car", "#ff0000", 12.0, flat), StrokeAdherence("Dog", "#00ff00", 5, flat)),
    )
    assert verdict(quality) == (
        "Flickers noticeably: try more steps or another seed · the camera moved the right way "
        "but only 40 % as far · “Car” did not follow its path (off by 12.0 % of the frame) · "
        "“Dog” roughly followed its path (off by 5.0 % of the frame)."
    )
    held = TakeQuality(0.5, flat, 0.5, flat, CameraAdherence(False, True, 0.2, flat))
    assert verdict(held) == "Steady picture · the camera held still as asked."
