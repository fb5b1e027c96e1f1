"""How a command ends: one line on stderr and an exit status, never a traceback.

The console scripts (``rlnoise train / evaluate / demo`` and
``scripts/evaluate.py``) run their handler through :func:`run_command`:

- a mistake the user can fix (``ValueError``, a refused or busy directory)
  and an ``OSError`` (disk full, read-only directory, missing file) print
  ``PROG: error: MESSAGE`` and exit 2;
- Ctrl-C prints ``PROG: interrupted; rerun the same command to resume: N of M
  cells kept`` (or seeds finished) and exits 130, the shell's code for SIGINT.

``--debug`` re-raises instead, with the full traceback.

Example:
    >>> def handler() -> int:
    ...     raise OSError(28, "cannot write out/report.json: No space left on device")
    >>> run_command("rlnoise evaluate", handler, debug=False)  # and one line on stderr
    2
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from rlnoise.runs.lock import DirectoryInUse

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "Interrupted", "describe_error", "run_command"]

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a resumable run, with what was kept for the next run.

    Still a ``KeyboardInterrupt`` (code that catches that keeps working); the
    message says how far the run got.

    Args:
        kept: Units of work saved (finished cells, finished seeds).
        total: Units of work the run had.
        what: How the units read after the count (``"cells kept"``).

    Example:
        >>> str(Interrupted(3, 8, "cells kept"))
        '3 of 8 cells kept'
    """

    def __init__(self, kept: int, total: int, what: str):
        super().__init__(kept, total, what)
        self.kept, self.total, self.what = kept, total, what

    def __str__(self) -> str:
        return f"{self.kept} of {self.total} {self.what}"


def describe_error(error: BaseException) -> str:
    """One line for an error a user can act on.

    ``OSError`` raised by the system reads ``[Errno 28] No space left on
    device: 'path'``; it becomes ``path: No space left on device``.

    Example:
        >>> describe_error(PermissionError(13, "Permission denied", "/ro/out"))
        '/ro/out: Permission denied'
    """
    if isinstance(error, OSError) and error.strerror:
        if error.filename is not None:
            return f"{error.filename}: {error.strerror}"
        return error.strerror
    return str(error).replace("\n", " ")


def run_command(prog: str, handler: Callable[[], int], *, debug: bool) -> int:
    """Run a command's handler; errors and Ctrl-C become one line and an exit status.

    Args:
        prog: How messages start (``"rlnoise evaluate"``).
        handler: The command; returns its exit status.
        debug: Re-raise instead (full traceback).
    """
    try:
        return handler()
    except KeyboardInterrupt as interrupt:
        if debug:
            raise
        detail = f": {interrupt}" if isinstance(interrupt, Interrupted) else ""
        print(f"{prog}: interrupted; rerun the same command to resume{detail}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, OSError, DirectoryInUse) as error:
        if debug:
            raise
        print(f"{prog}: error: {describe_error(error)}", file=sys.stderr)
        return EXIT_ERROR
