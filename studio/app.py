"""`kinema` with no subcommand: the studio's QApplication, theme, logging and first project.

The first launch opens a copy of the sample project (kept in the user's documents, so
generated takes never land inside the installation); later launches open the last
project. Uncaught exceptions are logged to a rotating file and shown in a dialog that
points at it, never a silent death.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from engine.logs import LOG_FILE, log_folder, log_to_file

from . import settings, theme

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE = REPO_ROOT / "assets" / "samples" / "Meadow.kinema"
ICON = REPO_ROOT / "assets" / "icons" / "kinema.svg"


def projects_folder() -> Path:
    """Where the sample is copied on first launch (KINEMA_PROJECTS_DIR overrides)."""
    from platformdirs import user_documents_dir

    return Path(os.environ.get("KINEMA_PROJECTS_DIR") or Path(user_documents_dir()) / "Kinema")


def sample_project() -> Path:
    """A writable copy of the sample project, made once."""
    target = projects_folder() / SAMPLE.name
    if not (target / "project.json").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        if SAMPLE.is_dir():
            shutil.copytree(SAMPLE, target, dirs_exist_ok=True)
        else:  # an installation without assets: build the sample from code
            from engine.samples import make_meadow

            make_meadow(target.parent)
    return target


def first_project(requested: str | None) -> Path:
    if requested:
        return Path(requested)
    return settings.last_project() or sample_project()


def setup_logging(verbose: bool = False) -> Path:
    path = log_to_file(logging.DEBUG if verbose else logging.INFO)
    return path or log_folder() / LOG_FILE


def crash_message(
    value: BaseException, log_path: Path, saved_state: Callable[[], str] | None
) -> str:
    """What the crash dialog says: the error, the truth about the user's work, the log."""
    state = ""
    if saved_state is not None:
        try:
            state = saved_state()
        except Exception:  # noqa: BLE001 - the dialog must show even if this fails
            log.exception("could not tell what was saved")
    state = state or "Kinema could not tell whether your latest changes were saved."
    return f"Kinema hit an unexpected error: {value}\n\n{state}\n\nThe details are in {log_path}."


def install_excepthook(log_path: Path, saved_state: Callable[[], str] | None = None) -> None:
    """Log any uncaught exception and tell the user where the details are; keep running.

    `saved_state` says what of the user's work is safe (saved, autosaved at a time, or
    not), so the dialog never claims an autosave that did not happen.
    """

    def hook(kind, value, tb):
        log.critical("uncaught exception", exc_info=(kind, value, tb))
        sys.__stderr__.write("".join(traceback.format_exception(kind, value, tb)))
        app = QApplication.instance()
        if app is not None and not os.environ.get("KINEMA_NO_CRASH_DIALOG"):
            QMessageBox.critical(
                app.activeWindow(),
                "Something went wrong",
                crash_message(value, log_path, saved_state),
            )

    sys.excepthook = hook


#: library (as ctypes finds it) -> the Debian/Ubuntu package holding it; Qt's xcb plugin
#: loads them all, and without any one the window never opens (libxcb-cursor0 most often)
XCB_LIBRARIES = {
    "xcb-cursor": "libxcb-cursor0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-keysyms": "libxcb-keysyms1",
    "xcb-image": "libxcb-image0",
    "xcb-render-util": "libxcb-render-util0",
    "xcb-shape": "libxcb-shape0",
    "xcb-xkb": "libxcb-xkb1",
    "xcb-randr": "libxcb-randr0",
    "xkbcommon-x11": "libxkbcommon-x11-0",
}


def xcb_problem(environ=None, find_library=None) -> str:
    """The sentence to print when Qt would need its xcb plugin and the X11 libraries it
    loads are missing (Qt's own message names a plugin, not a package); "" otherwise.

    Only when xcb is the one platform Qt would try: on Linux with a display, and
    QT_QPA_PLATFORM unset or plain "xcb" (a list such as "xcb;offscreen" has a fallback).
    """
    import ctypes.util

    environ = os.environ if environ is None else environ
    find_library = find_library or ctypes.util.find_library
    if not sys.platform.startswith("linux"):
        return ""
    platform = environ.get("QT_QPA_PLATFORM", "").strip()
    if platform and platform != "xcb":
        return ""
    if not environ.get("DISPLAY") or (not platform and environ.get("WAYLAND_DISPLAY")):
        return ""  # no X display, or a Wayland session Qt draws on directly
    missing = [package for lib, package in XCB_LIBRARIES.items() if find_library(lib) is None]
    if not missing:
        return ""
    names = " ".join(missing)
    what = f"the X11 librar{'ies' if len(missing) > 1 else 'y'} {', '.join(missing)}"
    return (
        f"Kinema needs {what} to open its window: install "
        f"{'them' if len(missing) > 1 else 'it'} with `sudo apt install {names}`."
    )


def create_application(argv: list[str]) -> QApplication:
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "kinema", *argv])
    app.setApplicationName("Kinema")
    app.setOrganizationName("Kinema")
    app.setApplicationDisplayName("Kinema")
    app.setDesktopFileName("kinema")
    if ICON.is_file():
        app.setWindowIcon(QIcon(str(ICON)))
    theme.apply(app)
    return app


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="kinema", description="Kinema studio")
    parser.add_argument("project", nargs="?", help="a project folder to open")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.add_argument("--quit-after", type=int, metavar="MS", help="close after MS (smoke tests)")
    parser.add_argument("--reset-layout", action="store_true", help="ignore the saved layout")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_known_args(argv)


def main(argv: list[str] | None = None) -> int:
    args, qt_args = parse_args(list(sys.argv[1:] if argv is None else argv))
    log_path = setup_logging(args.verbose)
    if problem := xcb_problem():
        log.error("%s", problem)
        sys.stderr.write(problem + "\n")
        return 1
    app = create_application(qt_args)
    install_excepthook(log_path)

    from .main_window import MainWindow

    window = MainWindow(device=args.device, restore_layout=not args.reset_layout)
    install_excepthook(log_path, window.files.saved_state)
    window.show()
    path = first_project(args.project)
    if not window.files.open_path(path):
        fallback = sample_project()
        if path != fallback:
            window.files.open_path(fallback)
    if args.quit_after is not None:
        QTimer.singleShot(args.quit_after, window.close)
    code = app.exec()
    window.shutdown()
    if not window.engine_stopped:
        log.warning("quitting while the engine is still loading a model")
    leave(int(code))
    return int(code)


def leave(code: int) -> None:
    """End the process now that the window has shut down: the project is saved (or its
    autosave kept), its lock given up, the settings written; the log is flushed here.

    Python's own teardown would free torch, Qt and every module one by one, which takes
    a second or more after the window has gone and saves nothing; and an engine thread
    still inside a model load (nothing can interrupt one; its job is cancelled) would
    hold the exit until the load ended.
    """
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    logging.shutdown()
    os._exit(code)
