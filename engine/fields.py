"""Readers for values from untrusted JSON, each refusing with a `ProjectError` naming the field.

A project file can hold anything JSON can: a 4,000-digit integer (which `float()` and
`math.isfinite` answer with OverflowError), a list where text belongs, a string with a lone
surrogate (which loads but can never be written as UTF-8). These readers are the one place
that turns such values into the sentence the user reads, so no OverflowError, ValueError
or TypeError escapes a load.
"""

from __future__ import annotations

import math
import numbers
import re

from .errors import ProjectError

_SURROGATE = re.compile("[\ud800-\udfff]")
#: the largest magnitude any numeric field accepts before its own range is checked
_HUGE = 1e300


def show(value: object, limit: int = 60) -> str:
    """A value as a message shows it: `repr`, cut short (a 4,000-digit number is no sentence)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 100:
        return f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def number(value: object, where: str, lo: float = -_HUGE, hi: float = _HUGE) -> float:
    """A finite number (not a bool) within [lo, hi], as a float."""
    if type(value) is float and lo <= value <= hi:  # the common case, quickly (NaN fails)
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ProjectError(f"must be a number, got {show(value)}", where)
    original = value
    if isinstance(value, numbers.Integral) and int(value).bit_length() > 1000:
        value = math.inf  # float() would overflow
    value = float(value)
    if not math.isfinite(value) or (lo == -_HUGE and not -_HUGE <= value <= _HUGE):
        raise ProjectError(f"must be a finite number of sensible size, got {show(original)}", where)
    if not lo <= value <= hi:
        raise ProjectError(f"must be between {lo:g} and {hi:g}, got {value:g}", where)
    return value


def whole(value: object, where: str, lo: int, hi: int, what: str = "") -> int:
    """A whole number (not a bool, not 2.0) within [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        what = what or f"a whole number between {lo} and {hi}"
        raise ProjectError(f"must be {what}, got {show(value)}", where)
    return value


def text(value: object, where: str, max_chars: int = 100_000) -> str:
    """Text of a bounded length; a lone surrogate (see `clean_text`) is repaired."""
    if not isinstance(value, str):
        raise ProjectError(f"must be text, got {show(value)}", where)
    if len(value) > max_chars:
        raise ProjectError(f"must be at most {max_chars} characters, got {len(value)}", where)
    return clean_text(value)


def count(items: list, where: str, limit: int, what: str) -> list:
    """A list of at most `limit` items: the cap that keeps a hostile file from taking minutes."""
    if len(items) > limit:
        raise ProjectError(f"holds {len(items)} {what}; Kinema reads at most {limit}", where)
    return items


def clean_text(value: str) -> str:
    """`value` with every lone surrogate replaced by U+FFFD.

    Pasted text and JSON escapes like `"\\ud800"` can carry half of a UTF-16 pair; Python
    holds it, but no UTF-8 file can, so a project holding one could never be saved again.
    """
    if value.isascii():
        return value
    return _SURROGATE.sub("\ufffd", value)


def has_lone_surrogate(value: str) -> bool:
    return not value.isascii() and _SURROGATE.search(value) is not None
