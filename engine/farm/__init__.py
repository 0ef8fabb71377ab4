"""The render farm: the engine's requests and events on Ray actors across machines.

A client (`FarmClient`, the same face as `engine.worker.Engine`) connects to a Ray cluster
and keeps one render slot per GPU, or one per machine without a GPU for the built-in model
on its CPU. Each slot is a Ray actor holding an `Engine` of its own, so its backends stay
warm between jobs. A job travels as a `FarmJob`: the frozen `GenerationRequest` plus the
keyframe's bytes, never a path, so a node needs nothing of the client's disk. Its events
stream back in order through a Ray generator; the frames of a finished clip come back
through Ray's object store and the client writes the take.

    job.py      FarmJob: a request packed with its keyframe bytes, and how a node unpacks it
    node.py     RenderSlot: the actor on a node (an Engine, its events streamed back)
    client.py   FarmClient: slots, dispatch, cancel, a node that dies
    cluster.py  connecting safely (loopback, token), a local farm for tests and benchmarks,
                and the status `kinema farm status` prints

Ray is an optional extra (`kinema[farm]`); nothing here imports it until a farm is used.
"""

from __future__ import annotations

from ..errors import KinemaError

#: the Ray namespace Kinema's render slots live in
NAMESPACE = "kinema"


class FarmError(KinemaError):
    """The farm cannot be reached or used; the message says what to do."""

    kind = "farm"


def require_ray():
    """The `ray` module, or `FarmError` saying how to install it."""
    try:
        import ray
    except ImportError as error:
        raise FarmError(
            "The render farm needs Ray, which is not installed: install Kinema's farm extra "
            "(pip install 'kinema[farm]') on this machine and on every render node."
        ) from error
    return ray


def __getattr__(name: str):
    # `from engine.farm import FarmClient` without importing Ray or the client eagerly
    if name == "FarmClient":
        from .client import FarmClient

        return FarmClient
    raise AttributeError(name)
