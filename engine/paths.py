"""Names and paths that come from files, made safe before they touch the disk.

A project file is text anyone can edit, so every id and path read from it is untrusted:
a shot id of `"../../escaped"` must never become a folder outside the project, and a
symlink planted in `takes/` must never lead a clean-up out of it. Two rules hold:

- Ids that become path parts (shot and take ids) are checked at load against a small
  safe alphabet, so no id can name `..`, a separator, an empty part or a hidden file.
- Every write and every delete resolves its path and checks that it lies inside the
  project folder at that moment (not only at load: a symlink can appear later), and
  clean-up never follows a symlink.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import unicodedata
from pathlib import Path, PurePosixPath

from .errors import ProjectError
from .fields import show

#: what a shot or take id may hold: it becomes a folder name on every OS
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
#: longest file or folder name most file systems take (bytes in UTF-8)
MAX_NAME_BYTES = 255
#: longest project-relative path kept in a project file
MAX_PATH_CHARS = 1024
# Windows refuses these as file names whatever the extension
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10))}
_RESERVED |= {f"lpt{i}" for i in range(10)}


def check_id(value: object, where: str) -> str:
    """A shot or take id: text from the safe alphabet, so it can name a folder."""
    if not isinstance(value, str) or not SAFE_ID.fullmatch(value):
        raise ProjectError(
            "must be an id of letters, digits, '-' and '_' (at most 64, not starting with "
            f"'-' or '_'), got {show(value)}",
            where,
        )
    return value


def relative_path(value: str, where: str) -> str:
    """A path inside the project folder as stored: forward slashes, no `..`, no absolute
    path, no empty or `.` parts, names the file system can hold."""
    if not isinstance(value, str):
        raise ProjectError(f"must be a path inside the project folder, got {show(value)}", where)
    text = value.replace("\\", "/")
    path = PurePosixPath(text)
    problem = None
    if not text.strip() or not path.parts or str(path) == ".":
        problem = "is empty"
    elif len(text) > MAX_PATH_CHARS:
        problem = f"is longer than {MAX_PATH_CHARS} characters"
    elif path.is_absolute() or ":" in path.parts[0] or text.startswith("//"):
        problem = "is not inside the project folder"
    elif any(part in ("..", ".") for part in text.split("/")):
        problem = "leads out of the project folder"
    elif any(unicodedata.category(c) == "Cc" for c in text):
        problem = "holds control characters"
    else:
        for part in path.parts:
            if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
                problem = f"has a name longer than {MAX_NAME_BYTES} bytes"
            elif part.split(".")[0].lower() in _RESERVED or part.endswith((" ", ".")):
                problem = f"has a name ('{part[:40]}') that some systems cannot store"
            if problem:
                break
    if problem:
        raise ProjectError(
            f"must be a path inside the project folder; {show(value)} {problem}", where
        )
    return str(path)


def take_folder(shot_id: str, take_id: str) -> str:
    """The take's folder relative to the project folder (forward slashes, as stored)."""
    return f"takes/{check_id(shot_id, 'shot id')}/{check_id(take_id, 'take id')}"


def check_take_folder(value: str, where: str) -> str:
    """A take's stored folder must be `takes/<shot id>/<take id>`: clean-up relies on it."""
    path = relative_path(value, where)
    parts = path.split("/")
    if len(parts) != 3 or parts[0] != "takes" or not all(SAFE_ID.fullmatch(p) for p in parts[1:]):
        raise ProjectError(f"must be a folder takes/<shot id>/<take id>, got {show(value)}", where)
    return path


def inside(root: Path | str, relative: str, what: str = "The path") -> Path:
    """`root / relative`, refused when it resolves outside `root` (through `..` or a symlink).

    Called at every write: a path checked at load can point elsewhere by now.
    """
    root = Path(root)
    target = root / relative
    try:
        real_root = root.resolve()
        real = target.resolve()
    except (OSError, RuntimeError) as error:  # a symlink loop
        raise ProjectError(f"{what} '{relative}' cannot be resolved: {error}.") from error
    if real != real_root and real_root not in real.parents:
        raise ProjectError(
            f"{what} '{relative}' leads outside the project folder (through a link); "
            "Kinema reads and writes only inside the project."
        )
    return target


def is_real_dir(path: Path) -> bool:
    """A folder that is not a symlink (nor a Windows junction): safe to walk and delete."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode):
        return False
    is_junction = getattr(os.path, "isjunction", None)
    return not (is_junction is not None and is_junction(path))


def real_subdirs(folder: Path) -> list[Path]:
    """The folders directly in `folder` that are real folders (symlinks skipped), sorted."""
    if not is_real_dir(folder):
        return []
    try:
        with os.scandir(folder) as entries:
            names = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []
    return [folder / name for name in sorted(names) if is_real_dir(folder / name)]


def copy_tree(source: Path, target: Path, check=None) -> None:
    """Copy a project's folder (media/, takes/) into another, skipping what is there, what
    is being written (`.partial`) and every symlink: Save As never copies in a file from
    outside the project. `check()` is called per file (a cancel point)."""
    source, target = Path(source), Path(target)
    stack = [source] if is_real_dir(source) else []
    while stack:
        folder = stack.pop()
        relative = folder.relative_to(source)
        (target / relative).mkdir(parents=True, exist_ok=True)
        try:
            with os.scandir(folder) as entries:
                items = sorted(entries, key=lambda e: e.name)
        except OSError:
            continue
        for entry in items:
            if check is not None:
                check()
            if entry.is_symlink() or entry.name.endswith(".partial"):
                continue
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                stack.append(path)
            elif entry.is_file(follow_symlinks=False):
                destination = target / relative / entry.name
                if not destination.exists():
                    shutil.copy2(path, destination)
