"""How many threads the built-in model computes with.

A laptop always runs other programs: a browser, an export, the studio's own GUI thread.
Every parallel region of a pass waits for its slowest OpenMP thread, so a thread that shares
its core with a busy process holds all the others back: beside one busy process on a
two-core machine, a pass with two threads took 3.7 s against 1.0 s quiet. So each generation
counts the cores other programs keep busy (from the kernel's per-core counters over a few
milliseconds, this process excluded) and computes with the cores left, at least one
(`compute_threads`): the same pass then takes 1.45 s, about what losing one core costs.

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
from collections.abc import Iterator

#: how long the busy cores are sampled before a generation (short next to a pass's second)
SAMPLE_S = 0.03


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


def busy_cores(sample_s: float = SAMPLE_S) -> float:
    """Cores other processes kept busy over `sample_s`, this process's own time excluded
    (0 where the kernel's counters cannot be read)."""
    before, own_before = _cpu_ticks(), _own_seconds()
    if before is None:
        return 0.0
    start = time.perf_counter()
    time.sleep(sample_s)
    after, own_after = _cpu_ticks(), _own_seconds()
    elapsed = time.perf_counter() - start
    if after is None or after[1] <= before[1]:
        return 0.0
    cores = available_cores()
    share = (after[0] - before[0]) / (after[1] - before[1])  # of all cores in the system
    system_cores = os.cpu_count() or cores
    busy = share * system_cores - (own_after - own_before) / elapsed
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


def chosen_threads() -> int:
    fixed = os.environ.get("KINEMA_THREADS", "").strip()
    if fixed:
        try:
            return max(1, int(fixed))
        except ValueError:
            pass
    return threads_for(available_cores(), busy_cores())


@contextlib.contextmanager
def compute_threads(threads: int | None = None) -> Iterator[int]:
    """Run the block with `threads` torch threads (default: `chosen_threads()`), then restore
    the count. Set in the thread that computes: OpenMP keeps the count per calling thread."""
    import torch

    count = chosen_threads() if threads is None else max(1, int(threads))
    previous = torch.get_num_threads()
    if count != previous:
        torch.set_num_threads(count)
    try:
        yield count
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)
