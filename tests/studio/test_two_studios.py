"""Two studio processes on one project, round after round: no take and no edit is lost.

Each round, one studio opens the project first and holds it; the other opens it too (and
is told it is read-only). The holder edits, generates a take and autosaves; the other
edits too, finds it cannot save there, and saves its work elsewhere with Save As; then it
closes cleanly, which used to delete the holder's new take and its autosave. The holder
saves and closes. The roles swap every round. After each round every take and edit made so
far must be where it was saved.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from studio_helpers import SAMPLE

from engine.lock import LOCK_FILE
from engine.project import Project

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


class Studio:
    """One `studio_process.py`, spoken to one JSON line at a time."""

    def __init__(self, name: str, scratch: Path):
        scratch.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "OMP_NUM_THREADS": "1",
            "KINEMA_LOG_DIR": str(scratch / "logs"),
            "KINEMA_PROJECTS_DIR": str(scratch / "projects"),
            "KINEMA_NO_HF_CACHE": "1",
        }
        env.pop("KINEMA_MODELS", None)
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "studio_process.py"), str(scratch)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=scratch,
        )
        assert json.loads(self.process.stdout.readline()) == {"ready": True}

    def __call__(self, do: str, **args) -> dict:
        self.process.stdin.write(json.dumps({"do": do, **args}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"studio {self.name} died"
        answer = json.loads(line)
        assert "error" not in answer, answer
        return answer

    def quit(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write(json.dumps({"do": "quit"}) + "\n")
            self.process.stdin.flush()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def play(rounds: int, tmp_path: Path) -> dict:
    project = tmp_path / "Shared.kinema"
    shutil.copytree(SAMPLE, project)
    studios = [Studio("A", tmp_path / "a"), Studio("B", tmp_path / "b")]
    made_takes: list[str] = []
    holder_edits: list[str] = []
    copies: dict[Path, str] = {}
    refused_saves = 0
    try:
        for round_ in range(rounds):
            holder, other = studios[round_ % 2], studios[1 - round_ % 2]
            assert holder("open", path=str(project))["ok"], (round_, holder("state"))
            assert holder("state")["read_only"] is False
            assert other("open", path=str(project), locked="read-only")["ok"], other("state")
            assert other("state")["read_only"] is True

            edit = f" [{holder.name}{round_}]"
            assert holder("edit", text=edit)["ok"]
            take = holder("generate")
            assert take["ok"], take
            made_takes.append(take["take"])
            assert holder("autosave")["ok"]

            theirs = f" [{other.name}{round_} elsewhere]"
            assert other("edit", text=theirs)["ok"]
            assert other("generate")["ok"] is False  # it would write into the held project
            refused = other("save")
            assert refused["ok"] is False
            refused_saves += 1
            copy = tmp_path / "copies" / f"round{round_}.kinema"
            assert other("save_as", path=str(copy))["ok"]
            copies[copy] = theirs
            assert other("close")["ok"]  # used to delete the holder's new take and autosave

            assert (project / f"takes/{Project.load(project).shots[0].id}/{take['take']}").is_dir()
            assert (project / "project.autosave.json").is_file()
            assert holder("save")["ok"]
            holder_edits.append(edit)
            assert holder("close")["ok"]
            assert not (project / LOCK_FILE).exists()
    finally:
        for studio in studios:
            studio.quit()
    saved = Project.load(project)
    shot = saved.shots[0]
    listed = {t.id for t in shot.takes}
    lost_takes = [
        t for t in made_takes if t not in listed or not (project / shot.take(t).folder).is_dir()
    ]
    lost_edits = [e for e in holder_edits if e not in shot.prompt]
    lost_edits += [e for c, e in copies.items() if e not in Project.load(c).shots[0].prompt]
    return {
        "rounds": rounds,
        "takes_made": len(made_takes),
        "lost_takes": len(lost_takes),
        "edits_made": len(holder_edits) + len(copies),
        "lost_edits": len(lost_edits),
        "saves_refused_read_only": refused_saves,
    }  # fmt: skip


def test_two_studio_processes_lose_nothing(tmp_path):
    report = play(3, tmp_path)
    print(f"\ntwo studios: {report}")
    assert report["lost_takes"] == 0 and report["lost_edits"] == 0


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_two_studio_processes_lose_nothing_over_30_rounds(tmp_path):
    report = play(30, tmp_path)
    print(f"\ntwo studios: {report}")
    assert report == {
        "rounds": 30,
        "takes_made": 30,
        "lost_takes": 0,
        "edits_made": 60,
        "lost_edits": 0,
        "saves_refused_read_only": 30,
    }
