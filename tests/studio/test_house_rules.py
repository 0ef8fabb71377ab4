"""Rules the studio keeps that no single behaviour test would catch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

STUDIO = Path(__file__).resolve().parents[2] / "studio"


def test_qt_calls_do_not_leak_references_to_none_or_true():
    """PySide6 6.12.0 on CPython 3.11 dropped a reference to None per void call and to True
    per emit, aborting a long session; pyproject pins below it, and this catches a return."""
    from PySide6.QtCore import QObject, Signal

    class Chatty(QObject):
        said = Signal(int)

    chatty = Chatty()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for n in range(5_000):
        chatty.said.emit(n)
        chatty.setObjectName("chatty")
    assert sys.getrefcount(None) > none_before - 1000
    assert sys.getrefcount(True) > true_before - 1000


def test_the_engine_imports_without_qt():
    """`studio -> engine`, never back: the engine must load where PySide6 is blocked."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph', 'studio'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import engine.worker, engine.project, engine.render, engine.takes, engine.jobs\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_only_the_bridge_touches_the_engine_thread():
    users = [
        p.name
        for p in STUDIO.glob("*.py")
        if "engine.worker" in p.read_text() and p.name != "engine_bridge.py"
    ]
    assert users == []
