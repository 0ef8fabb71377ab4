"""Evaluation of the built-in model on fixed held-out world clips (`kinema eval MODEL`).

Each model module offers `add_arguments(parser)` and `run(args) -> int` for the command
line, writes a JSON report (atomically) and prints a readable table; `sheet.py` draws the
contact sheet a person looks at. The helpers here are shared by every evaluator: a file's
SHA-256 (which weights were judged), the atomic JSON write, the one-line progress and the
aligned table. Heavy imports (torch, the world) stay inside the model modules' functions,
so building the command line stays cheap.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ..errors import InvalidRequest


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def finite_or_none(value: float | None, digits: int = 4) -> float | None:
    """`value` rounded for a report, or None for NaN/inf/None (JSON has no NaN)."""
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def write_report(path: str | os.PathLike, report: dict) -> Path:
    """Write `report` as indented JSON, atomically: a temp file beside `path`, fsync, rename.

    A report that cannot be written raises `InvalidRequest` naming the path; a good file
    already there is only replaced by a complete new one.
    """
    path = Path(path)
    text = json.dumps(report, indent=2, allow_nan=False) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise InvalidRequest(f"Could not write the report {path}: {error.strerror}.") from error
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp files are private; a report is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class ProgressLine:
    """`done/total` with a short status and an estimate of the time left, rewritten in place
    on one terminal line (stderr); silent when stderr is not a terminal."""

    def __init__(self, total: int, stream=None, enabled: bool | None = None):
        self.total = total
        self.stream = sys.stderr if stream is None else stream
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.start = time.perf_counter()
        self._width = 0

    def __call__(self, done: int, status: str = "") -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        left = elapsed / done * (self.total - done) if done else 0.0
        line = f"{done:>{len(str(self.total))}d}/{self.total}  {status}  ~{left:.0f} s left"
        self.stream.write("\r" + line.ljust(self._width))
        self._width = len(line)
        if done >= self.total:
            self.stream.write("\r" + " " * self._width + "\r")  # leave a clean line
        self.stream.flush()


def format_table(
    columns: Sequence[tuple[str, str]], rows: Sequence[tuple[str, dict]], label_title: str = ""
) -> str:
    """An aligned text table. `columns` are (key, header) pairs; each row is a label and a
    dict of values by key (floats shown with the precision the header's unit needs)."""
    cells = [[label_title, *(header for _, header in columns)]]
    for label, values in rows:
        cells.append([label, *(_cell(values.get(key), header) for key, header in columns)])
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = []
    for n, row in enumerate(cells):
        first = row[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))
        lines.append("  ".join([first, *rest]).rstrip())
        if n == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def _cell(value, header: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    if "SSIM" in header:
        return f"{value:.4f}"
    if "ratio" in header:
        return f"{value:.3f}"
    if "ms" in header:
        return f"{value:.0f}"
    return f"{value:.2f}"
