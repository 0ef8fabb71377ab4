"""How much of anything a project file may hold, checked before memory is spent on it.

A one-field edit of a project file can ask for gigabytes: a mask PNG declaring 32768x32768
pixels, 280,000 camera keys, JSON nested a thousand deep. Each limit here is far above what
the studio makes and low enough that the worst file within all of them loads in well under
a second and a gigabyte. Each is checked on the cheapest evidence first (the file size, a
count of brackets, an image header) and refused with a sentence naming the field.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from .errors import ProjectError
from .fields import clean_text, has_lone_surrogate

#: the largest project.json read (take requests repeat their shot, masks included)
MAX_PROJECT_BYTES = 128 * 2**20
#: JSON nesting (a project nests about 12 deep; json and Python's stack fail near 1,000)
MAX_DEPTH = 64
#: objects and arrays in one file (each costs ~60 bytes and a microsecond to parse)
MAX_CONTAINERS = 500_000
#: values in one file, estimated by commas (a float costs ~32 bytes)
MAX_VALUES = 2_500_000

MAX_SHOTS = 1_000
MAX_TAKES = 10_000  # per shot
MAX_CAMERA_KEYS = 10_000  # per shot
MAX_STROKES = 256  # per shot
MAX_POINTS = 10_000  # per stroke trajectory
#: the same counts over the whole project, so a thousand shots at each cap cannot add up
MAX_TOTALS = {"camera keys": 40_000, "takes": 20_000, "strokes": 2_000, "points": 100_000}
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
            data = handle.read()  # read(n) would reserve n bytes at once
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
    the sentence for a damaged file (where a good copy may be).

    The parse itself is C; the Python walk over the tree (see `_check_tree`) runs only when
    the text holds a surrogate escape, so a large, clean project opens at the parser's
    speed. Numbers past a float's range come out as infinities, which every field reader
    (and `check_depth`, for free-form values) refuses naming the field.
    """
    hint = f" {hint}" if hint else ""
    containers = text.count("{") + text.count("[")
    if containers > MAX_CONTAINERS or text.count(",") > MAX_VALUES:
        raise ProjectError(
            f"'{label}' holds more values than any project ({containers} objects and lists); "
            "it is damaged or not a Kinema project."
        )
    try:
        try:
            data = json.loads(text, parse_constant=_reject_constant)
        except json.JSONDecodeError:
            raise
        except ValueError:  # an integer too long for Python (4,300 digits): read it as inf
            data = json.loads(text, parse_constant=_reject_constant, parse_int=_int)
    except json.JSONDecodeError as error:
        raise ProjectError(
            f"'{label}' is damaged: {error.msg} at line {error.lineno}, column {error.colno}.{hint}"
        ) from error
    except RecursionError as error:
        raise ProjectError(
            f"nests values more than {MAX_DEPTH} deep; '{label}' is damaged.{hint}",
            _deep_path(text) or None,
        ) from error
    if "\\ud" in text or "\\uD" in text:  # maybe a lone surrogate: walk and repair
        return data, _check_tree(data, label)
    return data, []


def check_depth(value: object, where: str) -> None:
    """Refuse a free-form value (a take's recorded request) nested deeper than `MAX_DEPTH`
    or holding an infinite number: it is written back on every save, and the JSON writer
    recurses and refuses infinities."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ProjectError(f"nests values more than {MAX_DEPTH} deep", where)
        children = item.values() if type(item) is dict else item
        for child in children:
            kind = type(child)
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
            elif kind is float and not math.isfinite(child):
                raise ProjectError("holds a number too large to be stored", where)


def check_totals(raw_shots: list) -> None:
    """Refuse, before any shot is read, a project whose camera keys, takes, strokes or
    trajectory points add up past `MAX_TOTALS`: each costs microseconds to validate, and a
    file at every per-shot cap at once would take minutes to open."""
    totals = dict.fromkeys(MAX_TOTALS, 0)
    for index, shot in enumerate(raw_shots):
        if not isinstance(shot, dict):
            continue
        camera = shot.get("camera")
        keys = camera.get("keyframes") if isinstance(camera, dict) else None
        strokes = shot.get("strokes")
        strokes = strokes if isinstance(strokes, list) else []
        counts = {
            "camera keys": len(keys) if isinstance(keys, list) else 0,
            "takes": len(shot["takes"]) if isinstance(shot.get("takes"), list) else 0,
            "strokes": len(strokes),
            "points": sum(
                len(s["trajectory"])
                for s in strokes
                if isinstance(s, dict) and isinstance(s.get("trajectory"), list)
            ),
        }
        for what, count in counts.items():
            totals[what] += count
            if totals[what] > MAX_TOTALS[what]:
                raise ProjectError(
                    f"the project holds more than {MAX_TOTALS[what]} {what} up to this shot; "
                    "Kinema reads at most that many in one project",
                    f"shots[{index}]",
                )


class _Huge(float):
    """An integer too long to convert, kept as an infinity that says what it was."""

    def __repr__(self) -> str:
        return "a number of more than 4000 digits"


def _int(digits: str) -> int | float:
    """A JSON integer; one too long for Python to convert (4,300 digits) becomes an infinity
    that the field's reader refuses naming the field, rather than failing the whole parse."""
    if len(digits) > 4000:
        return _Huge("-inf" if digits.startswith("-") else "inf")
    return int(digits)


def _reject_constant(name: str):
    raise ProjectError(f"The project file holds {name}, which is not a number Kinema accepts.")


def _check_tree(data: object, label: str) -> list[str]:
    """Walk the parsed tree without recursion: refuse deep nesting, repair lone surrogates.

    Paths are kept as (parent, key) links and spelled out only when needed, so the walk
    costs little more than a visit per container.
    """
    repaired: list[str] = []
    if type(data) not in (dict, list):  # a bare value: the reader refuses it as no project
        return repaired
    stack: list[tuple[object, tuple | None, int]] = [(data, None, 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ProjectError(
                f"nests values more than {MAX_DEPTH} deep; '{label}' is damaged",
                _short(_spell(where)) or None,
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
            elif kind is float and not math.isfinite(item):  # 1e400, or a huge integer
                raise ProjectError(
                    "holds a number too large for any field (it would be infinite)",
                    _spell((where, key)),
                )
        for key in changed:
            value[key] = clean_text(value[key])
            repaired.append(_spell((where, key)))
    return repaired


_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},:]')


def _deep_path(text: str) -> str:
    """The field path at which `text` first nests deeper than `MAX_DEPTH`, found by a scan
    of its brackets (only after the parser gave up: it costs a pass over the text)."""
    stack: list[list] = []  # [kind, key or index, last string seen]
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            if len(stack) > MAX_DEPTH:
                break
            stack.append([token, 0 if token == "[" else "", ""])
        elif token in "]}":
            if stack:
                stack.pop()
        elif not stack:
            continue
        elif token == ",":
            if stack[-1][0] == "[":
                stack[-1][1] += 1
        elif token == ":":
            stack[-1][1] = stack[-1][2]
        else:
            stack[-1][2] = token[1:-1]
    where = None
    for _kind, key, _last in stack[:-1]:
        where = (where, key)
    return _short(_spell(where))


def _short(path: str) -> str:
    return path if len(path) <= 60 else path[:59] + "…"


def _spell(where: tuple | None) -> str:
    """A (parent, key) chain as a field path: ``shots[0].camera.keyframes[2]``."""
    parts = []
    while where is not None:
        where, key = where
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    return "".join(reversed(parts)).lstrip(".")
