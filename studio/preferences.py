"""The studio's preferences: where real models live, how they fit in GPU memory, and the
render farm.

Stored with `settings` under "models/folders", "models/memory", "farm/address" and
"view/time_display" (timecode or frame numbers, wherever the studio shows a time). `apply` hands the
folders to the engine's model library; the main window calls it before the engine's
capabilities are first read, and again when the Preferences dialog is accepted, after
which the bridge reads the capabilities afresh and the inspector lists what was found.
The memory mode is not engine state: it travels in every request (`memory=`), read here
when Generate is pressed. The farm address decides what the bridge runs jobs on: empty, this
machine's engine; a Ray head node's HOST:PORT (or "auto"), a `FarmClient` on that farm.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.backends.diffusers.memory import MODE_LABELS, MODES
from engine.model_library import ENV_FOLDERS, discover_models, set_model_folders

from . import settings, timecode

FOLDERS_KEY = "models/folders"
MEMORY_KEY = "models/memory"
FARM_KEY = "farm/address"
KEEP_ORIGINALS_KEY = "import/keep_originals"
TIME_KEY = "view/time_display"


@dataclass(frozen=True)
class Preferences:
    model_folders: tuple[str, ...] = ()  # folders the user named, in their order
    memory: str = "auto"  # one of engine.backends.diffusers.memory.MODES
    farm_address: str = ""  # a Ray farm's head node HOST:PORT or "auto"; "" = this machine
    keep_originals: bool = False  # import images whole, not scaled down to the project's size
    time_display: str = timecode.TIMECODE  # how times read: timecode or frame numbers


def load() -> Preferences:
    folders = settings.value(FOLDERS_KEY, [])
    if isinstance(folders, str):  # QSettings returns a lone string for a one-item list
        folders = [folders]
    memory = str(settings.value(MEMORY_KEY, "auto") or "auto")
    time_display = str(settings.value(TIME_KEY, timecode.TIMECODE) or "")
    return Preferences(
        model_folders=tuple(str(f) for f in folders or [] if str(f).strip()),
        memory=memory if memory in MODES else "auto",
        farm_address=str(settings.value(FARM_KEY, "") or "").strip(),
        keep_originals=bool(settings.value(KEEP_ORIGINALS_KEY, False, bool)),
        time_display=time_display if time_display in timecode.STYLES else timecode.TIMECODE,
    )


def save(preferences: Preferences) -> None:
    settings.set_value(FOLDERS_KEY, list(preferences.model_folders))
    settings.set_value(MEMORY_KEY, preferences.memory)
    settings.set_value(FARM_KEY, preferences.farm_address)
    settings.set_value(KEEP_ORIGINALS_KEY, preferences.keep_originals)
    settings.set_value(TIME_KEY, preferences.time_display)


def farm_problem(address: str) -> str:
    """Why `address` cannot be a farm address, or "" (empty is fine: this machine)."""
    from engine.farm import FarmError
    from engine.farm.cluster import split_address

    if not address.strip():
        return ""
    try:
        split_address(address)
    except FarmError as error:
        return str(error)
    return ""


def engine_factory(preferences: Preferences):
    """What the bridge runs jobs on: None (this machine's engine) or a farm client maker."""
    if not preferences.farm_address:
        return None
    from engine.farm.client import FarmClient

    address = preferences.farm_address
    return lambda callback: FarmClient(callback, address)


def apply(preferences: Preferences) -> None:
    """Point the engine's model discovery at the user's folders; set how times read."""
    set_model_folders(preferences.model_folders)
    timecode.set_style(preferences.time_display)


def memory_mode() -> str:
    """The GPU memory mode every new request carries."""
    return load().memory


def memory_label(mode: str) -> str:
    return MODE_LABELS.get(mode, mode)


# ------------------------------------------------------------------ what the folders hold


@dataclass(frozen=True)
class FoundModel:
    """One model discovery found, as the Preferences dialog lists it."""

    backend: str  # "diffusers:<name>"
    label: str  # what the inspector's backend menu will show
    path: Path
    problem: str  # why it cannot run here, or ""


def environment_folders() -> list[Path]:
    """The folders the environment adds to the user's (as the model library reads them)."""
    raw = os.environ.get(ENV_FOLDERS, "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip()]


def found_models(folders) -> list[FoundModel]:
    """What discovery finds with `folders` as the user's folders (the environment's folders
    and the hub cache as always), without changing what the engine uses now."""
    from engine.backends.diffusers import DiffusersBackend

    seen, search = set(), []
    for folder in [*(Path(f).expanduser() for f in folders), *environment_folders()]:
        key = str(folder.resolve()) if folder.exists() else str(folder)
        if key not in seen:
            seen.add(key)
            search.append(folder)
    found = []
    for entry in discover_models(search):
        caps = DiffusersBackend(entry).capabilities()
        problem = entry.problem or caps.unavailable
        label = entry.name if problem else caps.label
        found.append(FoundModel(entry.backend, label, entry.path, problem))
    return found
