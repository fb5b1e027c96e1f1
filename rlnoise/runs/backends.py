"""Run units of work here, in local processes or as Ray tasks: one progress bar, failures by name.

A *unit of work* is a module-level function and its arguments that writes its
own result files: one training run (a config and a seed), one evaluation cell
(a run and a chunk of conditions). :func:`run_units` runs a list of them on a
:class:`Backend`, always with the same function and the same arguments, so
every backend writes the same files:

- ``Backend()``: one unit after another, in this process;
- ``Backend(workers=N)``: ``N`` spawned processes (a
  :class:`concurrent.futures.ProcessPoolExecutor`);
- ``Backend("ray", ...)``: Ray tasks, on a Ray started here or on a running
  cluster (``address``), placed by the CPUs and GPUs each unit asks for; Ray
  runs a unit again when its worker died (``max_retries``: a killed process,
  a lost node). No scheduler of rlnoise's own: Ray places and retries.

The driver (the process that calls :func:`run_units`) shows one progress bar
for all units and reports each failure by name as it happens; the other units
go on, and once all have ended :class:`~rlnoise.runs.errors.WorkFailed` sums
up what failed (the finished units are kept: a rerun retries only the rest).
Ctrl-C stops every worker before it returns, so a driver that holds a
directory lock (:mod:`~rlnoise.runs.lock`) never releases it while a worker
still writes there: workers write on the driver's behalf, under its lock.

On the worker, before the function runs, a unit checks that it sees every path
it ``needs`` (a worker on another machine that cannot see the output directory
fails with a message naming it, instead of writing somewhere nobody reads) and
that it runs the driver's rlnoise and Python versions.

Ray is looked for when a Ray backend is made (a missing Ray is one line saying
what to install), and imported and started only when there is a unit to run
(``ray.init`` here, or a connection to ``address``).

Example:
    >>> units = [WorkUnit(f"square {i}", pow, (i, 2)) for i in range(3)]
    >>> run_units(units, Backend(), progress=False, log=print)
    square 0: done
    square 1: done
    square 2: done
    {'square 0': 0, 'square 1': 1, 'square 2': 4}
"""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from rlnoise.runs.errors import WorkFailed, describe_error
from rlnoise.runs.progress import Progress
from rlnoise.runs.ray_tasks import check_ray, import_ray, run_ray
from rlnoise.runs.units import StorageNotShared, WorkerMismatch, WorkUnit, execute, fingerprint

__all__ = [
    "BACKENDS",
    "Backend",
    "StorageNotShared",
    "WorkUnit",
    "WorkerMismatch",
    "add_backend_arguments",
    "backend_from_args",
    "import_ray",
    "run_units",
]

#: The backends a ``--backend`` flag takes.
BACKENDS = ("local", "ray")


def _positive(name: str, value: Any, *, low: float, strict: bool, integral: bool) -> None:
    ok_type = isinstance(value, int if integral else int | float) and not isinstance(value, bool)
    ok = ok_type and math.isfinite(value) and (value > low if strict else value >= low)
    if not ok:
        relation = ">" if strict else ">="
        kind = "an integer" if integral else "a number"
        raise ValueError(f"{name} must be {kind} {relation} {low:g}, got {value!r}")


@dataclass(frozen=True)
class Backend:
    """Where units of work run (see the module docstring).

    Args:
        kind: ``"local"`` or ``"ray"``.
        workers: Local: processes (``None`` or 1: in this process). Ray: CPUs
            of a Ray started here (``None``: every core); not with ``address``,
            where the cluster's resources decide.
        address: Ray only: a running cluster (``"auto"``, ``"HOST:PORT"``);
            ``None`` starts a Ray for this run (unless one is already
            initialised in this process, which is used as it is).
        cpus_per_unit: Ray only: CPUs each unit reserves.
        gpus_per_unit: Ray only: GPUs each unit reserves; a fraction shares a GPU.
        max_retries: Ray only: times a unit whose worker died is run again.
        flags: How the CLI spells each field, for error messages.

    Raises:
        ValueError: A bad value, or a Ray option without ``kind="ray"``.
        MissingExtra: ``kind="ray"`` and Ray is not installed.
    """

    kind: str = "local"
    workers: int | None = None
    address: str | None = None
    cpus_per_unit: float = 1.0
    gpus_per_unit: float = 0.0
    max_retries: int = 3
    flags: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        def name(field_name: str) -> str:
            return self.flags.get(field_name, field_name)

        if self.kind not in BACKENDS:
            raise ValueError(f"{name('kind')} must be one of {list(BACKENDS)}, got {self.kind!r}")
        if self.workers is not None:
            _positive(name("workers"), self.workers, low=1, strict=False, integral=True)
        _positive(name("cpus_per_unit"), self.cpus_per_unit, low=0, strict=True, integral=False)
        _positive(name("gpus_per_unit"), self.gpus_per_unit, low=0, strict=False, integral=False)
        _positive(name("max_retries"), self.max_retries, low=0, strict=False, integral=True)
        if self.kind == "local":
            ray_only = [
                name(f)
                for f, default in (("address", None), ("cpus_per_unit", 1.0), ("gpus_per_unit", 0))
                if getattr(self, f) != default
            ]
            if ray_only:
                raise ValueError(f"{', '.join(ray_only)} need {name('kind')} ray")
            return
        if self.address is not None and self.workers is not None:
            raise ValueError(
                f"{name('workers')} sets the CPUs of a Ray started here; with "
                f"{name('address')} the cluster's resources decide (drop {name('workers')})"
            )
        if self.address is not None and (not isinstance(self.address, str) or not self.address):
            raise ValueError(f"{name('address')} must be 'auto' or HOST:PORT, got {self.address!r}")
        check_ray(f"{self.flags['kind']} ray" if "kind" in self.flags else "Backend('ray')")

    @property
    def in_process(self) -> bool:
        """Units run one after another in this process."""
        return self.kind == "local" and (self.workers or 1) == 1


def add_backend_arguments(parser: argparse.ArgumentParser, per: str = "run") -> None:
    """Add ``--backend --workers --address --cpus-per-PER --gpus-per-PER`` to a command.

    Args:
        parser: The command's parser.
        per: What one unit of work is called on the command line (``run``, ``cell``).
    """
    group = parser.add_argument_group("where the work runs")
    group.add_argument(
        "--backend",
        choices=BACKENDS,
        default="local",
        help='local: this machine (default); ray: Ray tasks (pip install "rlnoise[ray]")',
    )
    group.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="local: N processes (default 1: in this process); ray: the CPUs of a Ray "
        "started for this command (default: every core)",
    )
    group.add_argument(
        "--address",
        default=None,
        metavar="auto|HOST:PORT",
        help="ray: connect to a running Ray cluster instead of starting one",
    )
    group.add_argument(
        f"--cpus-per-{per}",
        type=float,
        default=None,
        metavar="N",
        help=f"ray: CPUs each {per} reserves (default: --threads, else 1)",
    )
    group.add_argument(
        f"--gpus-per-{per}",
        type=float,
        default=0.0,
        metavar="F",
        help=f"ray: GPUs each {per} reserves; a fraction shares one GPU (default 0)",
    )


def backend_from_args(args: argparse.Namespace, per: str = "run") -> Backend:
    """The :class:`Backend` the flags of :func:`add_backend_arguments` ask for.

    Errors name the flags. With Ray, a unit reserves ``--threads`` CPUs unless
    ``--cpus-per-PER`` says otherwise.

    Raises:
        ValueError: A bad flag value or combination.
        MissingExtra: ``--backend ray`` without Ray installed.
    """
    options = {"kind": args.backend, "workers": args.workers, "address": args.address}
    cpus = getattr(args, f"cpus_per_{per}")
    if cpus is None and args.backend == "ray":
        cpus = getattr(args, "threads", 1)
    if cpus is not None:
        options["cpus_per_unit"] = cpus
    gpus = getattr(args, f"gpus_per_{per}")
    if gpus:
        options["gpus_per_unit"] = gpus
    flags = {
        "kind": "--backend",
        "workers": "--workers",
        "address": "--address",
        "cpus_per_unit": f"--cpus-per-{per}",
        "gpus_per_unit": f"--gpus-per-{per}",
    }
    return Backend(**options, flags=flags)


def run_units(
    units: Sequence[WorkUnit],
    backend: Backend,
    *,
    desc: str = "working",
    unit: str = "units",
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    describe: Callable[[Any], str] = lambda result: "done",
) -> dict[str, Any]:
    """Run every unit on ``backend``; returns ``{name: result}`` in the units' order.

    An empty list returns at once (Ray is not started).

    Args:
        units: The units, with unique names.
        backend: Where they run.
        desc: Label of the progress bar (``"training"``).
        unit: What the units are, plural (``"runs"``), for the bar and messages.
        progress: Show the bar (on stderr: a live bar on a terminal, plain
            lines in a log).
        log: Receives one line per unit that ends (``"NAME: describe(result)"``
            or ``"NAME: failed: why"``); ``None``: printed on stdout.
        describe: How a result reads in its line.

    Raises:
        WorkFailed: After every unit ended, when some failed (each one was
            reported in its line); ``.results`` holds the others'.
        KeyboardInterrupt: Ctrl-C; every worker is stopped before it propagates.
    """
    names = [u.name for u in units]
    if len(set(names)) != len(names):
        raise ValueError(f"units of work need unique names, got {names}")
    results: dict[str, Any] = {}
    failures: dict[str, str] = {}
    with Progress(len(units), desc=desc, unit=unit, enabled=progress) as bar:

        def say(line: str, file: Any = None) -> None:
            if log is None:
                bar.write(line, file=file)
            else:
                log(line)

        def finished(work: WorkUnit, result: Any) -> None:
            results[work.name] = result
            say(f"{work.name}: {describe(result)}")
            bar.update()

        def failed(work: WorkUnit, error: BaseException) -> None:
            reason = describe_error(error)
            if not isinstance(error, ValueError | OSError) or not reason:
                reason = f"{type(error).__name__}: {reason}".rstrip(": ")
            failures[work.name] = reason
            if len(units) > 1:  # a lone unit's failure is the error's own message
                say(f"{work.name}: failed: {reason}", file=sys.stderr)
            bar.update()

        if units:
            run = run_ray if backend.kind == "ray" else _run_local
            run(units, backend, finished, failed)
    if failures:
        raise WorkFailed(failures, results, len(units), unit)
    return {name: results[name] for name in names}


Report = Callable[[WorkUnit, Any], None]


def _run_local(
    units: Sequence[WorkUnit], backend: Backend, finished: Report, failed: Report
) -> None:
    driver = fingerprint()
    if backend.in_process:
        for work in units:
            try:
                result = execute(work.function, work.args, work.needs, driver)
            except Exception as error:
                failed(work, error)
            else:
                finished(work, result)
        return
    workers = min(backend.workers or 1, len(units))
    context = multiprocessing.get_context("spawn")  # forking a process with torch loaded can hang
    before = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    try:
        with _children_ignore_interrupts():  # the pool starts its workers on submit
            futures: dict[Future[Any], WorkUnit] = {
                pool.submit(execute, w.function, w.args, w.needs, driver): w for w in units
            }
        order = {future: i for i, future in enumerate(futures)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=order.__getitem__):
                problem = future.exception()
                if problem is None:
                    finished(futures[future], future.result())
                else:
                    failed(futures[future], problem)
    except BaseException:
        # Leaving the executor normally would wait for every queued unit; a worker left
        # running would write into a directory whose lock is about to be released. The
        # workers are killed first; the pool's own thread then sees them gone, reaps them
        # and ends, and joining it here (not each worker, which would race that thread
        # for the exit status) leaves no worker behind.
        for child in set(multiprocessing.active_children()) - before:
            child.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()


@contextlib.contextmanager
def _children_ignore_interrupts() -> Iterator[None]:
    """Processes started in this block ignore SIGINT from their first instruction.

    Ctrl-C reaches every process of the terminal's group; the driver alone handles
    it (it stops the workers), so workers must not print tracebacks of their own.
    An ignored SIGINT is inherited across exec and Python then keeps ignoring it,
    which closes the window before a worker could install a handler itself.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may change signal handlers (and receives SIGINT)
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
