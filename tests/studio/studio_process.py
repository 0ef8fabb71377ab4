"""A real studio window in a process of its own, driven line by line over stdin.

Run as `python tests/studio/studio_process.py SCRATCH`; each line on stdin is a JSON
command, each answer one JSON line on stdout. It lets a test put two studios on one
project, as two people (or two windows) would, and script what each does:

    {"do": "open", "path": ..., "locked": "read-only" | "take-over"}
    {"do": "edit", "text": ...}          append to shot 1's prompt (an undoable edit)
    {"do": "generate"}                   one take of shot 1, waited for
    {"do": "autosave"}                   write the autosave now, waited for
    {"do": "save"} / {"do": "save_as", "path": ...}
    {"do": "close"}                      a clean close of the project (the window stays)
    {"do": "state"} / {"do": "quit"}
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("KINEMA_NO_CRASH_DIALOG", "1")


def main(scratch: Path) -> None:
    from PySide6.QtWidgets import QApplication
    from studio_helpers import ScriptedDialogs

    from engine.project import Project
    from studio import settings
    from studio.commands import SetShotField
    from studio.main_window import MainWindow

    settings.configure("Kinema-tests", f"process-{uuid.uuid4().hex[:8]}", scratch / "settings")
    app = QApplication.instance() or QApplication([])
    dialogs = ScriptedDialogs()
    window = MainWindow(dialogs=dialogs, device="cpu", restore_layout=False)

    def wait(condition, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return False
            app.processEvents()
            time.sleep(0.005)
        return True

    def state() -> dict:
        project = window.document.project
        shot = project.shots[0] if project.shots else None
        return {
            "folder": str(project.folder),
            "read_only": window.files.read_only,
            "prompt": shot.prompt if shot else "",
            "takes": [t.id for t in shot.takes] if shot else [],
            "errors": [message for _, message in dialogs.errors],
        }

    def run(command: dict) -> dict:
        do = command["do"]
        document = window.document
        if do == "open":
            dialogs.lock_answer = command.get("locked", "read-only")
            dialogs.unsaved_answer = "discard"
            return {"ok": window.files.open_project(Path(command["path"]))}
        if do == "edit":
            shot = document.project.shots[0]
            document.push(
                SetShotField(
                    document, shot.id, "prompt", shot.prompt + command["text"], merge=False
                )
            )
            return {"ok": True}
        if do == "generate":
            shot = document.project.shots[0]
            before = len(shot.takes)
            if not window.generate():
                return {"ok": False}
            return {"ok": wait(lambda: len(shot.takes) > before), "take": shot.takes[-1].id}
        if do == "autosave":
            if not window.files.autosaver.autosave_now():
                return {"ok": False}
            return {"ok": wait(lambda: window.files.autosaver._task is None)}
        if do == "save":
            return {"ok": window.files.save()}
        if do == "save_as":
            done = []
            window.files.project_saved.connect(done.append)
            started = window.files.save_as(Path(command["path"]))
            return {"ok": started and wait(lambda: bool(done))}
        if do == "close":
            wait(lambda: window.generation.active_jobs == 0)
            wait(lambda: window.tasks.active_threads == 0, 10)
            window.files.close()
            window.document.replace_project(Project())
            return {"ok": True}
        if do == "state":
            return state()
        raise ValueError(f"unknown command {do!r}")

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command["do"] == "quit":
            break
        try:
            answer = run(command)
        except Exception as error:  # noqa: BLE001 - reported to the driving test
            answer = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        print(json.dumps(answer), flush=True)
    window.shutdown()
    window.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
