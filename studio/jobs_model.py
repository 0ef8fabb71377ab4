"""The list of generation jobs the queue panel shows: one row per job, newest last.

Rows are plain `JobRecord`s updated by the generation controller from the bridge's
signals; the model only formats them (status, progress, elapsed and remaining time).

The remaining time is measured, never guessed from the elapsed time (which holds the
model's load and made a first job's estimate several times too long): it is the steps
left times the median of this job's own times per step, read on the job's clock from the
gaps between its progress events, its first step left out (it warms up); a median, so one
step slowed by another program does not swing it. Until the job has its own figure, the
last finished job of the same backend and output size stands in; with neither, the row
says "estimating…". That finished job's decode after its last step is added too.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, QTimer
from PySide6.QtGui import QColor

from . import theme

ACTIVE = ("queued", "running", "saving")
DECODE_AGAIN_TIP = (
    "Decode again: finish this clip with a tiled decode, which needs less memory, "
    "without sampling it again"
)


@dataclass
class JobRecord:
    job_id: str
    label: str
    shot_id: str
    seed: int
    backend: str
    status: str = "queued"  # queued | running | saving | finished | cancelled | failed
    step: int = 0
    total: int = 0
    message: str = ""
    kind: str = ""  # why it failed, as the engine says ("memory", "decode-memory", ...)
    decodable: bool = False  # its decode ran out of memory and the latents are kept
    node: str = ""  # the farm node that runs it ("" on this machine)
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    ended: float | None = None
    size: tuple[int, int, int] = (0, 0, 0)  # width, height, frames: what a step costs
    marks: list[tuple[int, str, float]] = field(default_factory=list)  # step, unit, job clock
    last_mark: float | None = None  # when the newest progress arrived (monotonic, here)
    run_s: float | None = None  # the engine's own time for the whole job, once it finished
    estimate: Measured | None = None  # a finished job like this one, before this has its own

    def add_progress(self, step: int, unit: str, clock: float | None, now: float) -> None:
        """A progress event; `clock` is the job's own (None: its arrival time stands in)."""
        if clock is None:
            clock = now - (self.started if self.started is not None else self.submitted)
        self.marks.append((step, unit, clock))
        self.last_mark = now

    def seconds_per_step(self) -> float | None:
        """The median of this job's times per step, its first step left out; None before
        it has one."""
        per_step = [
            (b[2] - a[2]) / (b[0] - a[0])
            for a, b in zip(self.marks, self.marks[1:])
            if b[0] > a[0] and a[1] == b[1]  # a change of unit ("encoding", "decoding") is no step
        ][1:]
        return statistics.median(per_step) if per_step else None

    def decode_seconds(self) -> float | None:
        """How long the job ran after its last step (the final decode), once it finished."""
        last = next(
            (clock for step, _, clock in self.marks if self.total and step >= self.total), None
        )
        if self.run_s is None or last is None:
            return None
        return max(self.run_s - last, 0.0)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def fraction(self) -> float:
        if self.status in ("finished", "saving"):
            return 1.0
        return self.step / self.total if self.total else 0.0

    def elapsed(self, now: float | None = None) -> float | None:
        if self.started is None:
            return None
        return (self.ended if self.ended is not None else now or time.monotonic()) - self.started

    def remaining(self, now: float | None = None) -> float | None:
        """Seconds left: steps left x seconds per step (+ the final decode, when a finished
        job like this one timed it), counting down since the newest step; None unknown."""
        if self.status != "running":
            return None
        per_step, estimate = self.seconds_per_step(), self.estimate
        total = self.total or (estimate.steps if estimate is not None else 0)
        if not total or (per_step is None and estimate is None):
            return None
        if per_step is None:
            per_step = estimate.step_s
        if self.step >= total and estimate is None:
            return None  # its final decode, which no finished job has timed yet
        decode = estimate.decode_s if estimate is not None else 0.0
        left = max(total - self.step, 0) * per_step + decode
        since = self.last_mark if self.last_mark is not None else self.started
        now = time.monotonic() if now is None else now
        return max(left - (now - since), 0.0) if since is not None else left


@dataclass(frozen=True)
class Measured:
    """What a finished job measured: seconds per step, the decode after its last step, and
    its steps (a like job's total, until its own first step says)."""

    step_s: float
    decode_s: float = 0.0
    steps: int = 0


def _duration(seconds: float | None, unknown: str = "–") -> str:
    if seconds is None:
        return unknown
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


_STATUS_TEXT = {
    "queued": "Queued",
    "running": "Running",
    "saving": "Saving take",
    "finished": "Done",
    "cancelled": "Cancelled",
    "failed": "Failed",
}
_STATUS_COLOUR = {
    "running": theme.ACCENT,
    "saving": theme.ACCENT,
    "finished": theme.SUCCESS,
    "cancelled": theme.DIM_TEXT,
    "failed": theme.DANGER,
}


class JobListModel(QAbstractTableModel):
    COLUMNS = ("Job", "Status", "Node", "Progress", "Elapsed", "Remaining", "")
    JOB, STATUS, NODE, PROGRESS, ELAPSED, REMAINING, CANCEL = range(7)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[JobRecord] = []
        self._measured: dict[tuple, Measured] = {}  # (backend, size) -> the last such job
        self._ticker = QTimer(self)  # elapsed/remaining tick only while a job runs
        self._ticker.setInterval(250)
        self._ticker.timeout.connect(self._tick)

    # ------------------------------------------------------------------ records

    def add(self, record: JobRecord) -> None:
        record.estimate = self._measured.get((record.backend, record.size))
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append(record)
        self.endInsertRows()

    def record(self, job_id: str) -> JobRecord | None:
        return next((r for r in self._rows if r.job_id == job_id), None)

    def records(self) -> list[JobRecord]:
        return list(self._rows)

    def row_of(self, job_id: str) -> int:
        return next((i for i, r in enumerate(self._rows) if r.job_id == job_id), -1)

    def progress(
        self, job_id: str, step: int, total: int, unit: str = "", clock: float | None = None
    ) -> JobRecord | None:
        """A job's step: `clock` is the job's own time at it (`JobProgress.elapsed_s`)."""
        record = self.record(job_id)
        if record is None:
            return None
        record.add_progress(step, unit, clock, time.monotonic())
        return self.update(job_id, step=step, total=total)

    def update(self, job_id: str, **changes) -> JobRecord | None:
        row = self.row_of(job_id)
        if row < 0:
            return None
        record = self._rows[row]
        for name, value in changes.items():
            setattr(record, name, value)
        if changes.get("status") == "running" and record.started is None:
            record.started = time.monotonic()
        if changes.get("status") in ("finished", "cancelled", "failed") and record.ended is None:
            record.ended = time.monotonic()
        if changes.get("status") in ("saving", "finished") and record.run_s is not None:
            self._remember(record)
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.COLUMNS) - 1))
        running = any(r.status == "running" for r in self._rows)
        if running and not self._ticker.isActive():
            self._ticker.start()
        elif not running:
            self._ticker.stop()
        return record

    def _remember(self, record: JobRecord) -> None:
        step_s = record.seconds_per_step()
        if step_s is not None:
            measured = Measured(step_s, record.decode_seconds() or 0.0, record.total)
            self._measured[(record.backend, record.size)] = measured

    def has_nodes(self) -> bool:
        """Whether any job ran on a farm node (the queue shows the Node column then)."""
        return any(r.node for r in self._rows)

    def clear_finished(self) -> list[str]:
        """Drop rows of jobs that ended; returns their ids."""
        gone = [r.job_id for r in self._rows if not r.active]
        self.beginResetModel()
        self._rows = [r for r in self._rows if r.active]
        self.endResetModel()
        return gone

    def remove(self, job_id: str) -> None:
        row = self.row_of(job_id)
        if row >= 0:
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._rows[row]
            self.endRemoveRows()

    def _tick(self) -> None:
        if self._rows:
            self.dataChanged.emit(
                self.index(0, self.ELAPSED), self.index(len(self._rows) - 1, self.REMAINING)
            )

    # ------------------------------------------------------------------ Qt model

    def rowCount(self, parent: QModelIndex | None = None) -> int:  # noqa: N802
        return 0 if parent is not None and parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | None = None) -> int:  # noqa: N802
        return 0 if parent is not None and parent.isValid() else len(self.COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        record = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == self.JOB:
                return record.label
            if column == self.STATUS:
                text = _STATUS_TEXT.get(record.status, record.status)
                return f"{text}: {record.message}" if record.message else text
            if column == self.NODE:
                return record.node
            if column == self.PROGRESS:
                return f"{record.step}/{record.total}" if record.total else ""
            if column == self.ELAPSED:
                return _duration(record.elapsed())
            if column == self.REMAINING:
                unknown = "–"
                if record.status == "running":
                    done = record.total and record.step >= record.total
                    unknown = "finishing…" if done else "estimating…"
                return _duration(record.remaining(), unknown)
            if column == self.CANCEL:
                if record.decodable:
                    return "↻"
                return "✕" if record.status in ("queued", "running") else ""
        if role == Qt.ItemDataRole.UserRole:
            return record.fraction if column == self.PROGRESS else record.job_id
        if role == Qt.ItemDataRole.ForegroundRole and column == self.STATUS:
            colour = _STATUS_COLOUR.get(record.status)
            return QColor(colour) if colour else None
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == self.CANCEL and record.status in ("queued", "running"):
                return "Cancel this job"
            if column == self.CANCEL and record.decodable:
                return DECODE_AGAIN_TIP
            if column == self.JOB:
                return f"{record.label} ({record.backend})"
            if column == self.NODE and record.node:
                return f"Rendered on the farm node {record.node}"
            if record.message:
                return record.message
            return f"{record.backend}, seed {record.seed}"
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (
            self.ELAPSED,
            self.REMAINING,
            self.CANCEL,
        ):
            return int(Qt.AlignmentFlag.AlignCenter)
        return None
