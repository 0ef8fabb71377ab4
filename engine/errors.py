"""Typed errors that carry the sentence a user reads.

Every error the engine raises on purpose derives from `KinemaError`; its message is
written for the person in front of the studio (what is wrong and, where possible,
what to do), never a stack-trace fragment. Code that catches these shows `str(err)`.
"""

from __future__ import annotations


class KinemaError(Exception):
    """Base of every error the engine raises deliberately."""

    #: a short label for logs and the failed-job event
    kind = "error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # the user-facing sentence, nothing more
        return self.message


class ProjectError(KinemaError):
    """A project file or folder that cannot be read, validated or written.

    `field` names the offending place in the document as a dotted path
    (``shots[0].camera.keyframes[2].easing``) so the message can point at it.
    """

    kind = "project"

    def __init__(self, message: str, field: str | None = None):
        if field and field not in message:
            message = f"{field}: {message}"
        super().__init__(message)
        self.field = field


class MediaError(KinemaError):
    """An image or video that cannot be read or written."""

    kind = "media"


class InvalidRequest(KinemaError):
    """A generation request that a backend cannot honour (bad size, too many frames...)."""

    kind = "request"


class ModelLoadError(KinemaError):
    """Weights or a model folder that cannot be loaded."""

    kind = "model"


class OutOfMemory(KinemaError):
    """The device ran out of memory; the message names the setting to lower."""

    kind = "memory"


class DecodeOutOfMemory(OutOfMemory):
    """A clip sampled, but decoding it ran out of memory; the backend kept its latents, so
    the same request with `tiled_decode` finishes it without sampling again."""

    kind = "decode-memory"


class Cancelled(KinemaError):
    """Raised inside a backend when the user cancelled the job; never shown as a failure."""

    kind = "cancelled"

    def __init__(self, message: str = "Cancelled."):
        super().__init__(message)


class StorageError(KinemaError):
    """Writing failed because of where the file goes: the disk or the folder, not the data."""

    kind = "storage"


class DiskFull(StorageError):
    """No space left (or the user's quota is spent)."""

    kind = "disk-full"


class NotWritable(StorageError):
    """The folder is read-only, or the user may not write there."""

    kind = "read-only"


def storage_error(
    error: OSError, what: str, kept: str = "", elsewhere: str = "use Save As to put the project"
) -> KinemaError | None:
    """The typed error, with advice, for an OSError while writing `what`; None when the
    error is not about space or permission (the caller words that one itself).

    `kept` says what survived (atomic writes leave the previous file), so the sentence can
    tell the user the truth about their work; `elsewhere` is how to write somewhere else.
    """
    import errno

    tail = f" {kept}" if kept else ""
    code = getattr(error, "errno", None)
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return DiskFull(
            f"Could not write {what}: the disk is full. Free some space, or {elsewhere} on "
            f"another drive.{tail}"
        )
    if code in (errno.EACCES, errno.EPERM, errno.EROFS) or isinstance(error, PermissionError):
        import os

        name = getattr(error, "filename", None)
        where = f" ('{os.path.dirname(str(name)) or name}')" if name else ""
        return NotWritable(
            f"Could not write {what}: the folder{where} is read-only or you may not write "
            f"there; {elsewhere} in a folder you can write to.{tail}"
        )
    return None
