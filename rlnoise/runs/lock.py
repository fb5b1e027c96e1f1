"""One process at a time per output directory: a lock held for the whole run.

Two ``rlnoise evaluate`` runs into one ``--out``, or two ``rlnoise train`` runs
into one ``output_dir``, would each check the directory, find it fine, and then
overwrite (or delete) the other's files. The check and every write after it
must be one critical section, so the lock is taken before the directory is
inspected and held until the last file is written.

A second process is refused at once rather than made to wait: a training or
an evaluation can hold a directory for hours, a silent wait looks like a hang,
and once the first one finishes, running the same command again resumes from
its results anyway. The lock is an OS lock (``flock`` through the
`filelock <https://py-filelock.readthedocs.io>`_ library) on
``DIR/.rlnoise.lock``: the kernel releases it when the holder exits, however it
exits (SIGKILL included), so a crash never leaves a stale lock behind. The
empty lock file stays in place; it is not part of the results.

Example:
    >>> import tempfile
    >>> directory = tempfile.mkdtemp()
    >>> with directory_lock(directory, "--out"):
    ...     with directory_lock(directory, "--out"):  # doctest: +ELLIPSIS
    ...         pass  # a second holder is refused
    Traceback (most recent call last):
    ...
    rlnoise.runs.lock.DirectoryInUse: --out ... is in use by another rlnoise process ...
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rlnoise.runs.files import check_writable

__all__ = ["LOCK_FILE", "DirectoryInUse", "directory_lock"]

#: Name of the lock file inside a locked directory.
LOCK_FILE = ".rlnoise.lock"


class DirectoryInUse(RuntimeError):
    """Another process holds the directory's lock."""


@contextmanager
def directory_lock(directory: str | Path, name: str) -> Iterator[Path]:
    """Create ``directory`` if needed, check it is writable, and hold its lock.

    Args:
        directory: The output directory.
        name: How the user named it (``--out``, ``output_dir``), for messages.

    Yields:
        ``directory`` as a :class:`~pathlib.Path`.

    Raises:
        DirectoryInUse: Another process holds the lock (at once, no waiting).
        ValueError: ``directory`` is a file.
        OSError: ``directory`` cannot be created or written.
    """
    from filelock import FileLock, Timeout

    directory = check_writable(directory, name)
    lock = FileLock(directory / LOCK_FILE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise DirectoryInUse(
            f"{name} {directory} is in use by another rlnoise process (lock "
            f"{directory / LOCK_FILE}); wait for it to finish or choose another {name}"
        ) from None
    try:
        yield directory
    finally:
        lock.release()
