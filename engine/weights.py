"""Weights on disk: safetensors for tensors, a JSON side file for the config. Never pickle.

A model is stored as two files next to each other, `name.safetensors` (the state dict) and
`name.json` (the config the module is built from, plus anything else a reader needs, such as
a VAE's latent scaling). Pickle-based formats are never read: a weight file must not be able
to run code. Every failure a user can meet (a missing file, a truncated download, weights
from another model size) raises `ModelLoadError` with a sentence that names the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from .errors import ModelLoadError


def config_path(weights_path: str | Path) -> Path:
    """The JSON side file of a weight file: `vae.safetensors` -> `vae.json`."""
    return Path(weights_path).with_suffix(".json")


def save_tensors(
    path: str | Path,
    tensors: Mapping[str, torch.Tensor],
    metadata: dict | None = None,
    header: dict | None = None,
) -> None:
    """Write `tensors` atomically (temp file in the same folder, then rename).

    Tensors are copied to contiguous CPU memory first (safetensors stores raw buffers, and
    channels-last or shared tensors would otherwise be refused). `metadata`, if given, is
    written as the JSON side file, also atomically. `header` (JSON-able) goes inside the
    safetensors file itself, so it can never disagree with the tensors (`read_header`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plain = {name: t.detach().to("cpu").contiguous().clone() for name, t in tensors.items()}
    extra = None if header is None else {"kinema": json.dumps(header)}
    _atomic_write(path, lambda tmp: save_file(plain, str(tmp), metadata=extra))
    if metadata is not None:
        text = json.dumps(metadata, indent=2, sort_keys=True)
        _atomic_write(config_path(path), lambda tmp: Path(tmp).write_text(text + "\n"))


def load_tensors(path: str | Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Read a safetensors file; `ModelLoadError` if it is missing or not a valid file."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"The weight file {path} does not exist.")
    try:
        return load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ModelLoadError(
            f"The weight file {path} is damaged or not a safetensors file ({error}). "
            "Download or export it again."
        ) from error


def read_header(path: str | Path) -> dict:
    """The `header` stored by `save_tensors` inside a safetensors file ({} if none)."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"The weight file {path} does not exist.")
    try:
        with safe_open(str(path), framework="pt") as handle:
            text = (handle.metadata() or {}).get("kinema")
        return json.loads(text) if text else {}
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelLoadError(f"The weight file {path} is damaged ({error}).") from error


def load_config(path: str | Path) -> dict:
    """Read the JSON side file of `path` (a `.safetensors` or the `.json` itself)."""
    path = config_path(path)
    if not path.is_file():
        raise ModelLoadError(f"The model config {path} does not exist.")
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"The model config {path} is not valid JSON ({error}).") from error
    if not isinstance(config, dict):
        raise ModelLoadError(f"The model config {path} should hold a JSON object.")
    return config


@contextlib.contextmanager
def _no_initialisation():
    """`torch.nn.init` does nothing inside, on this thread: meta tensors have no values to
    fill, and filling one runs torch's Python reference kernels, whose first use imports the
    compiler stack (about two seconds holding the interpreter lock: in the studio, the GUI
    waits). Other threads keep the real functions."""
    import threading

    from torch.nn import init

    owner = threading.get_ident()
    names = [n for n in dir(init) if n.endswith("_") and not n.startswith("_")]
    saved = {n: getattr(init, n) for n in names}

    def skipping(real):
        def maybe(tensor, *args, **kwargs):
            if threading.get_ident() == owner:
                return tensor
            return real(tensor, *args, **kwargs)

        return maybe

    for name in names:
        setattr(init, name, skipping(saved[name]))
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(init, name, function)


def build_checked(
    factory: Callable[[], nn.Module],
    path: str | Path,
    what: str,
    shape_only: Callable[[], nn.Module] | None = None,
) -> nn.Module:
    """`factory()`, once its size is known to match the weight file.

    A config is plain JSON: a damaged or hand-edited one can describe a model of hundreds
    of gigabytes, which would fail deep in the allocator and read as an internal error.
    The module is first built on torch's meta device (no memory), its bytes compared with
    the weight file's, and only then built for real. `shape_only` builds the same shapes
    where `factory` reads tensor values back (which meta tensors do not have).
    """
    path = Path(path)
    try:
        with torch.device("meta"), _no_initialisation():
            shape_only = (shape_only or factory)()
    except (TypeError, ValueError, RuntimeError, OverflowError) as error:
        raise ModelLoadError(f"The {what} config beside {path} is not valid: {error}") from error
    wanted = sum(t.numel() * t.element_size() for t in shape_only.state_dict().values())
    have = path.stat().st_size if path.is_file() else 0
    if wanted > 2 * have + 2**20:  # the file holds every weight (plus a small header)
        raise ModelLoadError(
            f"The {what} config beside {path} describes a model of {wanted / 2**30:.1f} GB, but "
            f"the weight file holds {have / 2**20:.0f} MB: the config is damaged or belongs to "
            "another model. Reinstall or export the model again."
        )
    return factory()


def save_module(module: nn.Module, path: str | Path, config: dict | None = None) -> None:
    """Save `module.state_dict()` to `path` and `config` (if given) to the side file."""
    save_tensors(path, module.state_dict(), config)


def load_module(module: nn.Module, path: str | Path) -> nn.Module:
    """Load weights from `path` into `module` in place, strictly.

    Every tensor of the module must be in the file with the same shape, and the file may hold
    nothing else; otherwise `ModelLoadError` lists what differs (weights of another model
    size are the usual cause).
    """
    return load_state(module, load_tensors(path), str(path))


def load_state(module: nn.Module, tensors: Mapping[str, torch.Tensor], source: str) -> nn.Module:
    """`load_module` from tensors already read (`source` names them in messages)."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    mismatched = [
        f"{name} {tuple(tensors[name].shape)} instead of {tuple(t.shape)}"
        for name, t in expected.items()
        if name in tensors and tensors[name].shape != t.shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {_some(missing)}")
    if unexpected:
        problems.append(f"unexpected {_some(unexpected)}")
    if mismatched:
        problems.append(f"wrong shape: {_some(mismatched)}")
    if problems:
        raise ModelLoadError(
            f"The weights in {source} do not fit this model ({'; '.join(problems)}). "
            "They were probably saved from a model of another size."
        )
    with torch.no_grad():
        for name, target in expected.items():
            target.copy_(tensors[name].to(target.dtype))
    return module


def _some(names: list[str], limit: int = 3) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _atomic_write(path: Path, write) -> None:
    """Call `write(tmp)` on a temp file beside `path`, fsync it, then rename over `path`."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # temp files are private; weights are ordinary readable files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
