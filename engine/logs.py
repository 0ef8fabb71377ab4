"""Where Kinema's log goes: a rotating file in the user's log folder, shared by the studio
and the command line.

The CLI promises one line on stderr for a user's mistake; every warning and traceback
behind it goes here instead, so the line can say where the details are. `--verbose`
also echoes the log to stderr.
"""

from __future__ import annotations

import logging
import os
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOG_FILE = "kinema.log"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_folder() -> Path:
    from platformdirs import user_log_dir

    return Path(os.environ.get("KINEMA_LOG_DIR") or user_log_dir("Kinema", "Kinema"))


def log_to_file(level: int = logging.INFO) -> Path | None:
    """Send the root logger to the rotating log file; its path, or None when the folder
    cannot be written (logging then stays quiet rather than failing the command)."""
    path = log_folder() / LOG_FILE
    root = logging.getLogger()
    root.setLevel(min(level, root.level) if root.handlers else level)
    for handler in root.handlers:
        if isinstance(handler, RotatingFileHandler) and Path(handler.baseFilename) == path:
            return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        root.addHandler(logging.NullHandler())
        return None
    handler.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(handler)
    return path


def echo_to_stderr(level: int = logging.DEBUG) -> None:
    """`--verbose`: show the log on stderr too."""
    handler = logging.StreamHandler()
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
