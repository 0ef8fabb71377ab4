"""Connecting to a Ray cluster safely, a local farm for tests and benchmarks, and its status.

Security, as Ray provides it: Ray runs whatever code a connected client sends, so a farm
must only be reachable by its owner. A farm Kinema starts itself (`LocalFarm`) binds every
Ray process to the loopback interface, runs no dashboard and requires a token. Connecting
to a farm someone started with `ray start` uses Ray's token authentication whenever a token
is on this machine (`RAY_AUTH_TOKEN`, `RAY_AUTH_TOKEN_PATH` or `~/.ray/auth_token`), and
says what to do when the farm asks for one this machine does not have.

Two details of Ray that this module settles: Ray reads its authentication mode when it is
imported, so a mode chosen later is applied by refreshing its configuration (as `ray.init`
itself does for a new cluster); and Ray replaces a loopback address by this machine's
network address, which a cluster bound to loopback does not listen on, unless it is told
that it runs on one machine only.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import secrets
import sys
from pathlib import Path

from . import NAMESPACE, FarmError, require_ray

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_SINGLE_MACHINE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": addresses stay loopback


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def split_address(address: str) -> tuple[str, int | None]:
    """'HOST:PORT' -> (host, port); 'auto' -> ('auto', None); `FarmError` otherwise."""
    address = address.strip()
    if address == "auto":
        return address, None
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise FarmError(
            f"'{address}' is not a farm address: give the head node as HOST:PORT "
            "(ray start --head prints it, 6379 by default), or 'auto' for the farm this "
            "machine joined."
        )
    return host.strip("[]"), int(port)


def _token_available() -> bool:
    if os.environ.get("RAY_AUTH_TOKEN"):
        return True
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    return Path(path).is_file() if path else (Path.home() / ".ray" / "auth_token").is_file()


def _refresh_ray_config() -> None:
    """Make an already imported Ray see the environment as it is now."""
    if "ray" not in sys.modules:
        return  # Ray reads it when imported
    from ray._private import ray_constants
    from ray._raylet import AuthenticationTokenLoader, Config

    ray_constants.ENABLE_RAY_CLUSTER = os.environ.get(_SINGLE_MACHINE_ENV, "1") != "0"
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()  # it keeps the first token it read


def prepare_environment(host: str) -> None:
    """Token authentication when a token is here, loopback kept loopback; before `ray.init`."""
    if is_loopback(host):
        os.environ[_SINGLE_MACHINE_ENV] = "0"
    elif os.environ.get(_SINGLE_MACHINE_ENV) == "0":
        del os.environ[_SINGLE_MACHINE_ENV]  # a previous local farm's setting
    if "RAY_AUTH_MODE" not in os.environ and _token_available():
        os.environ["RAY_AUTH_MODE"] = "token"
    _refresh_ray_config()


def connect(address: str, runtime_env: dict | None = None):
    """Connect this process to the farm at `address` (reusing a connection to it); the `ray`
    module. `FarmError` with a sentence when the farm cannot be reached or refuses us."""
    host, port = split_address(address)
    ray = require_ray()
    if ray.is_initialized():
        current = ray.get_runtime_context().gcs_address
        if address in ("auto", current):
            return ray
        ray.shutdown()
    if address == "auto":
        address = _local_farm_address() or address
        host, port = split_address(address)
    if port is not None:
        _check_reachable(host, port)
    prepare_environment(host)
    try:
        ray.init(
            address=address,
            namespace=NAMESPACE,
            runtime_env=runtime_env,
            logging_level=logging.WARNING,
            log_to_driver=False,
            configure_logging=False,
        )
    except ray.exceptions.AuthenticationError as error:
        raise FarmError(
            f"The farm at {address} refused this machine: it asks for a token. Copy the head "
            "node's ~/.ray/auth_token to this machine (or set RAY_AUTH_TOKEN) and try again."
        ) from error
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise FarmError(
            f"Could not connect to the farm at {address}: is 'ray start --head' running there, "
            "and has this machine joined it (ray start --address)? "
            f"Ray said: {str(error).splitlines()[0] if str(error) else type(error).__name__}"
        ) from error
    return ray


def _local_farm_address() -> str | None:
    """The farm this machine is a node of, as `ray start` recorded it (RAY_ADDRESS first)."""
    if os.environ.get("RAY_ADDRESS"):
        return os.environ["RAY_ADDRESS"]
    try:
        from ray._private.utils import read_ray_address
    except ImportError:  # another Ray: let ray.init find it
        return None
    return read_ray_address()


def _check_reachable(host: str, port: int, timeout: float = 5.0) -> None:
    """Fail at once when nothing listens at the address (Ray itself retries for minutes)."""
    import socket

    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as error:
        raise FarmError(
            f"Nothing answers at {host}:{port} ({error.strerror or error}): is the farm's head "
            "node running there (kinema farm start, or ray start --head)?"
        ) from error


# ------------------------------------------------------------------ a farm on this machine


class LocalFarm:
    """A Ray cluster of `nodes` nodes on this machine, loopback only, for tests and `bench`.

    Every node is its own raylet with `cpus` CPUs and `gpus` GPUs (a GPU count with no GPU
    behind it is a fake resource: Ray schedules by it, torch finds no CUDA and runs on the
    CPU). No dashboard; token authentication with a token made for this farm alone. Use as
    a context manager; `kill_node(i)` takes a node away as a crashed machine would.
    """

    def __init__(self, nodes: int = 2, cpus: int = 1, gpus: int = 0) -> None:
        self.nodes, self.cpus, self.gpus = nodes, cpus, gpus
        self.cluster = None
        self._workers: list = []  # the nodes added after the head, in order
        self._saved_env: dict[str, str | None] = {}

    @property
    def address(self) -> str:
        return self.cluster.address

    def __enter__(self) -> LocalFarm:
        settings = {
            _SINGLE_MACHINE_ENV: "0",
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(32),
            "RAY_USAGE_STATS_ENABLED": "0",
        }
        self._saved_env = {name: os.environ.get(name) for name in settings}
        os.environ.update(settings)
        _refresh_ray_config()
        ray = require_ray()
        from ray.cluster_utils import Cluster

        node = dict(num_cpus=self.cpus, num_gpus=self.gpus, node_ip_address=LOOPBACK)
        try:
            self.cluster = Cluster(
                initialize_head=True, head_node_args=dict(node, include_dashboard=False)
            )
            for _ in range(self.nodes - 1):
                self._workers.append(self.cluster.add_node(**node))
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        log.info("local farm of %d nodes at %s (Ray %s)", self.nodes, self.address, ray.__version__)
        return self

    @property
    def node_ids(self) -> list[str]:
        """Ray's id of each node: the head's first, then the others as they were added."""
        return [self.cluster.head_node.node_id, *(n.node_id for n in self._workers)]

    def kill_node(self, index: int) -> None:
        """Kill node `index` (1 = the first added after the head) with all its processes, as
        a machine that crashed or lost its network would go."""
        self.cluster.remove_node(self._workers[index - 1], allow_graceful=False)

    def __exit__(self, *exc) -> None:
        ray = sys.modules.get("ray")
        if ray is not None and ray.is_initialized():
            ray.shutdown()
        if self.cluster is not None:
            with contextlib.suppress(Exception):  # shutting down: a node already gone is fine
                self.cluster.shutdown()
            self.cluster = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _refresh_ray_config()


# ------------------------------------------------------------------ starting nodes


def _ray_executable() -> list[str]:
    """`ray`'s command line, from the Python that runs Kinema."""
    return [sys.executable, "-m", "ray.scripts.scripts"]


def ray_start(
    *,
    head: str | None = None,
    listen: str = LOOPBACK,
    port: int = 6379,
    cpus: int | None = None,
    gpus: int | None = None,
    dashboard: bool = False,
) -> tuple[list[str], dict[str, str]]:
    """The `ray start` command line and environment for a farm node, safe by default.

    `head` None starts a head node listening on `listen` (loopback unless told otherwise);
    with `head` ("HOST:PORT") this machine joins that farm. Token authentication is always
    on: a head makes a token if this machine has none; a joining node needs the head's.
    The dashboard stays off unless asked for, and then listens on loopback only.
    """
    require_ray()
    env = {"RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0"}
    host = listen if head is None else split_address(head)[0]
    if is_loopback(host):
        env[_SINGLE_MACHINE_ENV] = "0"
    command = [*_ray_executable(), "start", "--disable-usage-stats"]
    if head is None:
        command += ["--head", "--node-ip-address", listen, "--port", str(port)]
        command += ["--include-dashboard", "true" if dashboard else "false"]
        if dashboard:
            command += ["--dashboard-host", LOOPBACK]
    else:
        if not _token_available():
            raise FarmError(
                "This machine has no token for the farm: copy the head node's "
                "~/.ray/auth_token here first (or set RAY_AUTH_TOKEN)."
            )
        command += ["--address", head]
        if is_loopback(host):
            command += ["--node-ip-address", LOOPBACK]
    if cpus is not None:
        command += ["--num-cpus", str(cpus)]
    if gpus is not None:
        command += ["--num-gpus", str(gpus)]
    return command, env


def ensure_token() -> Path | None:
    """Make this machine's Ray token if it has none, where Ray looks for it (readable by this
    user only); the token file, or None when the token comes from RAY_AUTH_TOKEN."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return None
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
    return path


# ------------------------------------------------------------------ status


def farm_status(address: str, timeout: float = 10.0) -> dict:
    """The farm's nodes and Kinema's render slots on them, as plain data."""
    ray = connect(address)
    nodes = []
    for node in ray.nodes():
        resources = node.get("Resources", {})
        nodes.append(
            {
                "node_id": node["NodeID"],
                "host": node.get("NodeManagerHostname", ""),
                "address": node.get("NodeManagerAddress", ""),
                "alive": bool(node.get("Alive")),
                "cpus": resources.get("CPU", 0.0),
                "gpus": resources.get("GPU", 0.0),
            }
        )
    slots = []
    for name in sorted(ray.util.list_named_actors()):
        if not name.startswith("kinema-"):
            continue
        try:
            actor = ray.get_actor(name, namespace=NAMESPACE)
            slots.append(ray.get(actor.status.remote(), timeout=timeout))
        except (ray.exceptions.RayError, ValueError) as error:
            slots.append({"label": name, "error": str(error).splitlines()[0]})
    return {"address": ray.get_runtime_context().gcs_address, "nodes": nodes, "slots": slots}


def stop_slots(address: str) -> list[str]:
    """End every Kinema render slot on the farm (their models unload, their GPUs free)."""
    ray = connect(address)
    stopped = []
    for name in sorted(ray.util.list_named_actors()):
        if name.startswith("kinema-"):
            try:
                ray.kill(ray.get_actor(name, namespace=NAMESPACE), no_restart=True)
                stopped.append(name)
            except ValueError:  # gone meanwhile
                pass
    return stopped


def format_status(status: dict) -> str:
    lines = [f"farm at {status['address']}"]
    alive = [n for n in status["nodes"] if n["alive"]]
    lines.append(f"nodes: {len(alive)} alive of {len(status['nodes'])}")
    for node in status["nodes"]:
        state = "alive" if node["alive"] else "dead"
        lines.append(
            f"  {node['host'] or node['address']:<20s} {node['address']:<15s} {state:<5s} "
            f"{node['cpus']:g} CPU, {node['gpus']:g} GPU  [{node['node_id'][:8]}]"
        )
    slots = status["slots"]
    if not slots:
        lines.append("render slots: none yet (they start with the first job sent to the farm)")
        return "\n".join(lines)
    running = sum(1 for s in slots if s.get("running"))
    waiting = sum(s.get("waiting", 0) for s in slots)
    lines.append(f"render slots: {len(slots)}, {running} running, {waiting} waiting")
    for slot in slots:
        if "error" in slot:
            lines.append(f"  {slot['label']}: unreachable ({slot['error']})")
            continue
        warm = ", ".join(slot["warm"]) or "none"
        job = slot.get("running")
        doing = (
            f"running {job['shot'] or job['job_id']} ({job['backend']}, {job['step']}/{job['total']})"
            if job
            else "idle"
        )
        lines.append(
            f"  {slot['label']:<28s} kinema {slot['version']}, warm: {warm}; {doing}; "
            f"{slot['done']} done"
        )
    return "\n".join(lines)
