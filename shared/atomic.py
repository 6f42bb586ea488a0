"""Files replaced whole or not at all: what the report writes survives a full disk or a kill.

Writing a file in place truncates it first, so a disk that fills (or a kill) halfway leaves
half a file and the old one is gone. Here the new content goes to a temporary file beside the
target (same directory, so the same filesystem), is flushed and fsynced, and only then
``os.replace``s the target, which is atomic: a reader sees the old file or the new one. On any
failure the temporary file is removed and the old file stays as it was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

TEMPORARY_SUFFIX = ".tmp"


def _temporary_beside(path: Path) -> tuple[int, Path]:
    """A new, empty file next to ``path``, created with O_EXCL (never someone else's file) and
    mode 0o666 so that the umask applies as it would to ``path`` written directly."""
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMPORARY_SUFFIX}")
        try:
            return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temporary
        except FileExistsError:
            continue


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable; best effort, as not every filesystem allows it."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


@contextlib.contextmanager
def replacing(path: Path, mode: str = "w", newline: str | None = None) -> Iterator[IO[Any]]:
    """A file to write ``path``'s new content into (``mode`` "w" or "wb"); when the block
    ends without an error it replaces ``path`` whole, else it is removed and ``path`` is left
    as it was. An existing ``path`` keeps its permissions; a symlink's target is replaced, as
    a write through the link would have done."""
    path = Path(path).resolve() if Path(path).is_symlink() else Path(path)
    descriptor, temporary = _temporary_beside(path)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.fchmod(descriptor, os.stat(path).st_mode & 0o7777)
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(descriptor, mode, encoding=encoding, newline=newline) as handle:
            descriptor = -1  # the handle owns it now, and closes it
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        if descriptor >= 0:
            os.close(descriptor)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        if isinstance(error, OSError) and error.filename is None:
            error.filename = str(path)  # a failed write names no file; the user needs to know
        raise
    _sync_directory(path.parent)


def write_text(path: Path, text: str) -> Path:
    """``path`` replaced whole by ``text`` (UTF-8), or left as it was."""
    with replacing(path) as handle:
        handle.write(text)
    return Path(path)
