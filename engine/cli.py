"""`kinema` entry point: no subcommand opens the studio; `render`, `export`, `inspect`,
`import-shot`, `info`, `models`, `plan`, `bench`, `farm`, `train`, `eval`.

Bad input ends in exactly one line on stderr and exit code 2 (`kinema: error: ...`), never
a traceback: warnings and details go to the log file (`--verbose` shows them on stderr
too). An unexpected crash exits 1 with one line that points at the log.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import InvalidRequest, KinemaError, storage_error
from .jobs import MEMORY_MODES
from .logs import echo_to_stderr, log_to_file

log = logging.getLogger(__name__)

EXIT_OK, EXIT_CRASH, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
FARM_ENV = "KINEMA_FARM"  # the farm address `render --farm` and `farm` use by default


_OUTPUT_HELP = (
    "OUT.mp4/.mov/.webm/.mkv; a folder for PNG or TIFF frames; or CUT.otio/.edl/.xml for a "
    "timeline with one media file per shot in CUT_media/"
)


def _add_delivery_options(p: argparse.ArgumentParser) -> None:
    from .codecs import CODECS, PRESETS

    p.add_argument(
        "--codec",
        choices=list(CODECS),
        metavar="CODEC",
        help=f"one of {', '.join(CODECS)} (default: from the extension; a timeline's media: "
        "prores-hq)",
    )
    p.add_argument("--crf", type=int, help="quality for H.264/H.265/VP9/AV1, lower is better")
    p.add_argument("--preset", choices=PRESETS, metavar="PRESET", help="encode speed preset")


def _add_render(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="render a project's shots to a video, frames or a timeline")
    p.add_argument("project", help="a project folder (Name.kinema) or its project.json")
    p.add_argument("-o", "--output", help=_OUTPUT_HELP)
    p.add_argument("--shot", help="shot number (1 = first) or id; default: every shot in order")
    p.add_argument("--backend", help="backend name (default: each shot's own setting)")
    p.add_argument("--seed", type=int, help="override the shot's seed")
    p.add_argument("--steps", type=int, help="override the denoising steps")
    _add_delivery_options(p)
    p.add_argument("--device", default="auto", type=_device, help="cpu, cuda or auto (default)")
    p.add_argument(
        "--memory",
        default="auto",
        choices=MEMORY_MODES,
        help="a real model's GPU memory mode (default auto: the fastest that fits)",
    )
    p.add_argument(
        "--variations",
        type=int,
        default=1,
        metavar="N",
        help="render every shot N times with seeds seed, seed+1, ...; -o OUT.mp4 then "
        "writes OUT_v1.mp4 ... OUT_vN.mp4",
    )
    p.add_argument(
        "--save-takes",
        action="store_true",
        help="keep every clip as a new take of its shot in the project (and save it)",
    )
    p.add_argument(
        "--farm",
        metavar="ADDRESS",
        default=os.environ.get(FARM_ENV) or None,
        help=f"render on a Ray farm: its head node HOST:PORT, or 'auto' ({FARM_ENV} too)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=1,
        help="with --farm: times a shot whose node died is sent to another node (1)",
    )
    _add_models_option(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_render)


def _add_models_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--models",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of diffusers models (repeatable; KINEMA_MODELS and the hub cache too)",
    )


def _use_model_folders(args: argparse.Namespace) -> None:
    """`--models DIR` becomes the user's model folders for this run; a missing one is an error."""
    from .errors import InvalidRequest
    from .model_library import set_model_folders

    folders = getattr(args, "models", None) or []
    for folder in folders:
        if not Path(folder).expanduser().is_dir():
            raise InvalidRequest(f"The model folder '{folder}' does not exist.")
    set_model_folders(folders)


def _cmd_render(args: argparse.Namespace) -> int:
    from .render import render_cli

    _use_model_folders(args)
    return render_cli(args)


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export the active takes (no generation) as the studio's Export does"
    )
    p.add_argument("project", help="a project folder (Name.kinema) or its project.json")
    p.add_argument("-o", "--output", required=True, help=_OUTPUT_HELP)
    p.add_argument("--shot", help="shot number (1 = first) or id; default: the whole sequence")
    _add_delivery_options(p)
    p.add_argument("--fps", type=float, help="frame rate (default: the project's)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import ExportOptions, plan_export, run_export
    from .project import Project
    from .render import TerminalProgress, pick_shots

    project = Project.load(Path(args.project))
    shot = pick_shots(project, args.shot)[0] if args.shot else None
    options = ExportOptions(
        path=Path(args.output),
        scope="shot" if shot else "sequence",
        codec=args.codec or "",
        crf=args.crf,
        preset=args.preset,
        fps=args.fps,
    )
    plan = plan_export(project, shot.id if shot else None, options)
    bar = TerminalProgress(enabled=False if args.quiet else None)
    delivered = run_export(plan, lambda done, total: bar("export", done, total))
    for note in delivered.notes:
        print(f"note: {note}", file=sys.stderr)
    media = f" and {len(delivered.media)} media files" if delivered.media else ""
    print(f"Exported {plan.total_frames} frames to {delivered.path}{media}")
    return EXIT_OK


def _add_inspect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="print the request a Kinema file or frame was made with")
    p.add_argument("file", help="an exported video, a frame, or a folder of frames")
    p.add_argument("--json", action="store_true", help="print the raw JSON")
    p.set_defaults(func=_cmd_inspect)


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .recipe import read_recipe

    recipe = read_recipe(Path(args.file))
    print(recipe.to_json() if args.json else recipe.describe())
    return EXIT_OK


def _add_import_shot(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-shot", help="recreate the shots a Kinema file was made from in a project"
    )
    p.add_argument("file", help="an exported video, a frame, or a folder of frames")
    p.add_argument("project", help="a project folder (created if it does not exist)")
    p.add_argument("--shot", help="which shot of a sequence file (number or name); default: all")
    p.add_argument("--keyframe", help="the keyframe image, when it is not found by its hash")
    p.set_defaults(func=_cmd_import_shot)


def _cmd_import_shot(args: argparse.Namespace) -> int:
    from .recipe import import_shots

    result = import_shots(Path(args.file), Path(args.project), args.shot, args.keyframe)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    first = len(result.project.shots) - len(result.shots) + 1
    for number, shot in enumerate(result.shots, first):
        print(f"Added shot {number} '{shot.name}' to {result.project.folder}")
    return EXIT_OK


def _add_farm(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("farm", help="the Ray render farm: its nodes, render slots and jobs")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    start = actions.add_parser(
        "start", help="start a farm's head node here (loopback only unless --listen)"
    )
    start.add_argument(
        "--listen",
        default="127.0.0.1",
        metavar="IP",
        help="the address other machines reach this one at (default 127.0.0.1: this machine only)",
    )
    start.add_argument("--port", type=int, default=6379, help="the head node's port (6379)")
    start.add_argument(
        "--dashboard", action="store_true", help="also run Ray's dashboard, on 127.0.0.1 only"
    )
    join = actions.add_parser("join", help="make this machine a node of the farm at ADDRESS")
    join.add_argument("address", metavar="ADDRESS", help="the head node, HOST:PORT")
    for action in (start, join):
        action.add_argument("--num-gpus", type=int, help="GPUs to offer (default: all)")
        action.add_argument(
            "--num-cpus", type=int, help="CPUs to offer (0: render nothing here, only submit)"
        )
    status = actions.add_parser("status", help="nodes, GPUs, render slots, warm models, jobs")
    stop = actions.add_parser("stop", help="end Kinema's render slots (frees their GPUs)")
    for action in (status, stop):
        action.add_argument(
            "--farm",
            metavar="ADDRESS",
            default=os.environ.get(FARM_ENV) or "auto",
            help=f"the head node HOST:PORT, or 'auto' (default; {FARM_ENV} too)",
        )
    p.set_defaults(func=_cmd_farm)


def _cmd_farm(args: argparse.Namespace) -> int:
    from .farm.cluster import farm_status, format_status, stop_slots

    if args.action in ("start", "join"):
        return _farm_start(args)
    if args.action == "status":
        print(format_status(farm_status(args.farm)))
    else:
        stopped = stop_slots(args.farm)
        print(
            f"Stopped {len(stopped)} render slot(s)"
            + (f": {', '.join(stopped)}" if stopped else ".")
        )
    return EXIT_OK


def _farm_start(args: argparse.Namespace) -> int:
    """`kinema farm start` / `join`: `ray start` with Kinema's safe settings, and what next."""
    import subprocess

    from .farm.cluster import ensure_token, is_loopback, ray_start

    head = None if args.action == "start" else args.address
    listen = getattr(args, "listen", "127.0.0.1")
    command, env = ray_start(
        head=head,
        listen=listen,
        port=getattr(args, "port", 6379),
        cpus=args.num_cpus,
        gpus=args.num_gpus,
        dashboard=getattr(args, "dashboard", False),
    )
    token = ensure_token() if head is None else None
    result = subprocess.run(command, env={**os.environ, **env})
    if result.returncode:
        return EXIT_BAD_INPUT
    if head is not None:
        print(f"This machine is now a node of the farm at {head}.")
        return EXIT_OK
    address = f"{listen}:{args.port}"
    print(f"\nKinema farm head on {address}, token authentication on", end="")
    print(f" (token in {token})." if token else " (token from RAY_AUTH_TOKEN).")
    if is_loopback(listen):
        print(
            "It listens on this machine only; --listen <this machine's LAN address> lets others join."
        )
    else:
        print(
            "Anyone who can reach this address and has the token can run code on every node: "
            "keep it on a network you trust."
        )
        print(f"On each render machine, copy the token there, then: kinema farm join {address}")
    if args.dashboard:
        print("Ray's dashboard is on http://127.0.0.1:8265, reachable from this machine only.")
    print(f"Render on it: kinema render PROJECT --farm {address}   (stop it: ray stop)")
    return EXIT_OK


def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="versions, device, backends and their capabilities")
    _add_models_option(p)
    p.set_defaults(func=_cmd_info)


def _cmd_info(args: argparse.Namespace) -> int:
    from .info import print_info

    _use_model_folders(args)
    print_info()
    return EXIT_OK


def _add_plan(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plan", help="stage a prompt in the procedural world and print the storyboard plan"
    )
    p.add_argument("prompt", help='what happens in the shot, e.g. "a red ball bounces on sand"')
    p.add_argument("--seed", type=int, default=0, help="another seed, another staging (0)")
    p.add_argument("--frames", type=int, default=25, help="shot length in frames (25)")
    p.add_argument("--fps", type=float, default=12.0, help="frame rate (12)")
    p.add_argument("--json", action="store_true", help="print the plan as the project stores it")
    p.set_defaults(func=_cmd_plan)


def _cmd_plan(args: argparse.Namespace) -> int:
    import json

    from .errors import InvalidRequest
    from .storyboard import plan_prompt

    if args.frames < 1 or not 0 < args.fps <= 240 or not 0 <= args.seed < 2**32:
        raise InvalidRequest("A plan needs --frames >= 1, --fps in 0..240 and a seed >= 0.")
    plan = plan_prompt(args.prompt, seed=args.seed, frames=args.frames, fps=args.fps)
    if args.json:
        print(json.dumps(plan.to_dict(), indent=2))
    else:
        print("\n".join(plan.summary()))
    return EXIT_OK


def _add_models(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="the real video models found, and why any cannot run")
    _add_models_option(p)
    p.set_defaults(func=_cmd_models)


def _cmd_models(args: argparse.Namespace) -> int:
    from .info import print_models

    _use_model_folders(args)
    print_models()
    return EXIT_OK


def _add_bench(sub: argparse._SubParsersAction) -> None:
    from .bench import BENCHMARKS

    p = sub.add_parser("bench", help="measure speed; prints figures")
    p.add_argument("name", choices=[*BENCHMARKS, "all"], help="what to measure")
    p.add_argument(
        "--against",
        type=Path,
        metavar="DIR",
        help="builtin: also time the weights in DIR, alternating with the shipped ones in one run",
    )
    p.set_defaults(func=_cmd_bench)


def _cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_benchmarks

    if args.against is not None:
        if args.name != "builtin":
            raise InvalidRequest("--against compares generator weights: use it with 'builtin'.")
        from .models.speed import bench_against

        bench_against(args.against)
        return EXIT_OK
    run_benchmarks(args.name)
    return EXIT_OK


def _add_model_commands(
    sub: argparse._SubParsersAction, command: str, help_text: str, modules: dict[str, str]
) -> None:
    """`kinema train MODEL` / `kinema eval MODEL`: one sub-command per module that exists."""
    p = sub.add_parser(command, help=help_text)
    models = p.add_subparsers(dest="model", required=True, metavar="MODEL")
    for name, module_name in modules.items():
        module = _optional_module(module_name)
        if module is None:
            continue
        mp = models.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
        module.add_arguments(mp)
        mp.set_defaults(func=module.run)


#: model name -> module with `add_arguments(parser)` and `run(args) -> int`
_TRAINERS = {
    "vae": "engine.train.vae",
    "dit": "engine.train.dit",
    "preview": "engine.train.preview",
    "toy-wan": "engine.train.toy_wan",
    "distil": "engine.train.distil",
}
_EVALUATORS = {
    "vae": "engine.eval.vae",
    "builtin": "engine.eval.builtin",
    "steering": "engine.eval.steering",
}


def _optional_module(name: str):
    import importlib

    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name and name.startswith(error.name):
            return None  # not built yet
        raise


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line too (argparse prints the usage first)."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        _one_line(f"{message} (see '{self.prog} --help').", EXIT_BAD_INPUT)
        raise SystemExit(EXIT_BAD_INPUT)


def _device(value: str) -> str:
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", value):
        raise argparse.ArgumentTypeError(
            f"unknown device '{value}' (use cpu, cuda, cuda:N or auto)"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="kinema",
        description="Kinema, a desktop studio for AI video. With no command, opens the studio.",
    )
    parser.add_argument("--version", action="version", version=f"kinema {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_render(sub)
    _add_export(sub)
    _add_inspect(sub)
    _add_import_shot(sub)
    _add_info(sub)
    _add_models(sub)
    _add_plan(sub)
    _add_bench(sub)
    _add_farm(sub)
    _add_model_commands(sub, "train", "train a part of the built-in model", _TRAINERS)
    _add_model_commands(sub, "eval", "evaluate a model on the fixed held-out set", _EVALUATORS)
    return parser


COMMANDS = (
    "render",
    "export",
    "inspect",
    "import-shot",
    "info",
    "models",
    "plan",
    "bench",
    "farm",
    "train",
    "eval",
)


def _wants_studio(argv: list[str]) -> bool:
    """No command among the arguments: `kinema`, `kinema Film.kinema`, `kinema --device cpu`
    (the desktop entry runs `kinema %F`) all open the studio with the arguments as given."""
    if any(a in ("-h", "--help", "--version") for a in argv):
        return False
    return not any(a in COMMANDS for a in argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if _wants_studio(argv):
        return _open_studio(argv)
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command is None:
        return _open_studio(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    log_path = log_to_file(logging.DEBUG if args.verbose else logging.INFO)
    if args.verbose:
        echo_to_stderr()
    try:
        return int(args.func(args) or EXIT_OK)
    except KinemaError as error:
        log.info("kinema %s: %s", args.command, error, exc_info=args.verbose)
        return _one_line(str(error), EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        return _one_line("interrupted", EXIT_INTERRUPTED, prefix="kinema: ")
    except OSError as error:  # a disk or folder problem no typed error caught on its way up
        log.warning("kinema %s: %s", args.command, error, exc_info=True)
        typed = storage_error(error, f"'{error.filename or 'a file'}'")
        return _one_line(str(typed) if typed else _os_sentence(error), EXIT_BAD_INPUT)
    except MemoryError:
        log.warning("kinema %s ran out of memory", args.command, exc_info=True)
        return _one_line(
            "Kinema ran out of memory. Render fewer frames or a smaller size.", EXIT_BAD_INPUT
        )
    except Exception as error:  # noqa: BLE001 - a bug: one line here, the traceback in the log
        log.critical("kinema %s crashed", args.command, exc_info=True)
        where = f" The details are in {log_path}." if log_path else ""
        return _one_line(
            f"internal error ({type(error).__name__}: {error}).{where}",
            EXIT_CRASH,
            prefix="kinema: ",
        )


def _one_line(message: str, code: int, prefix: str = "kinema: error: ") -> int:
    """Print `message` as exactly one line on stderr (a sentence may hold newlines)."""
    text = " ".join(message.split())
    print(f"{prefix}{text}", file=sys.stderr)
    return code


def _os_sentence(error: OSError) -> str:
    name = f"'{error.filename}': " if error.filename else ""
    return f"Could not use {name}{error.strerror or error}."


def _open_studio(argv: list[str]) -> int:
    import importlib

    # Imported by name: the engine never depends on the studio, the entry point only hands over.
    try:
        studio_app = importlib.import_module("studio.app")
    except ImportError as error:
        print(f"kinema: error: the studio is not available ({error}).", file=sys.stderr)
        return EXIT_BAD_INPUT
    return int(studio_app.main(argv) or EXIT_OK)


if __name__ == "__main__":
    sys.exit(main())
