"""Training loops for the built-in model (`kinema train MODEL`).

Each module offers `add_arguments(parser)` and `run(args) -> int` for the command line.
Checkpoints and logs go to the user's cache folder, never into the repository; exported
weights are safetensors plus a JSON config for `assets/models/builtin/`.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import field


def option(default, help: str):
    """A training-options field whose help text the command line shows."""
    return field(default=default, metadata={"help": help})


def add_option_arguments(parser: argparse.ArgumentParser, options_class) -> None:
    """One `--flag` per field of a training-options dataclass; None keeps a resumed run's value."""
    for f in dataclasses.fields(options_class):
        parser.add_argument(
            f"--{f.name.replace('_', '-')}",
            type=_yes_no if isinstance(f.default, bool) else type(f.default),
            default=None,
            help=f"{f.metadata['help']} ({f.default})",
        )


def _yes_no(text: str) -> bool:
    """A yes/no option's value: bool("0") would be True."""
    value = text.strip().lower()
    if value in ("1", "yes", "true", "on"):
        return True
    if value in ("0", "no", "false", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected yes or no, got {text!r}")


def given_options(args: argparse.Namespace, options_class) -> dict:
    """The training options set on the command line."""
    return {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(options_class)
        if getattr(args, f.name, None) is not None
    }


def resolve_device(name: str):
    """'auto' -> cuda when there is one; a clear error when cuda is asked for and missing."""
    import torch

    from ..errors import InvalidRequest

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidRequest("--device cuda was asked for, but no CUDA GPU is available.")
    return torch.device(name)
