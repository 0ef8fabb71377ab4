"""The previs backend through the real engine: streaming previews, exact final frames."""

from __future__ import annotations

import queue

import numpy as np
import pytest

from engine.camera import preset
from engine.controls import compile_request, reference_card
from engine.jobs import JobFinished, JobNotice, JobPreview, JobProgress
from engine.project import Project, Shot, ShotSettings
from engine.render import request_for_shot
from engine.worker import Engine


@pytest.fixture
def project(tmp_path):
    project = Project.new(tmp_path / "P")
    project.width, project.height = 96, 64
    project.shots = [
        Shot(
            duration=16,
            camera=preset("zoom-in", 16),
            seed=7,
            settings=ShotSettings(backend="previs"),
        )
    ]
    project.save()
    return project


def run(request):
    events: queue.Queue = queue.Queue()
    engine = Engine(events.put, device="cpu")
    try:
        engine.submit(request)
        seen = []
        while not seen or not isinstance(seen[-1], JobFinished):
            seen.append(events.get(timeout=20))
        return seen
    finally:
        assert engine.shutdown()


def test_previs_streams_growing_previews_and_finishes_with_the_guide(project):
    request = request_for_shot(project, project.shots[0])
    events = run(request)
    previews = [e for e in events if isinstance(e, JobPreview)]
    lengths = [len(p.frames) for p in previews]
    assert lengths == sorted(lengths) and lengths[-1] == 16 and len(lengths) >= 4
    assert previews[-1].complete and not previews[0].complete
    assert [e.step for e in events if isinstance(e, JobProgress)][-1] == 16
    finished = events[-1]
    assert finished.frames.shape == (16, 64, 96, 3)
    np.testing.assert_array_equal(finished.frames, compile_request(request).guide)
    # without a keyframe the user is told why they see a grid card
    assert any(isinstance(e, JobNotice) and "grid" in e.message for e in events)


def test_previs_is_deterministic_and_the_zoom_is_visible(project):
    first = run(request_for_shot(project, project.shots[0]))[-1].frames
    second = run(request_for_shot(project, project.shots[0]))[-1].frames
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first[0], reference_card(96, 64))
    assert np.abs(first[-1].astype(int) - first[0]).mean() > 5


def test_controls_resample_to_latent_size(project):
    controls = compile_request(request_for_shot(project, project.shots[0]))
    small = controls.resample(12, 8, frames=5)
    assert small.flow(4).shape == (8, 12, 2) and small.move_mask(4).shape == (8, 12)
    assert small.frames == 5 and small.homographies.shape == (5, 3, 3)
    # the zoom's fixed point stays the centre at any size
    h = small.homographies[-1].astype(np.float64)
    centre = np.array([(12 - 1) / 2, (8 - 1) / 2, 1.0])
    mapped = h @ centre
    np.testing.assert_allclose(mapped[:2] / mapped[2], centre[:2], atol=1e-3)
