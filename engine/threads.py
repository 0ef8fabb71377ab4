"""How many threads the built-in model computes with.

A laptop always runs other programs: a browser, an export, the studio's own GUI thread.
Every parallel region of a pass waits for its slowest OpenMP thread, so a thread that shares
its core with a busy process holds all the others back: beside one busy process on a
two-core machine, a pass with two threads took 3.7 s against 1.0 s quiet. So a generation
counts the cores other programs keep busy (from the kernel's per-core counters, this
process excluded) and computes with the cores left, at least one: the same pass then takes
1.45 s, about what losing one core costs.

The count is watched while the generation runs (`ThreadWatch`), not sampled before it: a
generation starts at once with the count the previous one ended with, and at the sampler's
steps, every `WINDOW_S`, the count is revised from what other programs took meanwhile. A
busy program keeps at least its fair share of a core while our threads compete with it, so
it still shows; an idle one shows as none. Sampling before each generation cost its first
picture 30 ms of waiting, and missed a program that started mid-stream.

A passive OpenMP wait policy (idle threads sleep at once) was measured too and is not used:
it helps beside a busy process only as much as the thread count does, and on a quiet
machine it made a pass 1.6 times and streaming 1.9 times slower (thousands of small
parallel regions, each waking its threads).

`KINEMA_THREADS` fixes the count and turns the measuring off.

In the studio the engine's thread and the studio's background tasks yield to the GUI thread
(`yield_to_foreground`): they share the process, and an OpenMP team on every core leaves the
GUI thread waiting for a core, its paint taking twice its time. A lowered priority lets the
scheduler hand the GUI its core the moment it has work (measured on `kinema bench
gui-stall-builtin`, quiet: p99 stall 43-62 ms at equal priority, 24-29 ms lowered). The
command line keeps its priority: there nothing is waiting on it but the user.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator

#: how often a running generation revises its thread count (a few steps of a pass)
WINDOW_S = 0.1


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _cpu_ticks() -> tuple[float, float] | None:
    """(busy, total) jiffies over every core, from /proc/stat; None where there is none."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return None
    values = [float(v) for v in fields[:8]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def _reading() -> tuple | None:
    """(system busy jiffies, system total jiffies, this process's CPU seconds, clock)."""
    ticks = _cpu_ticks()
    if ticks is None:
        return None
    return (*ticks, _own_seconds(), time.perf_counter())


def busy_between(before: tuple, after: tuple) -> float:
    """Cores other processes kept busy between two `_reading`s, this process's time excluded."""
    if after[1] <= before[1] or after[3] <= before[3]:
        return 0.0
    cores = available_cores()
    share = (after[0] - before[0]) / (after[1] - before[1])  # of all cores in the system
    system_cores = os.cpu_count() or cores
    busy = share * system_cores - (after[2] - before[2]) / (after[3] - before[3])
    return max(0.0, min(float(cores), busy))


def _own_seconds() -> float:
    times = os.times()
    return times.user + times.system


#: the niceness background threads take in the studio (0 is normal, 19 the lowest)
BACKGROUND_NICE = 10


def yield_to_foreground(nice: int = BACKGROUND_NICE) -> bool:
    """Lower the calling thread's scheduling priority to `nice` (never raise it); threads it
    starts afterwards, such as its OpenMP team, inherit it. Linux only, where a thread has its
    own niceness; elsewhere nothing changes. True when the priority is `nice` or lower now."""
    import sys
    import threading

    if not sys.platform.startswith("linux"):
        return False
    try:
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        return os.getpriority(os.PRIO_PROCESS, tid) >= nice
    except OSError:
        return False


def threads_for(cores: int, busy: float) -> int:
    """The cores left to us, rounded: a process using most of a core takes that core."""
    return max(1, min(cores, int(cores - busy + 0.5)))


def fixed_threads() -> int | None:
    """The count `KINEMA_THREADS` fixes, if it does."""
    fixed = os.environ.get("KINEMA_THREADS", "").strip()
    if fixed:
        try:
            return max(1, int(fixed))
        except ValueError:
            pass
    return None


#: the count the latest generation ended with: where the next one starts
_latest: int | None = None


def latest_threads() -> int:
    """The count the next generation starts with."""
    return fixed_threads() or _latest or available_cores()


class ThreadWatch:
    """One generation's torch thread count, revised as it runs (see the module's text).

    `revise()` is cheap (two counter reads) and is called at the sampler's steps, through
    `checking`; it changes the count at most every `WINDOW_S`. A fixed count never changes.
    """

    def __init__(self, fixed: int | None = None):
        self.count = fixed or latest_threads()
        self._since = None if fixed else _reading()  # None: never revised
        self._apply()

    def _apply(self) -> None:
        import torch

        if torch.get_num_threads() != self.count:
            torch.set_num_threads(self.count)

    def revise(self) -> int:
        global _latest
        if self._since is None:
            return self.count
        now = _reading()
        if now is None or now[3] - self._since[3] < WINDOW_S:
            return self.count
        self.count = threads_for(available_cores(), busy_between(self._since, now))
        self._since = now
        _latest = self.count
        self._apply()
        return self.count

    def checking(self, check_cancel: Callable[[], None] | None) -> Callable[[], None]:
        """`check_cancel` that revises the count first: the sampler calls it every step."""

        def check() -> None:
            self.revise()
            if check_cancel is not None:
                check_cancel()

        return check


@contextlib.contextmanager
def compute_threads(threads: int | None = None) -> Iterator[ThreadWatch]:
    """Run the block under a `ThreadWatch` (`threads` or `KINEMA_THREADS` fix its count),
    then restore the count. Set in the thread that computes: OpenMP keeps the count per
    calling thread."""
    import torch

    previous = torch.get_num_threads()
    fixed = max(1, int(threads)) if threads is not None else fixed_threads()
    try:
        yield ThreadWatch(fixed)
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)
