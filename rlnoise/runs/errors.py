"""How a command ends: one line on stderr and an exit status, never a traceback.

The console scripts (``rlnoise train / evaluate / demo`` and
``scripts/evaluate.py``) run their handler through :func:`run_command`:

- a mistake the user can fix (``ValueError``, a refused or busy directory, a
  missing optional extra), an ``OSError`` (disk full, read-only directory,
  missing file) and units of work that failed (:class:`WorkFailed`, each
  failure already reported by name) print ``PROG: error: MESSAGE`` and exit 2;
- Ctrl-C prints ``PROG: interrupted; rerun the same command to resume: N of M
  cells kept`` (or training runs finished) and exits 130, the shell's code for SIGINT.

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

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "Interrupted",
    "MissingExtra",
    "WorkFailed",
    "describe_error",
    "run_command",
]

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


class MissingExtra(ImportError):
    """An optional integration is not installed; the message says what to install.

    Example:
        >>> str(MissingExtra("--backend ray", "ray"))
        '--backend ray needs Ray, which is not installed: pip install "rlnoise[ray]"'
    """

    def __init__(self, feature: str, extra: str, package: str = "Ray"):
        super().__init__(
            f'{feature} needs {package}, which is not installed: pip install "rlnoise[{extra}]"'
        )


class WorkFailed(RuntimeError):
    """Some units of work failed; the others finished and are kept.

    Each failure was reported by name as it happened; this error sums them up
    in one line (with the reason, when one unit failed).

    Args:
        failures: ``{unit name: why it failed}``.
        results: ``{unit name: result}`` of the units that finished.
        total: Units the run had.
        unit: How the units read in the message (``"runs"``, ``"cells"``).

    Example:
        >>> str(WorkFailed({"ppo seed 1": "disk full"}, {}, 1, "runs"))
        'ppo seed 1 failed: disk full'
        >>> str(WorkFailed({"a": "x", "b": "y"}, {"c": 0}, 3, "runs"))
        '2 of 3 runs failed (a, b; reasons above); rerun the same command to retry them'
    """

    def __init__(self, failures: dict[str, str], results: dict[str, object], total: int, unit: str):
        self.failures, self.results, self.total, self.unit = failures, results, total, unit
        if len(failures) == 1:
            ((name, reason),) = failures.items()
            message = f"{name} failed: {reason}"
            if total > 1:
                message += f"; the other {unit} are kept: rerun the same command to retry it"
        else:
            message = (
                f"{len(failures)} of {total} {unit} failed ({', '.join(failures)}; reasons "
                "above); rerun the same command to retry them"
            )
        super().__init__(message)


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
    except (ValueError, OSError, DirectoryInUse, MissingExtra, WorkFailed) as error:
        if debug:
            raise
        print(f"{prog}: error: {describe_error(error)}", file=sys.stderr)
        return EXIT_ERROR
