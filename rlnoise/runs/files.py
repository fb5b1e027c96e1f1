"""Files written whole or not at all: a temporary file beside the target, then ``os.replace``.

A process killed mid-write (SIGKILL, power cut, disk full) leaves either the
old file or the new one, never a truncated mix: readers of ``report.json``,
``done.json`` or a run's ``config.yaml`` can trust what they find. The
temporary file lives in the target's directory, so the rename never crosses
a filesystem, and its name is unique per process and call, so two writers
never share one.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "note.txt"
    >>> write_text(path, "kept").name
    'note.txt'
    >>> with atomic_path(path) as temporary:  # for writers that take a path (savefig, SB3 save)
    ...     _ = temporary.write_text("replaced")
    >>> path.read_text()
    'replaced'
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "check_writable", "write_bytes", "write_text"]


def _temporary(path: Path) -> Path:
    # Same directory (a rename stays atomic), hidden, and the target's suffix kept:
    # matplotlib picks the format from it and SB3 appends ".zip" to a path without one.
    return path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(4)}.tmp{path.suffix}")


def _naming(error: OSError, message: str) -> OSError:
    """An ``OSError`` of the same errno (hence subclass) whose message says what failed.

    A failed ``write()`` on an open file names no file at all, and a temporary
    file's name means nothing to the user: the message names the real target.
    """
    reason = error.strerror or str(error)
    return OSError(error.errno if error.errno is not None else errno.EIO, f"{message}: {reason}")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path to write; on success it replaces ``path`` in one step.

    If the block raises (or writes nothing), ``path`` is left as it was and the
    temporary file is removed.

    Args:
        path: The file to write.

    Yields:
        A not-yet-existing path in the same directory, with the same suffix.

    Raises:
        OSError: The write or the rename failed; the error names the file.
    """
    path = Path(path)
    temporary = _temporary(path)
    try:
        yield temporary
        if temporary.exists():  # a writer may decline to write (e.g. nothing to plot)
            with open(temporary, "rb") as handle:  # on disk before it takes the name
                os.fsync(handle.fileno())
            os.replace(temporary, path)
    except OSError as error:
        raise _naming(error, f"cannot write {path}") from error
    finally:
        temporary.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    path = Path(path)
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    path = Path(path)
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return path


def check_writable(directory: str | Path, name: str) -> Path:
    """Create ``directory`` if needed and prove a file can be written in it.

    Run before any work starts, so that a read-only or missing-permission
    output directory fails at once instead of after the first hour of results.

    Args:
        directory: The output directory.
        name: How the user named it (``--out``, ``output_dir``), for the message.

    Returns:
        ``directory`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: ``directory`` is an existing file.
        PermissionError, OSError: It cannot be created or written (one line,
            naming the directory).
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{name} {directory} is a file, not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = _temporary(directory / "write-check")
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError as error:
        raise _naming(error, f"{name} {directory} is not writable") from None
    return directory
