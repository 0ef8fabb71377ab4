"""`kinema info`: what a bug report needs (versions, device, backends and what each can do)."""

from __future__ import annotations

import platform
from dataclasses import fields
from importlib import metadata

from . import __version__
from .backends import backend_names, create_backend
from .worker import resolve_device

_PACKAGES = (
    "torch",
    "numpy",
    "av",
    "opencv-python-headless",
    "safetensors",
    "PySide6-Essentials",
    "diffusers",
    "transformers",
    "accelerate",
)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def collect_info() -> dict:
    caps = {}
    for name in backend_names():
        try:
            caps[name] = create_backend(name).capabilities()
        except Exception as error:  # reported, not raised: info must always print
            caps[name] = f"unavailable ({error})"
    return {
        "kinema": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {p: _version(p) for p in _PACKAGES},
        "device": resolve_device("auto"),
        "backends": caps,
    }


def print_info() -> None:
    info = collect_info()
    print(f"Kinema {info['kinema']}  (Python {info['python']}, {info['platform']})")
    print(f"device: {info['device']}")
    for package, version in info["packages"].items():
        print(f"  {package:24s} {version}")
    print("backends:")
    for name, caps in info["backends"].items():
        if isinstance(caps, str):
            print(f"  {name}: {caps}")
            continue
        can = [f.name.replace("_", " ") for f in fields(caps) if getattr(caps, f.name) is True]
        print(f"  {name:10s} {caps.label}: {caps.description}")
        print(f"  {'':10s} honours: {', '.join(can) or 'nothing'}; up to {caps.max_frames} frames")
        if caps.uses_steps:
            defaults = f"{caps.default_steps} steps, guidance {caps.default_guidance:g}"
            print(f"  {'':10s} starts shots at: {defaults}")
        if caps.unavailable:
            print(f"  {'':10s} unavailable: {caps.unavailable}")


def print_models() -> None:
    """`kinema models`: every model folder found, what it can do, or why it cannot run."""
    from .backends.diffusers import DiffusersBackend, models_extra_missing
    from .model_library import discover_models, hf_cache_folder, model_folders

    folders = model_folders()
    cache = hf_cache_folder()
    print("model folders: " + (", ".join(str(f) for f in folders) or "none set"))
    print(f"hub cache: {cache if cache is not None else 'not read'}")
    missing = models_extra_missing()
    if missing:
        print(f"note: {missing}")
    entries = discover_models()
    if not entries:
        print("no models found. Add a folder with --models DIR, KINEMA_MODELS or the studio's")
        print("Preferences > Model folders; a model folder holds a model_index.json.")
        return
    for entry in entries:
        caps = DiffusersBackend(entry).capabilities()
        print(f"{entry.backend}")
        print(f"    {caps.label}  [{entry.pipeline or 'unknown'}]  {entry.path}")
        if caps.unavailable:
            print(f"    cannot run: {caps.unavailable}")
            continue
        takes = ["prompt"] + (["keyframe"] if caps.keyframe else [])
        takes += ["last frame"] if caps.last_frame else []
        print(f"    takes: {', '.join(takes)}; makes {caps.frame_rule}")
        print(f"    starts shots at {caps.default_steps} steps, guidance {caps.default_guidance:g}")
