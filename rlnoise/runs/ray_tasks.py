"""The Ray side of :mod:`rlnoise.runs.backends`: start or join Ray, run units as tasks.

Ray is looked for when a Ray backend is made (:func:`check_ray`), and imported
and started only when there are units to run. A Ray this process already
initialised (a test's, a notebook's) is used as it is and left running.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

from rlnoise.runs.errors import MissingExtra
from rlnoise.runs.units import WorkUnit, execute, fingerprint

__all__ = ["check_ray", "import_ray", "run_ray", "start_ray"]

#: Seconds the driver waits for stopped Ray tasks to end before it returns (and unlocks).
CANCEL_WAIT = 60.0


def check_ray(feature: str = "--backend ray") -> None:
    """Raise :class:`~rlnoise.runs.errors.MissingExtra` unless Ray is installed.

    Finds Ray without importing it (half a second), so that a command with
    nothing to run never imports Ray at all.
    """
    if "ray" in sys.modules:  # imported already, or blocked (None) as if absent
        found = sys.modules["ray"] is not None
    else:
        found = importlib.util.find_spec("ray") is not None
    if not found:
        raise MissingExtra(feature, "ray")


def import_ray(feature: str = "--backend ray") -> Any:
    """``import ray``, or :class:`~rlnoise.runs.errors.MissingExtra` saying what to install.

    Args:
        feature: What needs Ray, for the message.
    """
    try:
        import ray
    except ImportError:
        raise MissingExtra(feature, "ray") from None
    return ray


def start_ray(ray: Any, backend: Any) -> bool:
    """Connect to or start Ray unless this process already did; returns whether it did.

    Args:
        ray: The ``ray`` module.
        backend: The :class:`~rlnoise.runs.backends.Backend` (its ``address``,
            ``workers`` and ``flags``).

    Raises:
        ConnectionError: ``address`` does not answer or refuses this process's token.
    """
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"logging_level": logging.ERROR}
    if backend.address is not None:
        options["address"] = backend.address
    else:
        # "local": a new Ray for this command, never one that `ray start` left on this
        # machine or RAY_ADDRESS names (that is what --address is for).
        options.update(address="local", include_dashboard=False, num_cpus=backend.workers)
        # A Ray started for one command reports no usage statistics unless the user asks.
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if backend.address is not None:
        _check_answers(backend.address, backend.flags.get("address", "address"))
    try:
        ray.init(**options)
    except ConnectionError as error:  # a cluster that is down, or refuses our token
        flag = backend.flags.get("address", "address")
        raise ConnectionError(
            f"{flag} {backend.address}: {error}; is the cluster up, and does this process hold "
            "its token (RAY_AUTH_MODE=token, and RAY_AUTH_TOKEN or ~/.ray/auth_token)?"
        ) from None
    return True


def _check_answers(address: str, flag: str) -> None:
    """Fail at once when nothing listens at ``HOST:PORT`` (Ray would retry for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or "://" in address:
        return  # "auto", or a scheme Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except OSError as error:
        raise ConnectionError(
            f"{flag} {address}: nothing answers there ({error.strerror or error}); start the "
            "cluster's head (ray start --head) or check the address"
        ) from None


def run_ray(
    units: Sequence[WorkUnit],
    backend: Any,
    finished: Callable[[WorkUnit, Any], None],
    failed: Callable[[WorkUnit, BaseException], None],
) -> None:
    """Run every unit as a Ray task; report each as it ends (see ``run_units``).

    Each task reserves the backend's ``cpus_per_unit`` and ``gpus_per_unit``
    and is run again up to ``max_retries`` times when its worker dies (an error
    the unit raises is not retried: it would only repeat). On any exception
    (Ctrl-C) the tasks left are cancelled, their workers killed, before it
    propagates.
    """
    ray = import_ray()
    started = start_ray(ray, backend)
    pending: list[Any] = []
    try:
        driver = fingerprint()
        task = ray.remote(execute)
        refs = {}
        for work in units:
            options = task.options(
                name=work.name,
                num_cpus=backend.cpus_per_unit,
                num_gpus=backend.gpus_per_unit,
                max_retries=backend.max_retries,
                retry_exceptions=False,  # an error of the unit itself would only repeat
            )
            refs[options.remote(work.function, work.args, work.needs, driver)] = work
        pending = list(refs)
        while pending:
            # A timeout keeps the driver responsive to Ctrl-C between waits.
            done, pending = ray.wait(pending, num_returns=1, timeout=1.0)
            for ref in done:
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayTaskError as error:  # the unit raised
                    failed(refs[ref], getattr(error, "cause", None) or error)
                except ray.exceptions.RayError as error:  # its worker died, retries spent
                    failed(refs[ref], error)
                else:
                    finished(refs[ref], result)
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)  # kills the worker: nothing writes after we return
        if pending:
            ray.wait(pending, num_returns=len(pending), timeout=CANCEL_WAIT)
        raise
    finally:
        if started:
            ray.shutdown()
