"""Units of work on the local backends: results by name, failures by name, Ctrl-C, checks.

The Ray backend runs the same :func:`~rlnoise.runs.units.execute`; its
tests train real runs (``tests/experiments/test_train_ray.py``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import sys
from pathlib import Path

import pytest

from rlnoise.runs.backends import (
    Backend,
    StorageNotShared,
    WorkerMismatch,
    WorkUnit,
    add_backend_arguments,
    backend_from_args,
    run_units,
)
from rlnoise.runs.errors import MissingExtra, WorkFailed
from tests.runs.tasks import return_or_wait_forever, square_or_fail


@pytest.mark.parametrize("workers", [1, 2], ids=["in-process", "two-processes"])
def test_a_failed_unit_is_reported_by_name_and_the_others_finish(workers: int) -> None:
    units = [WorkUnit(f"square {v}", square_or_fail, (v,)) for v in (2, -1, 3)]
    lines: list[str] = []
    with pytest.raises(WorkFailed) as failed:
        run_units(units, Backend(workers=workers), progress=False, log=lines.append)
    assert failed.value.failures == {"square -1": "cannot take a negative value, got -1"}
    assert failed.value.results == {"square 2": 4, "square 3": 9}
    assert str(failed.value) == (
        "square -1 failed: cannot take a negative value, got -1; the other units are kept: "
        "rerun the same command to retry it"
    )
    assert sorted(lines) == [
        "square -1: failed: cannot take a negative value, got -1",
        "square 2: done",
        "square 3: done",
    ]


def test_results_come_back_in_the_order_of_the_units() -> None:
    units = [WorkUnit(f"square {v}", square_or_fail, (v,)) for v in (3, 1, 2)]
    results = run_units(units, Backend(workers=2), progress=False, log=lambda _: None)
    assert list(results.items()) == [("square 3", 9), ("square 1", 1), ("square 2", 4)]


def test_an_interrupt_stops_the_workers_at_once() -> None:
    """Ctrl-C while a worker is busy: the workers are stopped, not waited for."""
    units = [WorkUnit(f"x seed {s}", return_or_wait_forever, (None, s)) for s in (0, 1)]
    before = set(multiprocessing.active_children())  # another test's, in this xdist worker

    def ctrl_c_as_the_first_unit_is_reported(line: str) -> None:
        assert line == "x seed 0: done"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # leaving the pool normally would wait forever
        run_units(
            units, Backend(workers=2), progress=False, log=ctrl_c_as_the_first_unit_is_reported
        )
    assert set(multiprocessing.active_children()) - before == set()  # nothing left writing


def test_a_worker_that_cannot_see_the_output_directory_fails_naming_it(tmp_path: Path) -> None:
    missing = str(tmp_path / "elsewhere" / "experiment.yaml")
    units = [WorkUnit("ppo seed 0", square_or_fail, (1,), needs=(missing,))]
    with pytest.raises(WorkFailed, match=r"^ppo seed 0 failed: worker \S+ cannot see ") as failed:
        run_units(units, Backend(), progress=False)
    assert missing in str(failed.value) and "storage every node shares" in str(failed.value)
    assert issubclass(StorageNotShared, OSError)  # one line and exit 2 from the CLI


def test_a_worker_with_other_versions_refuses_the_unit() -> None:
    from rlnoise.runs.units import execute, fingerprint

    here = fingerprint()
    assert {"python", "rlnoise", "torch", "stable-baselines3"} <= set(here)
    driver = {**here, "rlnoise": "0.0.0-other", "torch": "0.1"}
    expected = (
        f"runs rlnoise {here['rlnoise']}, torch {here['torch']}; the driver rlnoise 0.0.0-other, "
        "torch 0.1: install the same versions on every node"
    )
    with pytest.raises(WorkerMismatch, match=re.escape(expected)):
        execute(square_or_fail, (1,), (), driver)
    assert execute(square_or_fail, (3,), (), fingerprint()) == 9


def test_no_units_start_nothing() -> None:
    assert run_units([], Backend(workers=2), progress=False) == {}


def test_unit_names_must_be_unique() -> None:
    units = [WorkUnit("same", square_or_fail, (1,)), WorkUnit("same", square_or_fail, (2,))]
    with pytest.raises(ValueError, match="unique names"):
        run_units(units, Backend(), progress=False)


def _flags(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    add_backend_arguments(parser, per="run")
    return parser.parse_args(list(argv))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--workers", "0"], "--workers must be an integer >= 1, got 0"),
        (["--address", "auto"], "--address need --backend ray"),
        (["--gpus-per-run", "0.5"], "--gpus-per-run need --backend ray"),
        (["--backend", "ray", "--gpus-per-run", "-1"], "--gpus-per-run must be a number >= 0"),
        (["--backend", "ray", "--cpus-per-run", "0"], "--cpus-per-run must be a number > 0"),
        (
            ["--backend", "ray", "--address", "auto", "--workers", "2"],
            "--workers sets the CPUs of a Ray started here; with --address the cluster's "
            "resources decide (drop --workers)",
        ),
    ],
)
def test_bad_backend_flags_are_named(argv: list[str], message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        backend_from_args(_flags(*argv))


def test_ray_units_reserve_the_threads_of_a_run_unless_told(monkeypatch) -> None:
    import types

    monkeypatch.setitem(sys.modules, "ray", types.ModuleType("ray"))  # installed or not
    assert backend_from_args(_flags("--backend", "ray", "--threads", "4")).cpus_per_unit == 4
    flags = _flags("--backend", "ray", "--threads", "4", "--cpus-per-run", "2")
    assert backend_from_args(flags).cpus_per_unit == 2
    assert backend_from_args(_flags("--threads", "4")) == Backend()  # local: no reservation


def test_the_ray_backend_without_ray_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(MissingExtra) as missing:
        Backend("ray")
    assert str(missing.value) == (
        "Backend('ray') needs Ray, which is not installed: pip install \"rlnoise[ray]\""
    )  # the CLI's message names its flag (tests/test_cli.py)


def test_a_ray_started_for_a_command_is_new_and_local(monkeypatch) -> None:
    """Not a cluster that `ray start` left on the machine, nor RAY_ADDRESS's: --address is."""
    import types

    from rlnoise.runs.ray_tasks import start_ray

    calls: list[dict] = []
    ray = types.SimpleNamespace(is_initialized=lambda: False, init=lambda **kw: calls.append(kw))
    assert start_ray(ray, Backend(workers=3)) is True
    assert calls[-1]["address"] == "local" and calls[-1]["num_cpus"] == 3
    monkeypatch.setitem(sys.modules, "ray", types.ModuleType("ray"))
    assert start_ray(ray, Backend("ray", address="auto")) is True  # a cluster: as given
    assert calls[-1]["address"] == "auto" and "num_cpus" not in calls[-1]
    ray.is_initialized = lambda: True  # a Ray this process started is used as it is
    assert start_ray(ray, Backend()) is False and len(calls) == 2


def test_an_address_where_nothing_answers_fails_at_once(monkeypatch) -> None:
    """Ray itself would retry a dead head for minutes."""
    import socket
    import types

    from rlnoise.runs.ray_tasks import start_ray

    with socket.socket() as probe:  # a port that was free a moment ago, now closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setitem(sys.modules, "ray", types.ModuleType("ray"))
    backend = Backend("ray", address=f"127.0.0.1:{port}", flags={"address": "--address"})
    ray = types.SimpleNamespace(is_initialized=lambda: False, init=lambda **kw: None)
    with pytest.raises(ConnectionError, match=rf"^--address 127\.0\.0\.1:{port}: nothing answers"):
        start_ray(ray, backend)
