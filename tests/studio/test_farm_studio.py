"""The studio on a render farm: the queue shows which node runs each job, and the Farm
preference is kept and checked. The farm here is an engine that names a node in every
`JobStarted`, as `FarmClient` does; the farm itself is tested in tests/test_farm.py."""

from __future__ import annotations

import dataclasses

from engine.backends import create_backend
from engine.jobs import JobStarted
from engine.worker import Engine
from studio import preferences
from studio.jobs_model import JobListModel

NODE = "gpu-box-2 GPU 1"


def _on_a_node(callback):
    def relay(event):
        if isinstance(event, JobStarted):
            event = dataclasses.replace(event, node=NODE)
        callback(event)

    return Engine(relay, device="cpu", backend_factory=create_backend)


def test_the_queue_shows_the_node_that_runs_each_job(qtbot, make_window, sample):
    window = make_window(engine_factory=_on_a_node, project=sample)
    panel, model = window.queue_panel, window.generation.model
    assert panel.table.isColumnHidden(JobListModel.NODE)  # no farm job yet: no column
    (job_id,) = window.generation.generate()
    qtbot.waitUntil(lambda: model.record(job_id).status == "finished", timeout=20_000)
    assert model.record(job_id).node == NODE
    row = model.row_of(job_id)
    assert model.index(row, JobListModel.NODE).data() == NODE
    assert NODE in model.index(row, JobListModel.NODE).data(0x0003)  # tooltip role
    assert not panel.table.isColumnHidden(JobListModel.NODE)


def test_the_farm_preference_is_checked_and_kept(window, dialogs):
    seen = []

    def script(dialog) -> bool:
        ok = dialog.buttons.button(dialog.buttons.StandardButton.Ok)
        dialog.farm_edit.setText("gpu-box")  # no port
        seen.append((ok.isEnabled(), dialog.farm_problem.text()))
        dialog.farm_edit.setText("10.0.0.5:6379")
        seen.append((ok.isEnabled(), dialog.farm_problem.text()))
        return True

    dialogs.preferences_script = script
    assert window.show_preferences()
    assert seen[0][0] is False and "is not a farm address" in seen[0][1]
    assert seen[1] == (True, "")
    assert preferences.load().farm_address == "10.0.0.5:6379"
    assert window.preferences.farm_address == "10.0.0.5:6379"
    # the test's own engine stays: nothing tried to reach the farm
    assert window.bridge.running_job is None
