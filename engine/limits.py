"""How much of anything a project file may hold, checked before memory is spent on it.

A one-field edit of a project file can ask for gigabytes: a mask PNG declaring 32768x32768
pixels, 280,000 camera keys, JSON nested a thousand deep. Each limit here is far above what
the studio makes and low enough that the worst file within all of them loads in well under
a second and a gigabyte. Each is checked on the cheapest evidence first (the file size, a
count of brackets, an image header) and refused with a sentence naming the field.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import ProjectError
from .fields import clean_text, has_lone_surrogate

#: the largest project.json read (take requests repeat their shot, masks included)
MAX_PROJECT_BYTES = 128 * 2**20
#: JSON nesting (a project nests about 12 deep; json and Python's stack fail near 1,000)
MAX_DEPTH = 64
#: objects and arrays in one file (each costs ~60 bytes before it holds anything)
MAX_CONTAINERS = 1_000_000
#: values in one file, estimated by commas (a float costs ~32 bytes)
MAX_VALUES = 4_000_000

MAX_SHOTS = 1_000
MAX_TAKES = 10_000  # per shot
MAX_CAMERA_KEYS = 10_000  # per shot
MAX_STROKES = 256  # per shot
MAX_POINTS = 10_000  # per stroke trajectory
MAX_PROMPT_CHARS = 20_000
MAX_NAME_CHARS = 1_000

#: pixels of one stroke mask (the studio paints them at most 768 on the long side)
MAX_MASK_SIDE = 4096
#: pixels of every stroke mask in one project together (float32: 4 bytes each)
MAX_MASK_PIXELS = 48_000_000
#: pixels an image (a keyframe, an import) may have; larger JPEGs are decoded downscaled
MAX_IMAGE_PIXELS = 50_000_000
#: the longest side over the shortest a keyframe may have (a 1x10000 strip is no picture)
MAX_ASPECT = 16.0


def read_project_text(file: Path, label: str) -> str:
    """The file's text, refused before reading when it is larger than any project."""
    try:
        size = file.stat().st_size
        if size > MAX_PROJECT_BYTES:
            raise ProjectError(
                f"'{label}' is {size / 2**20:.0f} MB; Kinema reads project files up to "
                f"{MAX_PROJECT_BYTES // 2**20} MB, so this one is damaged or not a project."
            )
        with open(file, "rb") as handle:
            data = handle.read(MAX_PROJECT_BYTES + 1)
    except OSError as error:
        raise ProjectError(f"Could not read '{label}': {error.strerror or error}.") from error
    if len(data) > MAX_PROJECT_BYTES:
        raise ProjectError(f"'{label}' grew past {MAX_PROJECT_BYTES // 2**20} MB while read.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ProjectError(
            f"'{label}' is damaged: it is not UTF-8 text (byte {error.start})."
        ) from error


def parse_json(text: str, label: str, hint: str = "") -> tuple[object, list[str]]:
    """Parse a project's JSON within the limits; returns the data and the fields whose text
    was repaired (lone surrogates replaced), for the caller to tell the user. `hint` ends
    the sentence for a damaged file (where a good copy may be)."""
    hint = f" {hint}" if hint else ""
    containers = text.count("{") + text.count("[")
    if containers > MAX_CONTAINERS or text.count(",") > MAX_VALUES:
        raise ProjectError(
            f"'{label}' holds more values than any project ({containers} objects and lists); "
            "it is damaged or not a Kinema project."
        )
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise ProjectError(
            f"'{label}' is damaged: {error.msg} at line {error.lineno}, column {error.colno}.{hint}"
        ) from error
    except RecursionError as error:
        raise ProjectError(
            f"'{label}' nests values more than {MAX_DEPTH} deep: it is damaged.{hint}"
        ) from error
    except ValueError as error:  # an integer of more than 4,300 digits
        raise ProjectError(f"'{label}' holds a number too long to read: {error}.") from error
    repaired = _check_tree(data, label)
    return data, repaired


def _reject_constant(name: str):
    raise ProjectError(f"The project file holds {name}, which is not a number Kinema accepts.")


def _check_tree(data: object, label: str) -> list[str]:
    """Walk the parsed tree without recursion: refuse deep nesting, repair lone surrogates.

    Paths are kept as (parent, key) links and spelled out only when needed, so the walk
    costs little more than a visit per container.
    """
    repaired: list[str] = []
    stack: list[tuple[object, tuple | None, int]] = [(data, None, 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ProjectError(
                f"nests values more than {MAX_DEPTH} deep; '{label}' is damaged",
                _spell(where) or None,
            )
        if type(value) is dict:
            if any(not k.isascii() and has_lone_surrogate(k) for k in value):
                for key in [k for k in value if has_lone_surrogate(k)]:
                    value[clean_text(key)] = value.pop(key)
                    repaired.append(_spell((where, clean_text(key))))
            items = value.items()
        else:
            items = enumerate(value)
        changed = []
        for key, item in items:
            kind = type(item)
            if kind is str:
                if not item.isascii() and has_lone_surrogate(item):
                    changed.append(key)
            elif kind is dict or kind is list:
                stack.append((item, (where, key), depth + 1))
        for key in changed:
            value[key] = clean_text(value[key])
            repaired.append(_spell((where, key)))
    return repaired


def _spell(where: tuple | None) -> str:
    """A (parent, key) chain as a field path: ``shots[0].camera.keyframes[2]``."""
    parts = []
    while where is not None:
        where, key = where
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    return "".join(reversed(parts)).lstrip(".")
