"""Where the studio keeps window layout, recent files and preferences (QSettings).

Every QSettings the studio opens comes from `open_settings()`, so tests and screenshot runs
can point the whole app at a scratch scope (`configure`) and never touch the user's own
settings. The environment variables let a subprocess (the smoke test, `make screenshots`)
do the same.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

ORGANIZATION = "Kinema"
APPLICATION = "Kinema Studio"
MAX_RECENT = 10

_scope = {
    "organization": os.environ.get("KINEMA_SETTINGS_ORG", ORGANIZATION),
    "application": os.environ.get("KINEMA_SETTINGS_APP", APPLICATION),
    "folder": os.environ.get("KINEMA_SETTINGS_DIR") or None,
}


def configure(organization: str, application: str, folder: Path | str | None = None) -> None:
    """Use another settings scope (tests); `folder` puts the INI file there instead of ~."""
    _scope.update(
        organization=organization,
        application=application,
        folder=str(folder) if folder is not None else None,
    )


def open_settings() -> QSettings:
    """A QSettings in the configured scope (INI format, so a folder override is honoured)."""
    if _scope["folder"]:
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, _scope["folder"])
    return QSettings(
        QSettings.Format.IniFormat,
        QSettings.Scope.UserScope,
        _scope["organization"],
        _scope["application"],
    )


def recent_projects() -> list[Path]:
    """Recently opened projects, newest first, those that still exist."""
    values = open_settings().value("files/recent", [])
    if isinstance(values, str):  # QSettings returns a lone string for a one-item list
        values = [values]
    return [Path(v) for v in values or [] if Path(v).exists()]


def remember_project(folder: Path) -> None:
    """Put `folder` first in the recent list and make it the project opened next time."""
    folder = Path(folder).resolve()
    recent = [p for p in recent_projects() if p.resolve() != folder]
    settings = open_settings()
    settings.setValue("files/recent", [str(p) for p in [folder, *recent][:MAX_RECENT]])
    settings.setValue("files/last", str(folder))


def last_project() -> Path | None:
    value = open_settings().value("files/last", "")
    return Path(value) if value and Path(value).exists() else None


def value(key: str, default=None, kind: type | None = None):
    settings = open_settings()
    if kind is None:
        return settings.value(key, default)
    return settings.value(key, default, type=kind)


def set_value(key: str, data) -> None:
    open_settings().setValue(key, data)
