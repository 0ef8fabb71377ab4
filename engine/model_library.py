"""The video models a user already has on disk, found offline, without importing torch.

Models come from folders the user names (the studio's "Model folders" preference, the
`KINEMA_MODELS` variable, `--models DIR` on the command line) and from the Hugging Face
cache, read strictly as files: nothing here opens a socket or asks a hub. A folder is a
model when it holds a `model_index.json` in the diffusers layout; its `_class_name` says
which pipeline it is, and so which family (Wan, LTX-Video, CogVideoX) runs it.

Every model found becomes a backend entry named `diffusers:<name>`. A model that cannot
run (a missing component, pickle weights, a pipeline Kinema does not run, diffusers not
installed) is still listed, with the sentence saying why, so `kinema models` and the
studio can tell the user what to fix rather than silently dropping it.

The studio calls this on the GUI thread, so it reads only JSON files and safetensors
headers: a scan of a few models takes milliseconds.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ModelLoadError

PREFIX = "diffusers:"
ENV_FOLDERS = "KINEMA_MODELS"

#: pipeline class in model_index.json -> family adapter name
PIPELINE_FAMILIES = {
    "WanPipeline": "wan",
    "WanImageToVideoPipeline": "wan",
    "LTXPipeline": "ltx",
    "LTXImageToVideoPipeline": "ltx",
    "LTXConditionPipeline": "ltx",
    "CogVideoXPipeline": "cogvideox",
    "CogVideoXImageToVideoPipeline": "cogvideox",
}

#: weight files that can run code when loaded; never read
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
#: components whose folder holds weights (tokenizers, schedulers and processors hold none)
_WEIGHTLESS = ("scheduler", "tokenizer", "tokenizer_2", "image_processor", "feature_extractor")


@dataclass(frozen=True)
class ModelEntry:
    """One model folder: where it is, which pipeline it is, and why it cannot run, if so."""

    name: str  # what follows 'diffusers:' in the backend name
    path: Path
    pipeline: str  # the _class_name in model_index.json
    family: str  # "wan" | "ltx" | "cogvideox" | "" for a pipeline Kinema does not run
    index: dict = field(default_factory=dict, repr=False, compare=False)
    source: str = "folder"  # "folder" | "hf-cache"
    problem: str = ""  # the sentence saying why it cannot run, or ""

    @property
    def backend(self) -> str:
        return PREFIX + self.name

    def components(self) -> dict[str, tuple[str, str]]:
        """Component name -> (library, class) for the components the index does not null."""
        out = {}
        for key, value in self.index.items():
            if key.startswith("_") or not isinstance(value, list) or len(value) != 2:
                continue
            if value[0] is None or value[1] is None:
                continue
            out[key] = (str(value[0]), str(value[1]))
        return out

    def config(self, component: str) -> dict:
        """A component's config.json (scheduler_config.json for the scheduler), or {}."""
        folder = self.path / component
        for name in ("config.json", "scheduler_config.json", "preprocessor_config.json"):
            path = folder / name
            if path.is_file():
                try:
                    return json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    return {}
        return {}


# ------------------------------------------------------------------------ where to look

_lock = threading.Lock()
_user_folders: list[Path] = []


def set_model_folders(folders) -> None:
    """The folders the user named (studio preference, `--models`); `KINEMA_MODELS` adds to them."""
    with _lock:
        _user_folders[:] = [Path(f).expanduser() for f in folders if str(f).strip()]
        _cache.clear()


def model_folders() -> list[Path]:
    """The user's folders, then those in `KINEMA_MODELS` (separated like PATH), without repeats."""
    with _lock:
        folders = list(_user_folders)
    env = os.environ.get(ENV_FOLDERS, "")
    folders += [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]
    seen, out = set(), []
    for folder in folders:
        key = str(folder.resolve()) if folder.exists() else str(folder)
        if key not in seen:
            seen.add(key)
            out.append(folder)
    return out


def hf_cache_folder() -> Path | None:
    """The Hugging Face hub cache as the hub library itself finds it, or None when disabled.

    Worked out from the same variables (`HF_HUB_CACHE`, `HF_HOME`, `XDG_CACHE_HOME`) rather
    than by importing the hub library, which would pull in networking code for a file read.
    `KINEMA_NO_HF_CACHE=1` turns it off.
    """
    if os.environ.get("KINEMA_NO_HF_CACHE", "").strip() not in ("", "0"):
        return None
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(variable):
            return Path(os.environ[variable]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "huggingface" / "hub"


# ------------------------------------------------------------------------ reading folders


def read_entry(path: Path, name: str | None = None, source: str = "folder") -> ModelEntry:
    """The entry for one folder holding `model_index.json`; problems go in `.problem`."""
    path = Path(path)
    name = name or path.name
    try:
        index = json.loads((path / "model_index.json").read_text(encoding="utf-8"))
        if not isinstance(index, dict):
            raise ValueError("not an object")
    except (OSError, ValueError) as error:
        return ModelEntry(
            name, path, "", "", {}, source,
            f"{path / 'model_index.json'} cannot be read ({error}).",
        )  # fmt: skip
    pipeline = str(index.get("_class_name", ""))
    family = PIPELINE_FAMILIES.get(pipeline, "")
    entry = ModelEntry(name, path, pipeline, family, index, source)
    if not family:
        runs = ", ".join(sorted(set(PIPELINE_FAMILIES)))
        problem = (
            f"{path.name} is a {pipeline or 'pipeline of unknown class'}, which Kinema does not "
            f"run; it runs {runs}."
        )
        return _with_problem(entry, problem)
    return _with_problem(entry, component_problem(entry))


def _with_problem(entry: ModelEntry, problem: str) -> ModelEntry:
    return dataclasses.replace(entry, problem=problem)


#: a component whose weights are the built-in model's VAE (`backends.diffusers.builtin_vae`)
BUILTIN_VAE_LIBRARY = "engine.backends.diffusers.builtin_vae"


def component_problem(entry: ModelEntry) -> str:
    """Why the model's files cannot be loaded (first problem found), or ""."""
    for component, (library, cls) in entry.components().items():
        folder = entry.path / component
        if not folder.is_dir():
            return f"{entry.name}: the {component} folder ({folder}) is missing."
        if component in _WEIGHTLESS or cls.endswith(("Scheduler", "Tokenizer", "TokenizerFast")):
            continue
        if library == BUILTIN_VAE_LIBRARY:  # weights are the built-in model's, not the folder's
            if not (folder / "config.json").is_file():
                return f"{entry.name}: {folder / 'config.json'} is missing."
            continue
        if not (folder / "config.json").is_file():
            return f"{entry.name}: {folder / 'config.json'} is missing."
        try:
            weight_files(folder)
        except ModelLoadError as error:
            return str(error)
    return ""


def weight_files(folder: Path) -> list[Path]:
    """The safetensors files of one component folder, every shard present.

    `ModelLoadError` names what is wrong: pickle weights only (never loaded: a pickle file
    can run code), no weights at all, or a shard the index lists that is not there.
    """
    folder = Path(folder)
    shards = []
    for index_path in sorted(folder.glob("*.safetensors.index.json")):
        try:
            weight_map = json.loads(index_path.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ModelLoadError(
                f"The weight index {index_path} cannot be read ({error})."
            ) from error
        for shard in sorted(set(weight_map.values())):
            path = folder / shard
            if not path.is_file():
                raise ModelLoadError(
                    f"The weight file {path} is missing (listed in {index_path.name}); "
                    "the download is incomplete."
                )
            shards.append(path)
    if shards:
        return shards
    files = sorted(p for p in folder.glob("*.safetensors") if p.is_file())
    if files:
        return files
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickles:
        raise ModelLoadError(
            f"{folder} holds only pickle weights ({', '.join(pickles[:3])}). Kinema loads "
            "safetensors only, because a pickle file can run code when it is opened; convert "
            "the weights to .safetensors or download the safetensors version."
        )
    raise ModelLoadError(f"{folder} holds no weights (no .safetensors file).")


def _folder_models(folder: Path, depth: int = 2) -> list[Path]:
    """Model folders at `folder` or up to `depth` levels below it (org/name layouts)."""
    if (folder / "model_index.json").is_file():
        return [folder]
    if depth == 0 or not folder.is_dir():
        return []
    found = []
    try:
        children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []
    for child in children:
        found += _folder_models(child, depth - 1)
    return found


def _hf_cache_models(cache: Path) -> list[tuple[str, Path]]:
    """(repo id, snapshot folder) for every cached model repo whose snapshot has an index."""
    out = []
    if not cache.is_dir():
        return out
    for repo in sorted(cache.glob("models--*")):
        repo_id = repo.name[len("models--") :].replace("--", "/")
        snapshot = None
        ref = repo / "refs" / "main"
        if ref.is_file():
            candidate = repo / "snapshots" / ref.read_text().strip()
            if (candidate / "model_index.json").is_file():
                snapshot = candidate
        if snapshot is None:  # no main ref: the newest snapshot that has an index
            snapshots = [
                s for s in (repo / "snapshots").glob("*") if (s / "model_index.json").is_file()
            ]
            if snapshots:
                snapshot = max(snapshots, key=lambda s: s.stat().st_mtime)
        if snapshot is not None:
            out.append((repo_id, snapshot))
    return out


#: a scan is reused this long: the inspector, the engine and info ask in bursts
_CACHE_SECONDS = 2.0
_cache: dict[tuple, tuple[float, list]] = {}


def discover_models(folders=None, include_hf_cache: bool = True) -> list[ModelEntry]:
    """Every model in `folders` (default: `model_folders()`) and the hub cache, by name.

    Names are the folder's name (the repo id for the hub cache); a name met twice gets
    ' (2)', ' (3)'... so each entry stays addressable. A scan of the same places within
    `_CACHE_SECONDS` is reused.
    """
    import time

    folders = model_folders() if folders is None else [Path(f) for f in folders]
    cache = hf_cache_folder() if include_hf_cache else None
    key = (tuple(str(f) for f in folders), str(cache))
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit is not None and now - hit[0] < _CACHE_SECONDS:
        return list(hit[1])
    entries = _scan(folders, cache)
    with _lock:
        _cache.clear()
        _cache[key] = (now, entries)
    return list(entries)


def forget_scans() -> None:
    """Drop the cached scan (after the user changed folders or files)."""
    with _lock:
        _cache.clear()


def _scan(folders: list[Path], cache: Path | None) -> list[ModelEntry]:
    found: list[tuple[str, Path, str]] = []
    for folder in folders:
        for path in _folder_models(folder):
            found.append((path.name, path, "folder"))
    if cache is not None:
        for repo_id, path in _hf_cache_models(cache):
            found.append((repo_id, path, "hf-cache"))
    entries, used = [], set()
    for name, path, source in found:
        unique, n = name, 2
        while unique in used:
            unique, n = f"{name} ({n})", n + 1
        used.add(unique)
        entries.append(read_entry(path, unique, source))
    return entries


def find_model(name: str, folders=None) -> ModelEntry:
    """The entry for backend `diffusers:<name>` (or bare `<name>`); `ModelLoadError` if none.

    `name` may also be a path to a model folder, which then needs no configuration.
    """
    bare = name[len(PREFIX) :] if name.startswith(PREFIX) else name
    entries = discover_models(folders)
    for entry in entries:
        if entry.name == bare:
            return entry
    as_path = Path(bare).expanduser()
    if (as_path / "model_index.json").is_file():
        return read_entry(as_path)
    where = ", ".join(str(f) for f in model_folders()) or "no model folders are set"
    known = ", ".join(e.name for e in entries) or "none"
    raise ModelLoadError(
        f"No model named '{bare}' was found (model folders: {where}; models found: {known}). "
        "Add its folder under Preferences > Model folders, in KINEMA_MODELS, or with --models."
    )
