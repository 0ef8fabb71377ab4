"""One writer per project: a lock file naming who holds the project, and when it is stale.

Two studio windows (or a studio and a script) on one project used to lose work: the last
save won silently, and one window's clean-up deleted the takes the other had just made.
Now the process that opens a project for writing holds `project.lock` in its folder, a
small JSON file naming a random token, the user, the host and the process. Anyone else
opens the project read-only (or, in the studio, takes it over after asking).

A lock is stale when its holder is gone: on this machine, when its process no longer runs
(the process start time tells a reused pid apart where the OS gives one); on another
machine, when its heartbeat (the file's modification time, touched every minute by its
holder) is older than `STALE_AFTER_S`. A stale lock is taken over without asking.

The lock is advisory, like every file lock on a shared folder; what makes it safe is that
its holder checks it still holds the token before every write it makes (`ProjectLock.
check`), so a process that was taken over stops writing instead of overwriting.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import os
import secrets
import socket
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from .errors import ProjectError

log = logging.getLogger(__name__)

LOCK_FILE = "project.lock"
#: a lock from another machine whose heartbeat is older than this is stale
STALE_AFTER_S = 10 * 60
#: how often a holder should call `refresh` (the studio does it on a timer)
HEARTBEAT_S = 60
#: an unreadable lock younger than this is being written right now: not stale
_FRESH_S = 5.0


@dataclass(frozen=True)
class LockOwner:
    """Who holds a project: what the lock file says."""

    token: str
    user: str
    host: str
    pid: int
    started: float  # seconds since the epoch, when the lock was taken
    process_start: str = ""  # the OS's start mark of `pid` (Linux), to tell a reused pid
    boot: str = ""  # the boot this lock was taken in (Linux): after a reboot no pid is ours

    def describe(self) -> str:
        when = datetime.fromtimestamp(self.started).strftime("%d %b %Y, %H:%M")
        where = "this computer" if self.host == _host() else self.host
        return f"{self.user} on {where} (process {self.pid}), since {when}"


class ProjectLocked(ProjectError):
    """The project is held by another live process; `owner` says who."""

    kind = "locked"

    def __init__(self, folder: Path, owner: LockOwner | None, message: str | None = None):
        who = owner.describe() if owner else "another Kinema"
        super().__init__(
            message
            or f"'{Path(folder).name}' is open in another Kinema ({who}). Open it read-only, "
            f"or close it there first. If that Kinema is no longer running, take it over in "
            f"the studio, or delete {LOCK_FILE} in the project folder."
        )
        self.owner = owner


class LockLost(ProjectError):
    """This process held the project, but another one has taken it over since."""

    kind = "lock-lost"


class ProjectLock:
    """A held lock on one project folder. Release it when the project is closed."""

    def __init__(self, folder: Path, owner: LockOwner):
        self.folder = Path(folder)
        self.owner = owner
        self.taken_over: LockOwner | None = None  # the stale lock this one replaced, if any

    @property
    def path(self) -> Path:
        return self.folder / LOCK_FILE

    @classmethod
    def acquire(cls, folder: Path | str, *, take_over: bool = False) -> ProjectLock:
        """Hold `folder`'s lock, taking over a stale one; `ProjectLocked` if a live process
        holds it (unless `take_over`), `ProjectError` if the folder cannot be written."""
        folder = Path(folder)
        owner = _our_owner()
        path = folder / LOCK_FILE
        for _ in range(20):
            try:
                _create_exclusive(path, owner)
                return cls(folder, owner)
            except FileExistsError:
                pass
            except OSError as error:
                raise ProjectError(
                    f"Kinema cannot write in '{folder.name}' ({error.strerror or error}), so it "
                    "can open the project only read-only."
                ) from error
            current, age = _read(path)
            if current is None and age is None:
                continue  # released meanwhile: try again
            if current is not None and current.token == owner.token:
                return cls(folder, owner)
            stale = is_stale(current, age)
            if not (stale or take_over):
                raise ProjectLocked(folder, current)
            lock = cls(folder, owner)
            lock.taken_over = current
            log.info(
                "taking over the %s lock on %s (%s)",
                "stale" if stale else "live",
                folder,
                current.describe() if current else "unreadable",
            )
            try:
                _write_replace(path, owner)
            except OSError as error:
                raise ProjectError(
                    f"Could not take over '{folder.name}': {error.strerror or error}."
                ) from error
            time.sleep(0.05)  # a rival taking over at the same moment shows itself here
            if lock.holds():
                return lock
        current, _ = _read(path)
        raise ProjectLocked(folder, current)

    def holds(self) -> bool:
        """Whether the lock file still names this lock's token."""
        current, _ = _read(self.path)
        return current is not None and current.token == self.owner.token

    def check(self) -> None:
        """Raise `LockLost` unless this lock is still held: call before every write."""
        if self.holds():
            return
        current, _ = _read(self.path)
        who = current.describe() if current else "someone"
        raise LockLost(
            f"'{self.folder.name}' was taken over by another Kinema ({who}). Nothing was "
            "written here; your changes are still open: use Save As to keep them elsewhere."
        )

    def refresh(self) -> bool:
        """The heartbeat: touch the lock file; False (and nothing touched) if it was lost."""
        if not self.holds():
            return False
        with contextlib.suppress(OSError):
            os.utime(self.path)
        return True

    def release(self) -> None:
        """Remove the lock file, if it is still ours."""
        if self.holds():
            with contextlib.suppress(OSError):
                self.path.unlink()

    def __repr__(self) -> str:
        return f"ProjectLock({self.folder}, pid {self.owner.pid})"


@contextlib.contextmanager
def holding(folder: Path | str):
    """Hold `folder`'s lock for a block of work that writes into the project (a command
    line tool); `ProjectLocked` says who holds it instead."""
    lock = ProjectLock.acquire(folder)
    try:
        yield lock
    finally:
        lock.release()


def read_owner(folder: Path | str) -> LockOwner | None:
    """Who holds `folder` now, if anyone does and the lock file can be read."""
    owner, _ = _read(Path(folder) / LOCK_FILE)
    return owner


def is_stale(owner: LockOwner | None, age: float | None) -> bool:
    """Whether a lock's holder is gone (see the module's docstring)."""
    if owner is None:  # unreadable: stale unless someone is writing it right now
        return age is None or age > _FRESH_S
    if owner.host != _host():
        return age is None or age > STALE_AFTER_S
    if owner.boot and owner.boot != _boot_id():
        return True
    if not _pid_alive(owner.pid):
        return True
    if owner.process_start and owner.process_start != _process_start(owner.pid):
        return True  # that pid now belongs to another program
    return False


# ----------------------------------------------------------------------------- files


def _our_owner() -> LockOwner:
    try:
        user = getpass.getuser()
    except (KeyError, OSError, ImportError):  # no name for this uid (containers)
        user = "someone"
    pid = os.getpid()
    return LockOwner(
        token=secrets.token_hex(16),
        user=user,
        host=_host(),
        pid=pid,
        started=time.time(),
        process_start=_process_start(pid),
        boot=_boot_id(),
    )


def _text(owner: LockOwner) -> bytes:
    return (json.dumps({"kinema_lock": 1, **asdict(owner)}, indent=2) + "\n").encode()


def _create_exclusive(path: Path, owner: LockOwner) -> None:
    """Create the lock file with its content in one step, or FileExistsError.

    The content goes to a unique temp file first and is hard-linked into place, so no one
    ever reads a half-written lock; where links are not supported (some network and FAT
    drives), an exclusive create and a write.
    """
    temp = path.with_name(f".{path.name}.{owner.token[:12]}.tmp")
    try:
        _write_file(temp, _text(owner))
        try:
            os.link(temp, path)
        except FileExistsError:
            raise
        except OSError:  # no hard links here
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "wb") as handle:
                handle.write(_text(owner))
                handle.flush()
                os.fsync(handle.fileno())
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()


def _write_replace(path: Path, owner: LockOwner) -> None:
    temp = path.with_name(f".{path.name}.{owner.token[:12]}.tmp")
    try:
        _write_file(temp, _text(owner))
        os.replace(temp, path)
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()


def _write_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _read(path: Path) -> tuple[LockOwner | None, float | None]:
    """The lock's owner (None if absent or unreadable) and the file's age (None if absent)."""
    try:
        age = max(0.0, time.time() - path.stat().st_mtime)
        if path.stat().st_size > 4096:
            return None, age
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError):
        try:
            return None, max(0.0, time.time() - path.stat().st_mtime)
        except OSError:
            return None, None
    try:
        owner = LockOwner(
            token=str(data["token"]),
            user=str(data.get("user", "someone"))[:100],
            host=str(data.get("host", ""))[:255],
            pid=int(data["pid"]),
            started=float(data.get("started", 0.0)),
            process_start=str(data.get("process_start", "")),
            boot=str(data.get("boot", "")),
        )
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError):
        return None, age
    return owner, age


# ----------------------------------------------------------------------------- processes


def _host() -> str:
    return socket.gethostname() or "this computer"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if sys.platform == "win32":  # os.kill would terminate it there
        return _pid_alive_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    except OSError:
        return False
    return True


def _pid_alive_windows(pid: int) -> bool:  # pragma: no cover - Windows only
    import ctypes

    kernel32 = ctypes.windll.kernel32
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def _process_start(pid: int) -> str:
    """The kernel's start time of `pid` in clock ticks since boot (Linux), else ''."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat[stat.rfind(")") + 2 :].split()  # the name may hold spaces and parentheses
    return fields[19] if len(fields) > 19 else ""


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""
