"""Seeded hostile project files, and a harness that loads each and measures the load.

A plain module (imported by name by the fuzz tests, and runnable: `python
tests/project_fuzz.py SEED COUNT` prints a JSON report). Each case starts from a real
project (the sample, or a richer one with takes and strokes) and applies one kind of damage:
byte flips, truncation, a value swapped for another type, huge and deep values, odd ids and
paths, and bombs (a mask declaring 32768x32768, 300,000 camera keys, a 130 MB file).

A case passes when the load either succeeds (some damage is harmless) and the project can
be saved again, or raises `ProjectError`. Anything else is a crash.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import resource
import struct
import sys
import time
import tracemalloc
import zlib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.errors import ProjectError  # noqa: E402
from engine.project import PROJECT_FILE, Project  # noqa: E402

SAMPLE = ROOT / "assets" / "samples" / "Meadow.kinema"

ODD_TEXT = [
    "../../escaped", "a/b", "", ".", "..", "/etc/passwd", "C:\\x", "con", "a" * 300,
    "x\x00y", "media/../../x", " ", "takes/../..", "\ud800", "\udfff tail", "é" * 200,
    "takes/s/t", "media/", "//server/share", "\\\\?\\C:\\x", "-dash", "_under", "x" * 65,
]  # fmt: skip
ODD_VALUES = [
    None, True, False, 0, -1, 1.5, -0.0, "", "x", [], {}, [[]], {"a": {}}, 10**400,
    -(10**400), 1e308, -1e308, 5e-324, 2**63, 2**64 + 1, "\ud800", "9" * 20, [1, 2, 3],
]  # fmt: skip


def png_header(width: int, height: int) -> str:
    """A base64 PNG that declares `width` x `height` (gray, 8-bit) with almost no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    body = struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    idat = zlib.compress(b"\x00" * 64)
    body += (
        struct.pack(">I", len(idat))
        + b"IDAT"
        + idat
        + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    )
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + body).decode()  # fmt: skip


def rich_project(folder: Path) -> dict:
    """The sample with more of everything a project holds: takes, a storyboard plan,
    strokes, Bezier keys."""
    data = json.loads((SAMPLE / PROJECT_FILE).read_text())
    shot = data["shots"][0]
    take = {
        "id": "t1", "folder": f"takes/{shot['id']}/t1", "frames": 48, "fps": 24.0,
        "width": 512, "height": 288, "backend": "previs", "seed": 1, "created": "",
        "request": {"shot": copy.deepcopy(shot), "width": 512, "height": 288, "seed": 1},
        "metrics": {"flicker": 0.1}, "label": "Take 1",
    }  # fmt: skip
    shot["takes"] = [take]
    shot["active_take"] = "t1"
    from engine.storyboard.plan import plan_prompt

    shot["plan"] = plan_prompt(shot["prompt"], seed=1).to_dict()  # the storyboard, too
    shot["camera"]["keyframes"][0]["easing"] = "bezier"
    shot["camera"]["keyframes"][0]["handles"] = [0.25, 0.1, 0.25, 1.0]
    (folder / "takes" / shot["id"] / "t1").mkdir(parents=True, exist_ok=True)
    return data


# ----------------------------------------------------------------------------- mutations


def _nodes(data, path=()):
    """Every (path, value) in the tree, the root included."""
    out = [(path, data)]
    stack = [(path, data)]
    while stack:
        where, value = stack.pop()
        items = (
            value.items()
            if isinstance(value, dict)
            else enumerate(value)
            if isinstance(value, list)
            else ()
        )
        for key, item in items:
            out.append(((*where, key), item))
            if isinstance(item, (dict, list)):
                stack.append(((*where, key), item))
    return out  # fmt: skip


def _set(data, path, value):
    if not path:
        return value
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def mutate(rng: random.Random, base: dict, heavy: bool = True) -> tuple[str, bytes]:
    """One hostile variant of `base`: (kind of damage, file bytes). Without `heavy`, bombs
    stay at the size that just crosses a cap (the quick run in the default suite)."""
    kind = rng.choice(
        ["flip", "truncate", "swap", "huge", "deep", "odd_id", "odd_path", "bomb", "drop"]
    )
    data = copy.deepcopy(base)
    text = json.dumps(data, indent=2)
    if kind == "flip":
        raw = bytearray(text.encode())
        for _ in range(rng.randint(1, 12)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        return kind, bytes(raw)
    if kind == "truncate":
        return kind, text.encode()[: rng.randrange(len(text))]
    nodes = _nodes(data)
    if kind == "swap":
        path, _ = rng.choice(nodes)
        data = _set(data, path, copy.deepcopy(rng.choice(ODD_VALUES)))
    elif kind == "huge":
        numeric = [p for p, v in nodes if isinstance(v, (int, float)) and not isinstance(v, bool)]
        path = rng.choice(numeric)
        value = rng.choice([10 ** rng.randint(20, 5000), -(10 ** rng.randint(20, 400)), 1e308])
        if isinstance(value, int) and value > 10**4000:  # too long for json.dumps: write digits
            marker = "__HUGE__"
            data = _set(data, path, marker)
            return kind, json.dumps(data).replace(f'"{marker}"', "9" * 4500).encode()
        data = _set(data, path, value)
    elif kind == "deep":
        path, _ = rng.choice(nodes)
        depth = rng.choice([65, 100, 500, 999, 1000, 5000, 20000])
        opening, closing = ("[", "]") if rng.random() < 0.5 else ('{"a": ', "}")
        marker = "__DEEP__"
        data = _set(data, path, marker)
        deep = opening * depth + "0" + closing * depth  # json.dumps itself cannot nest so deep
        return kind, json.dumps(data).replace(f'"{marker}"', deep).encode()
    elif kind == "odd_id":
        shot = rng.choice(data["shots"])
        target = rng.choice(["shot", "take", "active"]) if shot.get("takes") else "shot"
        value = rng.choice(ODD_TEXT)
        if target == "shot":
            shot["id"] = value
        elif target == "take":
            shot["takes"][0]["id"] = value
        else:
            shot["active_take"] = value
    elif kind == "odd_path":
        shot = rng.choice(data["shots"])
        value = rng.choice(ODD_TEXT)
        if shot.get("takes") and rng.random() < 0.5:
            shot["takes"][0]["folder"] = value
        else:
            shot["keyframe"] = value
    elif kind == "bomb":
        which, payload = _bomb(rng, data, heavy)
        return f"bomb:{which}", payload
    elif kind == "drop":
        dicts = [(p, v) for p, v in nodes if isinstance(v, dict) and v]
        path, value = rng.choice(dicts)
        value.pop(rng.choice(list(value)))
    return kind, json.dumps(data, indent=rng.choice([None, 2])).encode()


def _bomb(rng: random.Random, data: dict, heavy: bool) -> tuple[str, bytes]:
    shot = data["shots"][0]
    big = (lambda *sizes: rng.choice(sizes)) if heavy else (lambda *sizes: sizes[0])
    which = rng.choice(["mask", "keys", "points", "shots", "takes", "string", "size", "keys_each"])
    if which == "mask":
        width, height = rng.choice(
            [(32768, 32768), (100000, 1), (4097, 16), (65535, 65535), (0, 5)]
        )
        shot["strokes"][0]["mask_png"] = png_header(width, height)
    elif which == "keys":
        key = shot["camera"]["keyframes"][0]
        shot["camera"]["keyframes"] = [dict(key, frame=i) for i in range(big(10_001, 280_000))]
    elif which == "keys_each":  # every shot just under its own cap: the project total counts
        key = shot["camera"]["keyframes"][0]
        keys = [dict(key, frame=i) for i in range(9_999)]
        data["shots"] = [dict(shot, id=f"s{i}", camera={"keyframes": keys}) for i in range(6)]
    elif which == "points":
        point = shot["strokes"][0]["trajectory"][0]
        shot["strokes"][0]["trajectory"] = [dict(point, frame=None)] * big(10_001, 200_000)
    elif which == "shots":
        data["shots"] = [dict(shot, id=f"s{i}", takes=[], active_take=None) for i in range(1_001)]
    elif which == "takes":
        take = shot["takes"][0] if shot.get("takes") else None
        if take is None:
            return which, json.dumps(data).encode()
        if not heavy:
            take = dict(take, request={})  # the same count, without a shot in every request
        shot["takes"] = [
            dict(take, id=f"t{i}", folder=f"takes/{shot['id']}/t{i}") for i in range(10_001)
        ]
        shot["active_take"] = None
    elif which == "string":
        shot["prompt"] = "x" * big(20_001, 5_000_000)
    elif which == "size":
        return which, b""  # the harness writes a sparse 130 MB file
    return which, json.dumps(data).encode()  # fmt: skip


# ----------------------------------------------------------------------------- harness


@dataclass
class Report:
    cases: int = 0
    loaded: int = 0
    refused_with_field: int = 0  # ProjectError naming the field
    refused_file: int = 0  # ProjectError about the file as a whole (damaged JSON, size)
    crashes: list[str] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)
    slowest_s: float = 0.0  # wall clock (this machine's other work included)
    slowest_cpu_s: float = 0.0  # this process's CPU time for the load
    slowest_kind: str = ""
    peak_traced_mb: float = 0.0
    peak_kind: str = ""
    max_rss_mb: float = 0.0

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def load_case(folder: Path, kind: str, payload: bytes, report: Report) -> None:
    file = folder / PROJECT_FILE
    if kind == "bomb:size":
        with open(file, "wb") as handle:
            handle.truncate(130 * 2**20)  # sparse: costs no disk
    else:
        file.write_bytes(payload)
    report.cases += 1
    family = kind.split(":")[0]
    report.by_kind[family] = report.by_kind.get(family, 0) + 1
    outcome, elapsed, spent, peak = _load(folder, traced=True)
    if spent > 0.5:  # tracemalloc slows a load several times: time the slow ones untraced
        _, elapsed, spent, _ = _load(folder, traced=False)
    if outcome == "loaded":
        report.loaded += 1
    elif outcome == "field":
        report.refused_with_field += 1
    elif outcome == "file":
        report.refused_file += 1
    else:
        report.crashes.append(f"{kind}: {outcome}")
    report.slowest_s = max(report.slowest_s, elapsed)
    if spent > report.slowest_cpu_s:
        report.slowest_cpu_s, report.slowest_kind = spent, kind
    if peak / 2**20 > report.peak_traced_mb:
        report.peak_traced_mb, report.peak_kind = peak / 2**20, kind


def _load(folder: Path, traced: bool) -> tuple[str, float, float, int]:
    """(outcome, wall s, CPU s, traced peak bytes) of one load (and save) of `folder`."""
    if traced:
        tracemalloc.start()
    started, cpu = time.perf_counter(), time.process_time()
    try:
        project = Project.load(folder)
        project.to_json()  # what loads must save again (a lone surrogate used not to)
        outcome = "loaded"
    except ProjectError as error:
        outcome = "field" if error.field else "file"
    except BaseException as error:  # noqa: BLE001 - counting crashes is the point
        outcome = f"{type(error).__name__}: {str(error)[:120]}"
    elapsed, spent = time.perf_counter() - started, time.process_time() - cpu
    peak = 0
    if traced:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return outcome, elapsed, spent, peak


def run(seed: int, count: int, workdir: Path, heavy: bool = True) -> Report:
    import shutil

    rng = random.Random(seed)
    report = Report()
    folder = workdir / "Fuzz.kinema"
    shutil.copytree(SAMPLE, folder, dirs_exist_ok=True)
    bases = [json.loads((SAMPLE / PROJECT_FILE).read_text()), rich_project(folder)]
    for _ in range(count):
        kind, payload = mutate(rng, rng.choice(bases), heavy)
        load_case(folder, kind, payload, report)
    report.max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report


if __name__ == "__main__":
    import tempfile

    seed, count = int(sys.argv[1]), int(sys.argv[2])
    with tempfile.TemporaryDirectory() as scratch:
        print(json.dumps(run(seed, count, Path(scratch)).as_dict()))
